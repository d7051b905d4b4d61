"""The YAML (or JSON) files people write for honestsql: the access policy and the glossary."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from honestsql.errors import InvalidInput


def read(
    source: str | Path | Mapping[str, Any] | None, env: str, what: str
) -> tuple[Any, str] | None:
    """``(data, name)`` from a mapping, a YAML/JSON file, or the file ``$env`` names; ``None``
    when there is none. ``name`` says where the data came from, for error messages."""
    if source is None:
        source = os.environ.get(env) or None
        if source is None:
            return None
    if isinstance(source, Mapping):
        return source, f"the {what}"
    path = Path(source)
    name = f"the {what} file {str(path)!r}"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInput(f"Cannot read {name}: {exc.strerror or exc}.") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{first_up(name)} is not valid YAML: {exc}") from None
    return (data if data is not None else {}), name


def first_up(text: str) -> str:
    """``text`` with its first letter capitalized (and the rest, a path say, untouched)."""
    return text[:1].upper() + text[1:]
