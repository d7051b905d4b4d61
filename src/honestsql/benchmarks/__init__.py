"""Benchmarks behind ``honestsql bench ...``; their figures are recorded in docs/BENCHMARKS.md."""

from __future__ import annotations

import json
import os
import platform
import socket
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
        elif header is not None and (found := key(record)) is not None:
            records[found] = record
    if header is None or header.get("version") != version:
        raise InvalidInput(f"{path} is not a `honestsql {name}` run file.")
    return header, list(records.values())


def start_run(path: Path, header: dict[str, Any], resumed: bool) -> None:
    """Make ``path`` ready for records to be appended: a new file holding ``header`` unless a
    run is resumed, and a cut-off last line ended so the next record starts on its own line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not resumed:
        path.write_text(json.dumps(header) + "\n", encoding="utf-8")
    elif not path.read_bytes().endswith(b"\n"):
        with path.open("a", encoding="utf-8") as out:
            out.write("\n")


def append_record(path: Path, record: dict[str, Any]) -> None:
    """One record appended to a run file, opened by its name each time: a long run whose file
    is replaced under it (``git stash``, a checkout of the same content) goes on writing to the
    file that is there, not to the replaced one nobody can read any more."""
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record, default=str) + "\n")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
