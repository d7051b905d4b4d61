"""What a query brings back: typed columns, JSON-safe rows, the truncation flag, a result key."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from typing_extensions import TypedDict


class ColumnInfo(TypedDict):
    name: str
    #: integer, real, decimal, text, boolean, date, datetime, time, blob, null or other.
    type: str


@dataclass(frozen=True)
class ResultColumn:
    name: str
    #: One of integer, real, decimal, text, boolean, date, datetime, time, blob, null, other:
    #: the type of the values returned (the same words for every database).
    type: str

    def to_dict(self) -> ColumnInfo:
        return {"name": self.name, "type": self.type}


@dataclass
class QueryResult:
    columns: list[ResultColumn]
    rows: list[tuple[Any, ...]]
    truncated: bool
    elapsed_ms: float
    sql: str = ""
    #: How many values were longer than the byte limit per value and were cut.
    values_cut: int = 0

    def json_rows(self) -> list[list[Any]]:
        return [[json_value(v) for v in row] for row in self.rows]

    @property
    def key(self) -> str:
        """The same for results with the same rows, whatever the order of rows or columns: two
        candidates agree when their keys do."""
        return rows_key(self.rows)


def value_key(value: Any) -> str:
    """One value as results are compared: floats and decimals to six places."""
    if isinstance(value, float | decimal.Decimal):
        return repr(round(float(value), 6))
    return repr(value)


def holds_nothing(rows: Sequence[Sequence[Any]]) -> bool:
    """No rows, or only NULLs and numbers that are zero: a count or sum over no rows. A filter
    that matches nothing gives this, so it is weak evidence (``False`` and a text "0" are
    values, not nothing)."""
    return all(
        value is None
        or (
            isinstance(value, int | float | decimal.Decimal)
            and not isinstance(value, bool)
            and value == 0
        )
        for row in rows
        for value in row
    )


def row_key(row: Sequence[Any]) -> str:
    """One row as results are compared: its values in any column order."""
    return "|".join(sorted(value_key(v) for v in row))


def rows_key(rows: Sequence[Sequence[Any]]) -> str:
    """``QueryResult.key`` of these rows."""
    ordered = sorted(map(row_key, rows))
    return hashlib.sha256("\n".join(ordered).encode()).hexdigest()[:12]


def json_value(value: Any) -> Any:
    """A JSON-safe form of a database value (exact decimals stay exact as strings)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return (
            value if value == value and value not in (float("inf"), float("-inf")) else str(value)
        )
    if isinstance(value, decimal.Decimal):
        if value == value.to_integral_value() and abs(value) < 2**53:
            return int(value)
        return float(value) if abs(value) < 1e15 else str(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return "base64:" + base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def _value_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "real"
    if isinstance(value, decimal.Decimal):
        return "decimal"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.time):
        return "time"
    if isinstance(value, bytes | bytearray | memoryview):
        return "blob"
    return "other"


def column_types(rows: list[tuple[Any, ...]], width: int) -> list[str]:
    types = ["null"] * width
    for index in range(width):
        for row in rows:
            if row[index] is not None:
                types[index] = _value_type(row[index])
                break
    return types
