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
eval_app = typer.Typer(help="Score predictions for accuracy and honesty.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")

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
def ask(
    question: Annotated[str, typer.Argument(help="The question, in plain language.")],
    db: DbOption,
    target: Annotated[
        float,
        typer.Option(
            min=0.0, max=0.99, help="Answer only if the estimated P(correct) is above this."
        ),
    ] = 0.75,
    llm: Annotated[
        str | None,
        typer.Option(
            help="Backend: openai (any OpenAI-compatible server) or llama-cpp (embedded)."
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            envvar="HONESTSQL_BASE_URL",
            help="OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1.",
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            envvar="HONESTSQL_MODEL",
            help="Server model name, or a GGUF path / known name for llama-cpp.",
        ),
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="HONESTSQL_API_KEY", help="API key for remote servers.")
    ] = None,
    guided: Annotated[
        str | None, typer.Option(help="Send the SQL grammar to the server: llama.cpp or vllm.")
    ] = None,
    candidates: Annotated[
        int, typer.Option("--candidates", "-n", min=1, max=20, help="Candidate queries.")
    ] = 5,
    evidence: Annotated[
        str, typer.Option(help="A hint about the data (BIRD-style evidence).")
    ] = "",
    timeout: Annotated[float, typer.Option(min=0.01, help="Time limit per query, seconds.")] = 10.0,
    max_rows: Annotated[int, typer.Option(min=0, help="Rows to return at most.")] = 1000,
    redact_values: Annotated[
        bool | None,
        typer.Option(
            "--redact-values/--no-redact-values",
            help="Mask personal-looking sample values in prompts. "
            "Default: on for remote servers, off for local ones.",
        ),
    ] = None,
    no_audit: Annotated[
        bool, typer.Option("--no-audit", help="Do not write the audit log.")
    ] = False,
    sql_only: Annotated[bool, typer.Option("--sql-only", "-q", help="Print only the SQL.")] = False,
    descriptions: DescriptionsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Answer a question with verified, read-only SQL, or abstain and say why."""
    from honestsql import memory
    from honestsql.llm.factory import make_backend
    from honestsql.pipeline import Pipeline, Settings

    if not question.strip():
        raise typer.BadParameter("the question is empty")
    try:
        database = honestsql.connect(db, descriptions=descriptions)
        backend = make_backend(llm, base_url=base_url, model=model, api_key=api_key, guided=guided)
        audit = None if (no_audit or not memory.enabled()) else memory.AuditLog()
        settings = Settings(
            candidates=candidates, timeout=timeout, max_rows=max_rows, redact=redact_values
        )
        with database:
            answer = Pipeline(database, backend, settings, audit).ask(
                question, target=target, evidence=evidence
            )
    except HonestSQLError as exc:
        _fail(exc, as_json)
    answered = answer.decision == "answer"
    if as_json:
        _emit_json(answer.to_dict())
    elif sql_only:
        if answer.sql:
            sys.stdout.write(answer.sql + "\n")
    else:
        _print_answer(answer, target)
    raise typer.Exit(0 if answered else 1)


def _print_answer(answer: Any, target: float) -> None:
    if answer.decision == "answer":
        out.print(Syntax(answer.sql, "sql", word_wrap=True, theme="ansi_dark"))
        table = RichTable(header_style="bold")
        for column in answer.columns:
            table.add_column(escape(column["name"]))
        for row in answer.rows:
            table.add_row(*("NULL" if v is None else escape(str(v)) for v in row))
        out.print(table)
        out.print(
            f"[green]Answered[/] with confidence {answer.confidence:.2f} (target {target:.2f}): "
            f"{escape('; '.join(answer.notes))}."
        )
    else:
        out.print(
            f"[yellow]I don't know[/] (confidence {answer.confidence:.2f}, target {target:.2f})."
        )
        for reason in answer.reasons:
            out.print(f"- {reason['code']}: {escape(reason['message'])}")
            if reason.get("clarifying_question"):
                out.print(f"  {escape(reason['clarifying_question'])}")
    if answer.flagged_values:
        out.print(
            f"[dim]Withheld sample values that read like instructions: {', '.join(answer.flagged_values)}[/]"
        )


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


@bench_app.command("eval")
def bench_eval(
    data: Annotated[
        str | None, typer.Option("--data", envvar="HONESTSQL_DATA", help="Benchmark data root.")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Questions judged in parallel.")] = 1,
    as_json: JsonOption = False,
) -> None:
    """Time scoring every Spider prediction file against the databases' own query time."""
    from honestsql.benchmarks import evaluation as bench

    progress, advance = _progress_bar("scoring prediction files", 17)
    try:
        with progress:
            figures = bench.run(data=data, workers=workers, progress=advance)
    except HonestSQLError as exc:
        _fail(exc, as_json)
    _report("eval", figures, as_json)


DataOption = Annotated[
    str | None,
    typer.Option(
        "--data",
        envvar="HONESTSQL_DATA",
        help="Benchmark data root (holding spider/, bird/, sqleval/, ehrsql/). Default: $HONESTSQL_DATA.",
        show_default=False,
    ),
]


