"""``honestsql bench ask``: a real model through honestsql over the benchmark questions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from honestsql.cli.apps import bench_app
from honestsql.cli.common import (
    AblationOption,
    AllowPrivilegedOption,
    ApiKeyOption,
    BaseUrlOption,
    CandidatesOption,
    DataOption,
    FreshOption,
    GrammarOption,
    JsonOption,
    LimitOption,
    LlmOption,
    ModelOption,
    ReportOnlyOption,
    RunOption,
    SuiteOption,
    TargetOption,
    cache_run,
    fail,
    out,
    print_figures,
    print_rows,
)
from honestsql.errors import HonestSQLError, InvalidInput
from honestsql.progress import progress_bar


@bench_app.command("ask")
def bench_ask(
    model: ModelOption = None,
    llm: LlmOption = None,
    base_url: BaseUrlOption = None,
    api_key: ApiKeyOption = None,
    data: DataOption = None,
    suite: SuiteOption = None,
    run: RunOption = None,
    limit: LimitOption = None,
    fresh: FreshOption = False,
    report_only: ReportOnlyOption = False,
    common_with: Annotated[
        Path | None,
        typer.Option(
            help="With --report-only: only the questions this other run file also answered "
            "(to compare two runs on the same questions). A run with --examples set beside one "
            "of the same model without: its prompts with examples are also scored by a "
            "calibrator fitted on the other run, held out by database."
        ),
    ] = None,
    fit_on: Annotated[
        list[str] | None,
        typer.Option(
            help="With --report-only: fit the confidence on these run files' records (of the "
            "same model; PATH:SUITE,SUITE reads only those suites) instead of the run's own, "
            "pooled, each question still held out with its database. Repeat for several."
        ),
    ] = None,
    rejudge: Annotated[
        bool,
        typer.Option(
            help="Judge every candidate of --run again against the gold (no model is run) and "
            "rewrite the file, then report; for a run whose gold could not run."
        ),
    ] = False,
    ablation: AblationOption = False,
    candidates: CandidatesOption = 5,
    grammar: GrammarOption = "full",
    target: TargetOption = 0.75,
    allow_privileged: AllowPrivilegedOption = False,
    examples: Annotated[
        bool,
        typer.Option(
            help="Show each question the verified pairs a memory would: the other answerable "
            "questions of its database with their gold SQL, never one of its own SQL's shape."
        ),
    ] = False,
    dialect_notes: Annotated[
        bool,
        typer.Option(
            help="Name the dialect's pitfalls in the prompt (strict GROUP BY, integer division, "
            "date functions), to measure them against a run without."
        ),
    ] = False,
    inline_samples: Annotated[
        bool,
        typer.Option(
            help="Show each column's sample values in its CREATE TABLE comment, not in a data "
            "block after the schema, to measure them against a run without."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """A real model through honestsql on every question that can be executed here: bare model,
    oracle and honestsql (confidence calibrated leave-one-database-out on the run itself)."""
    from honestsql.benchmarks import ask as bench
    from honestsql.benchmarks import ask_ablation, ask_examples, ask_figures, ask_fit
    from honestsql.evaluation import metrics
    from honestsql.settings import GRAMMARS

    if grammar not in GRAMMARS:
        raise typer.BadParameter(f"--grammar must be one of {', '.join(GRAMMARS)}")
    plain: list[dict[str, Any]] | None = None  # a run without examples, of the same model
    try:
        if (common_with is not None or ablation or fit_on) and not (report_only or rejudge):
            raise InvalidInput("--common-with, --ablation and --fit-on go with --report-only.")
        if fit_on and ablation:
            raise InvalidInput("--ablation fits on the run itself: give it without --fit-on.")
        if (report_only or rejudge) and run is None:
            raise InvalidInput("--report-only and --rejudge need --run FILE.")
        if rejudge:
            assert run is not None
            suites = bench.load_suites(data, suite or list(bench.SUITES))
            progress, _, reached = progress_bar("judging again", bench.run_size(run))
            with progress:
                changes = bench.rejudge_run(
                    suites,
                    run,
                    allow_privileged=allow_privileged or None,
                    progress=lambda done, _total: reached(done),
                )
            report_only = True
        if report_only:
            assert run is not None
            header, records = bench.load_run(run)
            if common_with is not None:
                other_header, other_records = bench.load_run(common_with)
                other = {r["id"] for r in other_records}
                records = [r for r in records if r["id"] in other]
                if not other_header.get("examples") and other_header["model"] == header["model"]:
                    plain = other_records  # the default's calibrator, fitted as it would be
                paired = metrics.paired(
                    ask_figures.first_query_right(records),
                    ask_figures.first_query_right(other_records),
                )
            if ablation:
                try:
                    suites = bench.load_suites(data, suite or list(bench.SUITES))
                except HonestSQLError:  # no benchmark data here: no database-level signal
                    suites = {}
                with bench.databases(suites, allow_privileged or None) as database:
                    questions = {i.id: i.example.question for i in bench.plan(suites)[0]}
                    records = ask_ablation.with_later_signals(records, database, questions)
                figures = ask_ablation.ablation(records, model=header["model"], target=target)
            else:
                training = ask_fit.training_for(header, fit_on) if fit_on else None
                figures = ask_figures.summarize(
                    records, model=header["model"], target=target, fit_on=training
                )
                if training is not None:
                    figures["fit_on"] = {"runs": fit_on, "records": len(training)}
                if header.get("what_if"):  # queries and signals rewritten, decisions not
                    figures["as_run"] = None
            if common_with is not None:
                figures["paired_first_query"] = {"with": str(common_with), **paired}
            if rejudge:
                figures["rejudged"] = changes
        else:
            from honestsql.llm.factory import make_backend
            from honestsql.pipeline import Settings

            suites = bench.load_suites(data, suite or list(bench.SUITES))
            backend = make_backend(llm, base_url=base_url, model=model, api_key=api_key)
            name = backend.model_name or "model"
            run_path = run or cache_run(f"bench-ask-{name}.jsonl")
            items, missing = bench.plan(suites)
            total = min(limit or len(items), len(items))
            progress, _, reached = progress_bar(f"{name}: answering", total)
            with progress:
                records = bench.run(
                    suites,
                    backend,
                    run_path=run_path,
                    settings=Settings(
                        candidates=candidates,
                        grammar=grammar,
                        self_check=True,
                        dialect_notes=dialect_notes,
                        inline_samples=inline_samples,
                    ),
                    target=target,
                    limit=limit,
                    fresh=fresh,
                    allow_privileged=allow_privileged or None,
                    examples=examples,
                    progress=lambda done, _total: reached(done),
                )
            figures = ask_figures.summarize(records, model=name, target=target)
            figures["run"] = str(run_path)
            figures["unavailable_databases"] = missing
        if not ablation and any(r.get("examples") for r in records):
            # Whether prompts with verified examples want a calibrator of their own.
            figures["calibrators_with_examples"] = ask_examples.calibrators_with_examples(
                records, target, plain
            )
    except HonestSQLError as exc:
        fail(exc, as_json)
    if ablation and not as_json:
        keys = ("auroc_answerable", "ece_answerable", "auroc", "ece", "precision")
        title = f"{figures['model']}, {figures['questions']} questions, nested by database"
        print_rows(title, figures["rows"], ("signals", *keys, "answered_right", "s_0.75"))
        out.print("helped: " + (", ".join(figures["helped"]) or "none"))
        return
    print_figures("ask", figures, as_json)
