"""Families of declared column types, and whether a literal fits a column of one."""

from __future__ import annotations

import datetime as dt
import re

from sqlglot import exp

from honestsql.catalog import is_text_type


def type_family(type_text: str) -> str:
    """Coarse family of a declared type, by SQLite's affinity rules extended to dates."""
    upper = type_text.upper()
    if "BOOL" in upper:
        return "boolean"
    if "INTERVAL" in upper:
        return "other"
    if "DATE" in upper or "TIME" in upper:
        return "temporal"
    if "INT" in upper or upper.startswith("SERIAL") or upper == "BIGSERIAL":
        return "number"
    if is_text_type(upper) or "UUID" in upper:
        return "text"
    if any(m in upper for m in ("REAL", "FLOA", "DOUB", "NUMERIC", "DECIMAL", "MONEY", "NUMBER")):
        return "number"
    return "other"


_NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")


def literal_problem(type_text: str, literal: exp.Literal) -> str | None:
    """Why ``literal`` does not fit a column of ``type_text``, or ``None`` when it fits."""
    family = type_family(type_text)
    value = str(literal.this)
    if family == "number" and literal.is_string and not _NUMBER.match(value):
        return "text that is not a number"
    if family == "text" and not literal.is_string:
        return "a number compared with text"
    if family == "temporal":
        if not literal.is_string:
            return "a number compared with a date/time"
        try:
            dt.datetime.fromisoformat(
                value.strip().replace(" ", "T", 1) if len(value) > 10 else value.strip()
            )
        except ValueError:
            if not re.match(r"^\d{4}(-\d{2})?$", value.strip()):
                return "text that is not a date/time"
    return None
