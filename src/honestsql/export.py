"""Results to take away: a verified query's rows streamed to CSV, JSON or Parquet.

The query is checked as ``honestsql check`` checks it (guard, access policy, schema) and then
run read-only with its rows handed to the file a batch at a time, so a large result never sits
in memory. CSV and JSON need nothing extra; Parquet needs ``pyarrow`` (``honestsql[parquet]``).
"""

from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from honestsql.check import check
from honestsql.db import Database
from honestsql.db.result import json_value
from honestsql.errors import InvalidInput
from honestsql.findings import Finding

FORMATS = ("csv", "json", "parquet")
#: Rows written at most when the caller sets no limit.
DEFAULT_MAX_ROWS = 1_000_000


def format_for(path: Path | None, given: str | None = None) -> str:
    """The format asked for, or the one the file name ends with (CSV for standard output)."""
    if given:
        if given.lower() not in FORMATS:
            raise InvalidInput(f"Unknown export format {given!r}; use one of {', '.join(FORMATS)}.")
        return given.lower()
    if path is None or str(path) == "-":
        return "csv"
    suffix = path.suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    raise InvalidInput(
        f"Cannot tell the format of {str(path)!r} from its name; end it with .csv, .json or "
        ".parquet, or give --format."
    )


class _Writer:
    """Writes batches of rows in one format; ``close`` finishes the file."""

    def __init__(self, out: IO[Any], fmt: str, max_bytes: int | None = None) -> None:
        self.out = out
        self.fmt = fmt
        self.max_bytes = max_bytes
        self.count = 0
        self._csv: Any = None
        self._parquet: Any = None
        self._names: list[str] = []

    def write(self, names: list[str], rows: list[tuple[Any, ...]]) -> None:
        self._write(names, rows)
        if self.max_bytes is not None and self.out.tell() > self.max_bytes:
            raise InvalidInput(
                f"The export passed its cap of {self.max_bytes:,} bytes after {self.count:,} "
                "rows; narrow the query (fewer columns or rows) or export it from the CLI."
            )

    def _write(self, names: list[str], rows: list[tuple[Any, ...]]) -> None:
        if not self._names:
            self._start(names)
        if self.fmt == "csv":
            self._csv.writerows(["" if v is None else json_value(v) for v in row] for row in rows)
        elif self.fmt == "json":
            for row in rows:
                record = {n: json_value(v) for n, v in zip(names, row, strict=True)}
                self.out.write(("[\n" if self.count == 0 else ",\n") + json.dumps(record))
                self.count += 1
            return
        else:
            self._write_parquet(rows)
        self.count += len(rows)

    def _start(self, names: list[str]) -> None:
        self._names = names
        if self.fmt == "csv":
            self._csv = csv.writer(self.out)
            self._csv.writerow(names)

    def _write_parquet(self, rows: list[tuple[Any, ...]]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        columns: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in self._names]
        if self._parquet is None:
            arrays = [_arrow_array(pa, list(values), None) for values in columns]
            schema = pa.schema(
                [pa.field(n, a.type) for n, a in zip(self._names, arrays, strict=True)]
            )
            self._parquet = pq.ParquetWriter(self.out, schema)
        else:
            schema = self._parquet.schema_arrow
            arrays = [
                _arrow_array(pa, list(values), schema.field(i).type)
                for i, values in enumerate(columns)
            ]
        self._parquet.write_table(pa.Table.from_arrays(arrays, schema=schema))

    def close(self, names: list[str]) -> None:
        if not self._names:
            self._start(names)
        if self.fmt == "json":
            self.out.write("[]\n" if self.count == 0 else "\n]\n")
        elif self.fmt == "parquet":
            if self._parquet is None:
                self._write_parquet([])
            self._parquet.close()


def _arrow_array(pa: Any, values: list[Any], kind: Any) -> Any:
    """An Arrow array of database values: the type inferred from the first batch (text for a
    column that is all NULL there), later batches converted to it."""
    if kind is None:
        try:
            array = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            array = pa.array([None if v is None else str(json_value(v)) for v in values])
        return pa.array(values, type=pa.string()) if pa.types.is_null(array.type) else array
    try:
        return pa.array(values, type=kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        if pa.types.is_string(kind):
            return pa.array([None if v is None else str(json_value(v)) for v in values], kind)
        raise InvalidInput(
            "A column changes type within the result, which Parquet cannot hold; "
            "export CSV or JSON, or cast the column in the query."
        ) from None


@dataclass
class Exported:
    """What an export wrote."""

    path: str
    format: str
    rows: int
    truncated: bool
    sql: str
    #: The check's findings when the query did not pass (nothing was written then).
    errors: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "path": self.path,
            "format": self.format,
            "rows": self.rows,
            "truncated": self.truncated,
            "sql": self.sql,
            "errors": [f.to_dict() for f in self.errors],
        }


def export(
    db: Database,
    sql: str,
    path: Path | None,
    *,
    fmt: str | None = None,
    timeout: float = 60.0,
    max_rows: int = DEFAULT_MAX_ROWS,
    max_bytes: int | None = None,
) -> Exported:
    """Check ``sql`` and stream its rows to ``path`` (``None`` or ``-``: standard output).

    The file is written under a temporary name and renamed only when complete, so a failed
    export leaves no half file behind."""
    kind = format_for(path, fmt)
    verdict = check(db, sql, timeout=timeout, max_rows=0, execute=False)
    shown = "-" if path is None or str(path) == "-" else str(path)
    if not verdict.ok:
        return Exported(shown, kind, 0, False, verdict.sql or sql, verdict.errors)
    assert verdict.sql is not None
    if shown == "-":
        if kind == "parquet":
            raise InvalidInput("Parquet is binary: write it to a file with --output FILE.")
        result, writer = _run(db, verdict.sql, sys.stdout, kind, timeout, max_rows)
        return Exported(shown, kind, writer.count, result.truncated, verdict.sql, [])
    assert path is not None
    if kind == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ModuleNotFoundError:
            raise InvalidInput(
                "Parquet needs pyarrow: pip install 'honestsql[parquet]' (or export CSV/JSON)."
            ) from None
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise InvalidInput(
            f"Cannot write {shown}: it exists and is not a regular file (a link, a folder, a "
            "FIFO or a device); choose another name."
        )
    partial: Path | None = None
    try:
        # A new file with a random name, created exclusively (mkstemp: O_CREAT | O_EXCL, mode
        # 0600) in the target's folder: a link planted under a predictable name is never
        # followed, and the rename replaces the target atomically.
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        partial = Path(name)
        out: IO[Any] = (
            os.fdopen(handle, "wb")
            if kind == "parquet"
            else os.fdopen(handle, "w", newline="", encoding="utf-8")
        )
        with out:
            result, writer = _run(db, verdict.sql, out, kind, timeout, max_rows, max_bytes)
        os.replace(partial, path)
        partial = None
    except OSError as exc:
        raise InvalidInput(f"Cannot write {shown}: {exc.strerror or exc}.") from None
    finally:
        if partial is not None:
            partial.unlink(missing_ok=True)
    return Exported(shown, kind, writer.count, result.truncated, verdict.sql, [])


def _run(
    db: Database,
    sql: str,
    out: IO[Any],
    kind: str,
    timeout: float,
    max_rows: int,
    max_bytes: int | None = None,
) -> tuple[Any, _Writer]:
    writer = _Writer(out, kind, max_bytes)
    result = db.execute(sql, timeout=timeout, max_rows=max_rows, sink=writer.write)
    writer.close([c.name for c in result.columns])
    return result, writer
