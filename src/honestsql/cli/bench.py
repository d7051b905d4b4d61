"""``honestsql bench ...``: benchmarks whose figures go to docs/BENCHMARKS.md."""

from __future__ import annotations

from typing import Annotated

import typer

from honestsql.cli.apps import bench_app
from honestsql.cli.common import (
    AllowPrivilegedOption,
    CandidatesOption,
    DataOption,
    GrammarOption,
    JsonOption,
    ModelOption,
    SuiteOption,
    fail,
    print_figures,
)
from honestsql.errors import HonestSQLError
from honestsql.progress import progress_bar

SparkUrlOption = Annotated[
    str, typer.Option(help="The Spark Connect server to build on (--target spark).")
]


@bench_app.command("catalog")
def bench_catalog(
    tables: Annotated[int, typer.Option(min=1, help="Tables to create.")] = 2000,
    columns: Annotated[int, typer.Option(min=2, help="Columns per table.")] = 20,
    target: Annotated[
        str,
        typer.Option(
            help="Where to build the schema: sqlite (a temp file), postgres or spark "
            "(a scratch database on --spark-url)."
        ),
    ] = "sqlite",
    admin_url: Annotated[
        str, typer.Option(help="PostgreSQL URL allowed to CREATE/DROP a scratch database.")
    ] = "postgresql://postgres@127.0.0.1:5432/postgres",
    spark_url: SparkUrlOption = "sc://127.0.0.1:15002",
    as_json: JsonOption = False,
) -> None:
    """Time building the catalog of a wide schema (cold) and loading it from the cache (warm)."""
    if target not in {"sqlite", "postgres", "spark"}:
        raise typer.BadParameter("--target must be sqlite, postgres or spark")
    from honestsql.benchmarks import catalog as bench
    from honestsql.benchmarks import spark

    progress, advance, _ = progress_bar(f"creating {tables} tables", tables)
    try:
        with progress:
            if target == "spark":
                figures = spark.catalog(
                    url=spark_url, tables=tables, columns=columns, progress=advance
                )
            else:
                figures = bench.run(
                    tables=tables,
                    columns=columns,
                    target=target,
                    admin_url=admin_url,
                    progress=advance,
                )
    except HonestSQLError as exc:
        fail(exc, as_json)
    print_figures("catalog", figures, as_json)


@bench_app.command("memory")
def bench_memory(
    target: Annotated[
        list[str] | None,
        typer.Option(help="postgres, mysql, sqlite or duckdb; repeat for several (default: all)."),
    ] = None,
    pg_admin: Annotated[
        str, typer.Option(help="PostgreSQL URL allowed to CREATE/DROP a scratch database.")
    ] = "postgresql://postgres@127.0.0.1:5432/postgres",
    mysql_admin: Annotated[
        str, typer.Option(help="MySQL/MariaDB URL allowed to CREATE/DROP a scratch database.")
    ] = "mysql://root@127.0.0.1:3306/",
    timeout: Annotated[float, typer.Option(min=1, help="The query's time limit.")] = 10.0,
    as_json: JsonOption = False,
) -> None:
    """Peak RSS and time of a 10^12-row cross product read with --max-rows 10."""
    from honestsql.benchmarks import memory as bench

    targets = target or ["postgres", "mysql", "sqlite", "duckdb"]
    if unknown := set(targets) - {"postgres", "mysql", "sqlite", "duckdb"}:
        raise typer.BadParameter(f"unknown --target {', '.join(sorted(unknown))}")
    print_figures("memory", bench.run(targets, pg_admin, mysql_admin, timeout), as_json)


@bench_app.command("injection")
def bench_injection(data: DataOption = None, as_json: JsonOption = False) -> None:
    """Recall of injection detection on honestsql's corpus, false positives on benchmark data."""
    from honestsql.benchmarks import injection as bench
    from honestsql.evaluation.datasets import data_root

    try:
        root = data_root(data)
    except HonestSQLError as exc:
        fail(exc, as_json)
    print_figures("injection", bench.run(root), as_json)


