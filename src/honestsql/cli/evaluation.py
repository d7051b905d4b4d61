"""``honestsql eval ...``: scoring accuracy and honesty."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table as RichTable

from honestsql.cli.apps import eval_app
from honestsql.cli.common import (
    ApiKeyOption,
    BaseUrlOption,
    CandidatesOption,
    DataOption,
    DialectOption,
    JsonOption,
    LlmOption,
    ModelOption,
    SplitOption,
    TargetOption,
    emit_json,
    fail,
    out,
)
from honestsql.errors import HonestSQLError
from honestsql.progress import progress_bar


def _default_run_path(benchmark: str, predictions: Path | None, gold: bool) -> Path:
    from honestsql.cache import cache_dir

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
    dialect: DialectOption = None,
    split: SplitOption = None,
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
        progress, _, reached = progress_bar(f"scoring {benchmark}", len(dataset.examples))
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
                progress=lambda done, _total: reached(done),
            )
        summary = {**result.summary(), "run": str(run_path)}
        if report is not None:
            from honestsql.evaluation import report as report_mod

            report_mod.write(result, report)
            summary["report"] = str(report)
    except HonestSQLError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json({"ok": True, **summary})
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
    dialect: DialectOption = None,
    split: SplitOption = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N questions.")] = None,
    target: TargetOption = 0.75,
    llm: LlmOption = None,
    base_url: BaseUrlOption = None,
    model: ModelOption = None,
    api_key: ApiKeyOption = None,
    candidates: CandidatesOption = 5,
    keep: Annotated[
        Path | None,
        typer.Option(
            help="Also write every candidate of every question, judged against the gold, here "
            "(JSON lines; `bench ask --report-only --run FILE` gives bare, oracle and calibrated "
            "figures from it)."
        ),
    ] = None,
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
        progress, _, reached = progress_bar(f"answering {benchmark}", total)
        with progress:
            counts = ask_run.run(
                dataset,
                backend,
                predictions=predictions,
                confidences=confidences,
                target=target,
                settings=Settings(candidates=candidates),
                limit=limit,
                keep=keep,
                progress=lambda done, _total: reached(done),
            )
    except HonestSQLError as exc:
        fail(exc, as_json)
    summary = {
        "ok": True,
        **counts,
        "predictions": str(predictions),
        "confidences": str(confidences),
        **({"keep": str(keep)} if keep else {}),
    }
    if as_json:
        emit_json(summary)
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
        fail(exc, as_json)
    if as_json:
        emit_json({"ok": True, **diff})
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
        fail(exc, as_json)
    if as_json:
        emit_json({"ok": True, "databases": loaded})
        return
    for name, entry in loaded.items():
        out.print(
            f"{name}: {entry['postgres_rows']} rows into {sqleval_setup.PREFIX}{name}"
            + (f", {entry['sqlite_rows']} rows into {entry['sqlite_path']}" if sqlite else "")
        )
