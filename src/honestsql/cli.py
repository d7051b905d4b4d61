"""The ``honestsql`` command line. Every command has ``--json``; exit codes: 0 ok, 1 rejected or
failed, 2 usage error."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table as RichTable

import honestsql
from honestsql.catalog import Catalog
from honestsql.check import CheckResult
from honestsql.errors import HonestSQLError
from honestsql.findings import Finding

app = typer.Typer(
    name="honestsql",
    help="Verified, read-only SQL over your database; honest when it does not know.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(
    help="Benchmarks whose figures go to docs/BENCHMARKS.md.", no_args_is_help=True
)
app.add_typer(bench_app, name="bench")

out = Console()
err = Console(stderr=True)

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="HONESTSQL_DB",
        help="'demo', a SQLite/DuckDB file path, or a URL (sqlite:///, duckdb:///, "
        "postgresql://, mysql://). Default: $HONESTSQL_DB.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
DescriptionsOption = Annotated[
    Path | None,
    typer.Option(
        "--descriptions",
        help="Human descriptions: a YAML/JSON file or a BIRD database_description folder.",
    ),
]


def _emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")


def _fail(exc: HonestSQLError, as_json: bool) -> NoReturn:
    if as_json:
        _emit_json({"ok": False, "status": exc.status, "errors": [exc.to_dict()]})
    else:
        err.print(f"[bold red]{exc.kind}[/]: {escape(exc.message)}")
    raise typer.Exit(1)


def _read_sql(sql: str | None, file: Path | None) -> str | bytes:
    if sql is not None and file is not None:
        raise typer.BadParameter("give the SQL as an argument or with --file, not both")
    if file is not None:
        try:
            return file.read_bytes()
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {file}: {exc.strerror}") from None
    if sql is None or sql == "-":
        if sql is None and sys.stdin.isatty():
            raise typer.BadParameter(
                "give a SQL query, '-' to read it from standard input, or --file"
            )
        return sys.stdin.buffer.read()
    return sql


def _print_findings(findings: list[Finding], style: str) -> None:
    for finding in findings:
        line = f"[{style}]{finding.kind}[/]: {escape(finding.message)}"
        if finding.suggestions:
            line += f"\n  did you mean: {escape(', '.join(finding.suggestions))}"
        out.print(line)


def _print_check(result: CheckResult) -> None:
    if result.sql:
        out.print(Syntax(result.sql, "sql", word_wrap=True, theme="ansi_dark"))
    _print_findings(result.errors, "bold red")
    _print_findings(result.warnings, "yellow")
    if result.result is not None:
        table = RichTable(show_lines=False, header_style="bold")
        for column in result.result.columns:
            table.add_column(f"{column.name}\n[dim]{column.type}[/]")
        for row in result.result.json_rows():
            table.add_row(*("NULL" if v is None else escape(str(v)) for v in row))
        out.print(table)
        rows = len(result.result.rows)
        more = " (truncated: more rows exist, raise --max-rows)" if result.result.truncated else ""
        out.print(
            f"[dim]{rows} row{'s' if rows != 1 else ''} in {result.elapsed_ms:.1f} ms{more}[/]"
        )
    elif result.status == "ok":
        out.print(f"[green]verified[/] in {result.elapsed_ms:.1f} ms (not executed)")


@app.command()
def check(
    db: DbOption,
    sql: Annotated[
        str | None, typer.Argument(help="The SQL query; '-' (or nothing) reads standard input.")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the SQL from a file.")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.001, help="Wall-clock limit in seconds.")
    ] = 10.0,
    max_rows: Annotated[
        int, typer.Option("--max-rows", min=0, help="Rows to return at most.")
    ] = 1000,
    no_execute: Annotated[
        bool, typer.Option("--no-execute", help="Verify only; do not run the query.")
    ] = False,
    descriptions: DescriptionsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Verify a SQL query against the real schema and, if it passes, run it read-only."""
    text = _read_sql(sql, file)
    try:
        database = honestsql.connect(db, descriptions=descriptions)
        with database:
            result = honestsql.check(
                database, text, timeout=timeout, max_rows=max_rows, execute=not no_execute
            )
    except HonestSQLError as exc:
        _fail(exc, as_json)
    if as_json:
        _emit_json(result.to_dict())
    else:
        _print_check(result)
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def schema(
    db: DbOption,
    descriptions: DescriptionsOption = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Ignore the cache and read again.")
    ] = False,
    no_samples: Annotated[
        bool, typer.Option("--no-samples", help="Do not read sample values.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Print the schema catalog: tables, columns, keys, descriptions, samples, row counts."""
    try:
        database = honestsql.connect(db, descriptions=descriptions, samples=not no_samples)
        with database:
            catalog = database.catalog(refresh=refresh)
    except HonestSQLError as exc:
        _fail(exc, as_json)
    if as_json:
        _emit_json(
            {"ok": True, "database": database.display_url, **catalog.model_dump(mode="json")}
        )
        return
    _print_catalog(database.display_url, catalog)


def _print_catalog(url: str, catalog: Catalog) -> None:
    out.print(
        f"[bold]{escape(url)}[/] ({catalog.dialect}): {len(catalog.tables)} tables, "
        f"{catalog.column_count} columns"
    )
    for table in catalog.tables:
        rows = (
            ""
            if table.row_count is None
            else f", {'~' if table.row_count_estimated else ''}{table.row_count:,} rows"
        )
        kind = "view" if table.is_view else "table"
        title = f"[bold cyan]{escape(table.name)}[/] [dim]({kind}{rows})[/]"
        note = table.description or table.comment
        if note:
            title += f" — {escape(note)}"
        grid = RichTable(title=title, title_justify="left", show_edge=False, header_style="dim")
        grid.add_column("column")
        grid.add_column("type")
        grid.add_column("key")
        grid.add_column("samples / description")
        fk_of = {
            c: f"→ {fk.ref_table}.{r}"
            for fk in table.foreign_keys
            for c, r in zip(fk.columns, fk.ref_columns, strict=False)
        }
        for column in table.columns:
            key = " ".join(
                k for k in ("PK" if column.primary_key else "", fk_of.get(column.name, "")) if k
            )
            info = column.description or column.comment or ""
            if column.samples:
                samples = ", ".join(repr(s) for s in column.samples)
                info = (
                    f"{info} [dim]e.g. {escape(samples)}[/]"
                    if info
                    else f"[dim]e.g. {escape(samples)}[/]"
                )
            grid.add_row(escape(column.name), escape(column.type), escape(key), info)
        out.print(grid)


@app.command()
def demo(as_json: JsonOption = False) -> None:
    """Build the bundled demo database (a small shop) and print where it is."""
    path = honestsql.demo.ensure()
    if as_json:
        _emit_json(
            {"ok": True, "path": str(path), "descriptions": str(honestsql.demo.descriptions_path())}
        )
    else:
        out.print(f"Demo database: {path}\nTry: honestsql schema --db demo")


@app.command()
def version(as_json: JsonOption = False) -> None:
    """Print the honestsql version."""
    if as_json:
        _emit_json({"version": honestsql.__version__})
    else:
        out.print(f"honestsql {honestsql.__version__}")


def _progress_bar(description: str, total: int) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    task = progress.add_task(description, total=total)
    return progress, (lambda n: progress.advance(task, n))


def _report(name: str, figures: dict[str, Any], as_json: bool) -> None:
    from datetime import date

    from honestsql.benchmarks import machine

    data = {"benchmark": name, "date": date.today().isoformat(), "machine": machine(), **figures}
    if as_json:
        _emit_json(data)
        return
    table = RichTable(title=f"bench {name}", show_header=False)
    for key, value in data.items():
        table.add_row(key, escape(str(value)))
    out.print(table)


@bench_app.command("catalog")
def bench_catalog(
    tables: Annotated[int, typer.Option(min=1, help="Tables to create.")] = 2000,
    columns: Annotated[int, typer.Option(min=2, help="Columns per table.")] = 20,
    target: Annotated[
        str, typer.Option(help="Where to build the schema: sqlite (a temp file) or postgres.")
    ] = "sqlite",
    admin_url: Annotated[
        str, typer.Option(help="PostgreSQL URL allowed to CREATE/DROP a scratch database.")
    ] = "postgresql://postgres@127.0.0.1:5432/postgres",
    as_json: JsonOption = False,
) -> None:
    """Time building the catalog of a wide schema (cold) and loading it from the cache (warm)."""
    if target not in {"sqlite", "postgres"}:
        raise typer.BadParameter("--target must be sqlite or postgres")
    from honestsql.benchmarks import catalog as bench

    progress, advance = _progress_bar(f"creating {tables} tables", tables)
    try:
        with progress:
            figures = bench.run(
                tables=tables, columns=columns, target=target, admin_url=admin_url, progress=advance
            )
    except HonestSQLError as exc:
        _fail(exc, as_json)
    _report("catalog", figures, as_json)


@bench_app.command("check")
def bench_check(
    db: Annotated[
        str, typer.Option("--db", help="Only 'demo' (its typical queries are built in).")
    ] = "demo",
    runs: Annotated[int, typer.Option(min=1, help="check() calls to time.")] = 400,
    cli_runs: Annotated[
        int, typer.Option(min=0, help="Whole `honestsql check` processes to time.")
    ] = 10,
    as_json: JsonOption = False,
) -> None:
    """Median latency of check() (guard + verify + execute) on typical queries."""
    from honestsql.benchmarks import check as bench

    progress, advance = _progress_bar("checking", runs)
    try:
        with progress:
            figures = bench.run(db_target=db, runs=runs, cli_runs=cli_runs, progress=advance)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    except HonestSQLError as exc:
        _fail(exc, as_json)
    _report("check", figures, as_json)


def main() -> None:
    app()