@bench_app.command("check")
def bench_check(
    db: Annotated[
        str, typer.Option("--db", help="Only 'demo' (its typical queries are built in).")
    ] = "demo",
    runs: Annotated[int, typer.Option(min=1, help="check() calls to time.")] = 400,
    cli_runs: Annotated[
        int, typer.Option(min=0, help="Whole `honestsql check` processes to time.")
    ] = 10,
    target: Annotated[
        str,
        typer.Option(help="demo (SQLite), or spark: the demo shop in a scratch database there."),
    ] = "demo",
    spark_url: SparkUrlOption = "sc://127.0.0.1:15002",
    rows: Annotated[
        int,
        typer.Option(
            min=0,
            help="With --target spark: also generate a table of this many rows and time a "
            "capped query on it against Spark's own time (0: skip).",
        ),
    ] = 0,
    as_json: JsonOption = False,
) -> None:
    """Median latency of check() (guard + verify + execute) on typical queries."""
    from honestsql.benchmarks import check as bench
    from honestsql.benchmarks import spark

    if target not in {"demo", "spark"}:
        raise typer.BadParameter("--target must be demo or spark")
    progress, advance, _ = progress_bar("checking", runs)
    try:
        with progress:
            if target == "spark":
                figures = spark.check(url=spark_url, runs=runs, rows=rows, progress=advance)
            else:
                figures = bench.run(db_target=db, runs=runs, cli_runs=cli_runs, progress=advance)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    except HonestSQLError as exc:
        fail(exc, as_json)
    print_figures("check", figures, as_json)


@bench_app.command("eval")
def bench_eval(
    data: DataOption = None,
    workers: Annotated[int, typer.Option(min=1, help="Questions judged in parallel.")] = 1,
    as_json: JsonOption = False,
) -> None:
    """Time scoring every Spider prediction file against the databases' own query time."""
    from honestsql.benchmarks import evaluation as bench

    progress, advance, _ = progress_bar("scoring prediction files", 17)
    try:
        with progress:
            figures = bench.run(data=data, workers=workers, progress=advance)
    except HonestSQLError as exc:
        fail(exc, as_json)
    print_figures("eval", figures, as_json)


@bench_app.command("server")
def bench_server(
    db: Annotated[
        str, typer.Option("--db", help="Database to serve (its typical queries are the demo's).")
    ] = "demo",
    concurrency: Annotated[int, typer.Option(min=1, max=200, help="Concurrent clients.")] = 50,
    seconds: Annotated[
        float, typer.Option(min=1, max=300, help="How long to keep the load.")
    ] = 30.0,
    as_json: JsonOption = False,
) -> None:
    """Throughput and latency of /api/check under concurrent load, health latency meanwhile."""
    from honestsql.benchmarks import server as bench

    figures = bench.run(db=db, concurrency=concurrency, seconds=seconds)
    print_figures("server", figures, as_json)


@bench_app.command("speed")
def bench_speed(
    model: ModelOption = None,
    data: DataOption = None,
    suite: SuiteOption = None,
    per_database: Annotated[
        int, typer.Option(min=2, help="Questions per database: the first is asked cold.")
    ] = 3,
    limit: Annotated[
        int | None, typer.Option(min=2, help="About N questions in all (whole databases).")
    ] = None,
    candidates: CandidatesOption = 5,
    grammar: GrammarOption = "full",
    allow_privileged: AllowPrivilegedOption = False,
    as_json: JsonOption = False,
) -> None:
    """Seconds per question with the embedded model: cold (nothing cached), after a restart (the
    schema's state from disk) and warm, each against a plain greedy call with the same prompt."""
    from honestsql.benchmarks import ask, speed
    from honestsql.llm.llama_cpp import LlamaCpp
    from honestsql.pipeline import Settings
    from honestsql.settings import GRAMMARS

    if grammar not in GRAMMARS:
        raise typer.BadParameter(f"--grammar must be one of {', '.join(GRAMMARS)}")
    try:
        suites = ask.load_suites(data, suite or list(ask.SUITES))
        backend = LlamaCpp(model=model)
        name = backend.model_name or "model"
        progress, _, reached = progress_bar(f"{name}: timing", 1)
        with progress:
            measures = speed.run(
                suites,
                backend,
                settings=Settings(candidates=candidates, grammar=grammar),
                per_database=per_database,
                limit=limit,
                allow_privileged=allow_privileged or None,
                progress=lambda done, total: reached(done, total),
            )
        figures = speed.summarize(measures, name, grammar)
    except HonestSQLError as exc:
        fail(exc, as_json)
    print_figures("speed", figures, as_json)
