"""Results to take away from ``check`` and ``ask``: ``--csv``, ``--output FILE``, ``--format``."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from honestsql.cli.common import emit_json, out
from honestsql.db import Database
from honestsql.export import DEFAULT_MAX_ROWS, Exported, export

OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Write the whole result to FILE (.csv, .json or .parquet), streamed from the "
        f"database: up to {DEFAULT_MAX_ROWS:,} rows unless --max-rows says otherwise.",
    ),
]
FormatOption = Annotated[
    str | None, typer.Option("--format", help="csv, json or parquet (default: from the file name).")
]
CsvOption = Annotated[bool, typer.Option("--csv", help="Print the rows as CSV, nothing else.")]


def write(
    database: Database,
    sql: str,
    path: Path | None,
    fmt: str | None,
    *,
    timeout: float,
    max_rows: int | None,
    as_json: bool,
) -> Exported:
    """Stream ``sql``'s rows to ``path`` (standard output for ``None``) and report it on standard
    error (or as JSON when the rows went to a file)."""
    done = export(
        database,
        sql,
        path,
        fmt=fmt,
        timeout=timeout,
        max_rows=DEFAULT_MAX_ROWS if max_rows is None else max_rows,
    )
    if path is None:
        if not done.ok:
            for finding in done.errors:
                sys.stderr.write(f"{finding.kind}: {finding.message}\n")
        return done
    if as_json:
        emit_json(done.to_dict())
    elif done.ok:
        more = " (truncated: more rows exist, raise --max-rows)" if done.truncated else ""
        out.print(f"Wrote {done.rows:,} rows to {escape(done.path)} ({done.format}){more}.")
    else:
        for finding in done.errors:
            out.print(f"[bold red]{finding.kind}[/]: {escape(finding.message)}")
    return done


def print_csv(columns: list[Any], rows: list[list[Any]]) -> None:
    writer = csv.writer(sys.stdout)
    writer.writerow([c["name"] for c in columns])
    writer.writerows(["" if v is None else v for v in row] for row in rows)
