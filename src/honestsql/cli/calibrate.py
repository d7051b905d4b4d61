"""``honestsql calibrate fit``, ``honestsql bench what-if`` and ``honestsql bench abstention``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from honestsql.cli.apps import bench_app, calibrate_app
from honestsql.cli.common import (
    AllowPrivilegedOption,
    DataOption,
    JsonOption,
    SuiteOption,
    TargetOption,
    emit_json,
    fail,
    out,
    print_figures,
    print_rows,
)
from honestsql.errors import HonestSQLError, InvalidInput
from honestsql.progress import progress_bar


@calibrate_app.command("fit")
def calibrate_fit(
    runs: Annotated[
        list[str],
        typer.Argument(
            metavar="RUN",
            help="Run files of `bench ask` (one model's own candidates: a logistic calibrator "
            "for that model; PATH:SUITE,SUITE reads only those suites of a run), or of `eval "
            "score` (one per system, same benchmark: an isotonic calibrator of their agreement).",
        ),
    ],
    out_path: Annotated[
        Path, typer.Option("--out", help="Where to write the calibration JSON.")
    ] = Path("calibration.json"),
    feature: Annotated[str, typer.Option(help="The feature to calibrate on.")] = "margin",
    pool: Annotated[
        bool,
        typer.Option(
            help="`bench ask` runs: fit on every record of every run (a question asked in two "
            "runs counts twice), not on the last record of each question (one run written in "
            "several files)."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Fit the confidence calibrator from runs; use it with HONESTSQL_CALIBRATION=FILE."""
    from honestsql import calibration, fitting
    from honestsql.benchmarks import ask as bench
    from honestsql.benchmarks import ask_fit

    try:
        ask_runs = bool(runs) and all(bench.is_run(ask_fit.parse_source(t)[0]) for t in runs)
    except HonestSQLError as exc:
        fail(exc, as_json)
    if ask_runs:
        _fit_from_bench_runs(runs, out_path, as_json, pool)
        return
    if pool:
        raise typer.BadParameter("--pool goes with `bench ask` run files.")
    from honestsql.evaluation.metrics import auroc, ece
    from honestsql.evaluation.runs import load_run

    if feature not in calibration.RUN_FEATURES:
        raise typer.BadParameter(
            f"--feature must be one of {', '.join(calibration.RUN_FEATURES)} (scored runs "
            "carry nothing else)"
        )
    try:
        loaded = [load_run(Path(path)) for path in runs]
        if len(loaded) < 2:
            raise InvalidInput(
                "Give at least two runs: the calibrator learns from how systems agree."
            )
        observations, labels = fitting.observations_from_runs(loaded)
        held_out = fitting.cross_validated(observations, labels, feature=feature)
        model = fitting.fit(
            observations,
            labels,
            feature=feature,
            fitted_on=f"{len(loaded)} runs of {loaded[0].header['benchmark']}",
        )
    except (ValueError, RuntimeError) as exc:
        fail(InvalidInput(str(exc)), as_json)
    except HonestSQLError as exc:
        fail(exc, as_json)
    out_path.write_text(model.to_json() + "\n", encoding="utf-8")
    figures: dict[str, Any] = {
        "ok": True,
        "questions": len(labels),
        "correct_share": sum(labels) / len(labels),
        "cv_auroc": auroc(held_out, labels),
        "cv_ece": ece(held_out, labels),
        "out": str(out_path),
        **calibration.summary(model),
    }
    if as_json:
        emit_json(figures)
    else:
        out.print(
            f"Wrote {out_path} ({len(labels)} questions; cross-validated AUROC "
            f"{figures['cv_auroc'] or 0:.3f}, ECE {figures['cv_ece'] or 0:.3f}). "
            f"Use it with HONESTSQL_CALIBRATION={out_path}"
        )


def _fit_from_bench_runs(runs: list[str], out_path: Path, as_json: bool, pool: bool) -> None:
    from honestsql.benchmarks import ask_fit

    try:
        shared, records = ask_fit.load_sources(runs, pool=pool)
        model = ask_fit.fit(records, shared["model"], grammar=shared["grammar"], sources=runs)
        if agreement := shared["agreement"]:  # decide counts agreement as the fit saw it
            model.details["agreement"] = agreement
    except (ValueError, RuntimeError) as exc:
        fail(InvalidInput(str(exc)), as_json)
    except HonestSQLError as exc:
        fail(exc, as_json)
    out_path.write_text(model.to_json() + "\n", encoding="utf-8")
    figures: dict[str, Any] = {"ok": True, "out": str(out_path), **model.details}
    if as_json:
        emit_json({**figures, "weights": model.weights, "intercept": model.intercept})
        return
    cv = model.details["leave_one_database_out"]
    absent = model.details.get("absent_signals", [])
    if absent:
        from honestsql.clues import CLUES
        from honestsql.decide import SCHEMA_SIGNALS

        computed = [c for c in absent if c in CLUES or c in SCHEMA_SIGNALS]
        again = (
            f" `honestsql bench ask --run FILE --rejudge` computes {', '.join(computed)} from "
            "the recorded queries and their databases."
            if computed
            else ""
        )
        out.print(
            f"[yellow]No record carries {', '.join(absent)}: the fit reads "
            f"{'it' if len(absent) == 1 else 'them'} as 0 and learns nothing from "
            f"{'it' if len(absent) == 1 else 'them'}.{again}[/yellow]"
        )
    pooled = model.details.get("records")
    fitted = f"{pooled} records, several runs pooled, of " if pooled else ""
    out.print(
        f"Wrote {out_path} ({fitted}{model.details['questions']} questions of "
        f"{model.details['model']}; "
        f"leave-one-database-out AUROC {cv['auroc']}, ECE {cv['ece']}, by chance "
        f"{cv['ece_chance']}). "
        f"Use it with HONESTSQL_CALIBRATION={out_path}"
    )