def _default_run_path(benchmark: str, predictions: Path | None, gold: bool) -> Path:
    from honestsql.catalog import cache_dir

    stem = "gold" if gold or predictions is None else predictions.stem
    return cache_dir() / "runs" / f"{benchmark}-{stem}.jsonl"


@eval_app.command("score")
def eval_score(
    benchmark: Annotated[str, typer.Option(help="spider, bird, sqleval or ehrsql.")],
    data: DataOption = None,
    predictions: Annotated[
        Path | None,
        typer.Option(
            help="One SQL per line in dataset order (TAB + db_id allowed; an empty line, "
            "ABSTAIN or null abstains), or a JSON object {question id: SQL}."
        ),
    ] = None,
    confidences: Annotated[
        Path | None, typer.Option(help="One confidence in [0, 1] per line, or JSON by question id.")
    ] = None,
    gold_as_predictions: Annotated[
        bool, typer.Option(help="Score the gold queries themselves (checks the harness and data).")
    ] = False,
    match: Annotated[
        str, typer.Option(help="execution (run both queries) or sql (normalized SQL equality).")
    ] = "execution",
    dialect: Annotated[
        str | None, typer.Option(help="sqleval: postgres (default) or sqlite.")
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="bird: dev or mini; ehrsql: test or valid.")
    ] = None,
    sqleval_url: Annotated[
        str | None, typer.Option(help="PostgreSQL server holding the sqleval_* databases.")
    ] = None,
    run: Annotated[
        Path | None, typer.Option(help="Run file (JSON lines) to write and resume.")
    ] = None,
    fresh: Annotated[bool, typer.Option(help="Start the run file again.")] = False,
    workers: Annotated[
        int, typer.Option(min=1, help="Questions judged in parallel (helps with slow queries).")
    ] = 1,
    timeout: Annotated[float, typer.Option(min=0.01, help="Per-query time limit, seconds.")] = 30.0,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report here.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Score a prediction file: execution accuracy plus coverage, penalized and reliability scores."""
    from honestsql.evaluation import datasets, runs

    if match not in {"execution", "sql"}:
        raise typer.BadParameter("--match must be execution or sql")
    if dialect not in {None, "postgres", "sqlite"}:
        raise typer.BadParameter("--dialect must be postgres or sqlite")
    try:
        dataset = datasets.load(
            benchmark, data, dialect=dialect, split=split, sqleval_url=sqleval_url
        )
        run_path = run or _default_run_path(benchmark, predictions, gold_as_predictions)
        progress, _ = _progress_bar(f"scoring {benchmark}", len(dataset.examples))
        task = progress.task_ids[0]
        with progress:
            result = runs.score(
                dataset,
                predictions,
                run_path=run_path,
                confidences_path=confidences,
                match=match,  # type: ignore[arg-type]
                workers=workers,
                timeout=timeout,
                gold_as_predictions=gold_as_predictions,
                fresh=fresh,
                progress=lambda done, total: progress.update(task, completed=done),
            )
        summary = {**result.summary(), "run": str(run_path)}
        if report is not None:
            from honestsql.evaluation import report as report_mod

            report_mod.write(result, report)
            summary["report"] = str(report)
    except HonestSQLError as exc:
        _fail(exc, as_json)
    if as_json:
        _emit_json({"ok": True, **summary})
        return
    _print_summary(summary)


def _print_summary(summary: dict[str, Any]) -> None:
    def fmt(value: Any) -> str:
        return (
            "–" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))
        )

    table = RichTable(title=f"eval {summary['benchmark']}", show_header=False)
    for key in (
        "n",
        "scored",
        "skipped",
        "ex",
        "coverage",
        "selective_accuracy",
        "error_rate",
        "auroc",
        "ece",
    ):
        table.add_row(key, fmt(summary.get(key)))
    for t, value in summary["penalized"].items():
        table.add_row(f"S({t})", fmt(value))
    for c, value in summary["rs"].items():
        table.add_row(f"RS({c})", fmt(value))
    for reason, count in summary["skipped_reasons"].items():
        table.add_row(f"skipped: {escape(reason)}", str(count))
    table.add_row("run file", escape(summary["run"]))
    out.print(table)


@eval_app.command("run")
def eval_run(
    benchmark: Annotated[str, typer.Option(help="spider, bird, sqleval or ehrsql.")],
    predictions: Annotated[
        Path, typer.Option(help="Write the SQL (or ABSTAIN) per question here.")
    ],
    confidences: Annotated[Path, typer.Option(help="Write the confidence per question here.")],
    data: DataOption = None,
    dialect: Annotated[
        str | None, typer.Option(help="sqleval: postgres (default) or sqlite.")
    ] = None,
    split: Annotated[
        str | None, typer.Option(help="bird: dev or mini; ehrsql: test or valid.")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N questions.")] = None,
    target: Annotated[
        float, typer.Option(min=0.0, max=0.99, help="Answer above this confidence.")
    ] = 0.75,
    llm: Annotated[str | None, typer.Option(help="openai or llama-cpp.")] = None,
    base_url: Annotated[
        str | None, typer.Option(envvar="HONESTSQL_BASE_URL", help="OpenAI-compatible server.")
    ] = None,
    model: Annotated[
        str | None, typer.Option(envvar="HONESTSQL_MODEL", help="Model name or GGUF path.")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="HONESTSQL_API_KEY", help="API key.")
    ] = None,
    candidates: Annotated[
        int, typer.Option("--candidates", "-n", min=1, max=20, help="Candidates per question.")
    ] = 5,
    as_json: JsonOption = False,
) -> None:
    """Answer a benchmark with the pipeline; the two files it writes are what `eval score` reads."""
    from honestsql.evaluation import ask_run, datasets
    from honestsql.llm.factory import make_backend
    from honestsql.pipeline import Settings

    try:
        dataset = datasets.load(benchmark, data, dialect=dialect, split=split)
        backend = make_backend(llm, base_url=base_url, model=model, api_key=api_key)
        total = min(limit or len(dataset.examples), len(dataset.examples))
        progress, _ = _progress_bar(f"answering {benchmark}", total)
        task = progress.task_ids[0]
        with progress:
            counts = ask_run.run(
                dataset,
                backend,
                predictions=predictions,
                confidences=confidences,
                target=target,
                settings=Settings(candidates=candidates),
                limit=limit,
                progress=lambda done, _total: progress.update(task, completed=done),
            )
    except HonestSQLError as exc:
        _fail(exc, as_json)
    summary = {
        "ok": True,
        **counts,
        "predictions": str(predictions),
        "confidences": str(confidences),
    }
    if as_json:
        _emit_json(summary)
    else:
        out.print(", ".join(f"{k}: {v}" for k, v in summary.items() if k != "ok"))


@eval_app.command("compare")
def eval_compare(
    run_a: Annotated[Path, typer.Argument(help="The earlier run file.")],
    run_b: Annotated[Path, typer.Argument(help="The later run file.")],
    limit: Annotated[int, typer.Option(min=0, help="Changes to list in text output.")] = 30,
    as_json: JsonOption = False,
) -> None:
    """Per-question differences between two runs: fixed, broken, newly abstained or answered."""
    from honestsql.evaluation import compare as compare_mod
    from honestsql.evaluation import runs

    try:
        diff = compare_mod.compare(runs.load_run(run_a), runs.load_run(run_b))
    except HonestSQLError as exc:
        _fail(exc, as_json)
    if as_json:
        _emit_json({"ok": True, **diff})
        return
    out.print(
        f"{diff['compared']} questions in both runs: "
        + ", ".join(f"{k} {v}" for k, v in diff["counts"].items())
    )
    table = RichTable(show_lines=False)
    for column in ("change", "#", "question", "before", "after"):
        table.add_column(column)
    for change in diff["changes"][:limit]:
        table.add_row(
            change["kind"],
            str(change["index"]),
            escape(change["question"][:80]),
            change["before"],
            change["after"],
        )
    if diff["changes"]:
        out.print(table)


@eval_app.command("setup")
def eval_setup(
    benchmark: Annotated[str, typer.Argument(help="Only sqleval needs setting up.")] = "sqleval",
    sqleval_url: Annotated[
        str, typer.Option(help="PostgreSQL server to create the sqleval_* databases on.")
    ] = "postgresql://postgres@127.0.0.1:5432/",
    sqlite: Annotated[bool, typer.Option(help="Also build SQLite copies (transpiled).")] = True,
    as_json: JsonOption = False,
) -> None:
    """Load the sql-eval databases (from the defog-data package) into PostgreSQL and SQLite."""
    from honestsql.evaluation import sqleval_setup

    if benchmark != "sqleval":
        raise typer.BadParameter(
            "only sqleval has databases to set up; Spider's come with the data"
        )
    loaded: dict[str, Any] = {}
    try:
        for name in sqleval_setup.DATABASES:
            entry: dict[str, Any] = {
                "postgres_rows": sqleval_setup.load_postgres(name, sqleval_url)
            }
            if sqlite:
                rows, problems = sqleval_setup.load_sqlite(name)
                entry.update(
                    sqlite_rows=rows,
                    sqlite_problems=problems,
                    sqlite_path=sqleval_setup.sqlite_path(name),
                )
            loaded[name] = entry
    except HonestSQLError as exc:
        _fail(exc, as_json)
    if as_json:
        _emit_json({"ok": True, "databases": loaded})
        return
    for name, entry in loaded.items():
        out.print(
            f"{name}: {entry['postgres_rows']} rows into {sqleval_setup.PREFIX}{name}"
            + (f", {entry['sqlite_rows']} rows into {entry['sqlite_path']}" if sqlite else "")
        )


def main() -> None:
    app()
