"""Benchmarks behind ``honestsql bench ...``; their figures are recorded in docs/BENCHMARKS.md."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from honestsql.errors import InvalidInput


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": platform.system(),
    }


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[max(0, min(98, round(q) - 1))]


def read_run(
    path: Path, *, kind: str, version: int, key: Callable[[dict[str, Any]], Any | None], name: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header (the line whose ``kind`` is ``kind``) and the records of a run file of JSON
    lines, the last record of each ``key`` kept (``None``: not a record); a cut-off last line
    is ignored."""
    if not path.is_file():
        raise InvalidInput(f"The run file {str(path)!r} does not exist.")
    header: dict[str, Any] | None = None
    records: dict[Any, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("kind") == kind:
            header = record
        elif header is not None and key(record) is not None:
            records[key(record)] = record
    if header is None or header.get("version") != version:
        raise InvalidInput(f"{path} is not a `honestsql {name}` run file.")
    return header, list(records.values())