@bench_app.command("what-if")
def bench_what_if(
    run: Annotated[Path, typer.Argument(help="A run file of `bench ask` (read, never written).")],
    change: Annotated[
        str,
        typer.Option(
            help="old-empty, merge-in-order, merge-repeats, no-identifier-warning, "
            "fan-out-warning, bare-column-warning or leaf-join-warning "
            "(`honestsql.benchmarks.ask_whatif` says what each does)."
        ),
    ],
    data: DataOption = None,
    suite: SuiteOption = None,
    target: TargetOption = 0.75,
    allow_privileged: AllowPrivilegedOption = False,
    write: Annotated[
        Path | None,
        typer.Option(
            help="Also write the run as changed to this file (a `bench ask` run file whose "
            "header names the change): `honestsql calibrate fit` on it fits a calibrator that "
            "decides with the change (merge-in-order)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """A change to how answers are decided, measured on a run without the model: the figures as
    run and with the change (both nested leave-one-database-out), and the questions it touched."""
    from honestsql.benchmarks import ask as bench
    from honestsql.benchmarks import ask_whatif

    try:
        if change not in ask_whatif.CHANGES:
            raise InvalidInput(
                f"--change must be one of {', '.join(ask_whatif.CHANGES)}, not {change!r}."
            )
        suites = bench.load_suites(data, suite or list(bench.SUITES))
        progress, _, reached = progress_bar(f"what if: {change}", bench.run_size(run))
        with progress:
            figures = ask_whatif.run_what_if(
                suites,
                run,
                change,
                target=target,
                allow_privileged=allow_privileged or None,
                progress=lambda done, _total: reached(done),
                write=write,
            )
    except HonestSQLError as exc:
        fail(exc, as_json)
    if write is not None:
        figures["written"] = str(write)
    if as_json:
        print_figures("what-if", figures, as_json)
        return
    out.print(
        f"{figures['model']}, {figures['questions']} questions: {figures['description']}. "
        f"{figures['touched']} questions touched, right before {figures['touched_right_before']}, "
        f"after {figures['touched_right_after']}."
    )
    rows = [
        {"figure": k, "as run": figures["as_run"][k], "changed": figures["changed"][k]}
        for k in ask_whatif.FIGURES
    ]
    print_rows(f"with and without {change}, t = {target}", rows, ("figure", "as run", "changed"))


@bench_app.command("abstention")
def bench_abstention(
    data: DataOption = None,
    report: Annotated[
        Path | None, typer.Option(help="Write an HTML report with the risk-coverage curve.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Cross-validated answer/abstain quality on Spider (17 systems), sql-eval and EHRSQL."""
    from honestsql.benchmarks import abstention

    progress, advance, _ = progress_bar("executing the 17 Spider systems' predictions", 17)
    try:
        with progress:
            result = abstention.run(data, progress=lambda: advance(1))
    except HonestSQLError as exc:
        fail(exc, as_json)
    result["spider"].pop("_model", None)
    if report is not None:
        abstention.write_report(result, report)
        result["report"] = str(report)
    if not as_json:
        result["spider"].pop("risk_coverage", None)
    print_figures("abstention", result, as_json)


@bench_app.command("linking")
def bench_linking(
    benchmark: Annotated[str, typer.Option(help="bird or spider.")],
    data: DataOption = None,
    warehouse: Annotated[
        bool, typer.Option(help="Link against all Spider and BIRD schemas merged.")
    ] = False,
    budget: Annotated[
        int, typer.Option(min=100, help="Warehouse mode: schema tokens per question.")
    ] = 4000,
    fraction: Annotated[
        float, typer.Option(min=0.01, max=1.0, help="Single mode: share of columns to keep.")
    ] = 0.35,
    embeddings: Annotated[
        bool, typer.Option(help="Also use the bundled embedding model (the [embeddings] extra).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Recall of the schema linker on Spider or BIRD dev."""
    from honestsql.benchmarks import linking

    if benchmark not in {"bird", "spider"}:
        raise typer.BadParameter("--benchmark must be bird or spider")
    try:
        result = linking.run(
            data,
            benchmark,
            warehouse_mode=warehouse,
            budget=budget,
            fraction=fraction,
            use_embeddings=embeddings,
        )
    except HonestSQLError as exc:
        fail(exc, as_json)
    print_figures("linking", result, as_json)
