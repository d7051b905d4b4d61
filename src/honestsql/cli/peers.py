"""``honestsql bench peers``: honestsql beside LangChain, LlamaIndex, Vanna and the bare model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from honestsql.cli.apps import bench_app
from honestsql.cli.common import (
    CandidatesOption,
    DataOption,
    FreshOption,
    JsonOption,
    LimitOption,
    ModelOption,
    ReportOnlyOption,
    RunOption,
    TargetOption,
    cache_run,
    fail,
    json_stdout,
    print_figures,
)
from honestsql.errors import HonestSQLError, InvalidInput
from honestsql.progress import progress_bar

SUITES = ("hostile", "sqleval-sqlite", "spider", "sqleval-postgres")


@bench_app.command("peers")
def bench_peers(
    model: ModelOption = None,
    data: DataOption = None,
    system: Annotated[
        list[str] | None,
        typer.Option(
            help="honestsql, honestsql-server, bare, langchain, langchain-agent, llamaindex, "
            "vanna; repeat (default: all)."
        ),
    ] = None,
    suite: Annotated[
        list[str] | None,
        typer.Option(help=f"{', '.join(SUITES)}; repeat (default: all)."),
    ] = None,
    run: RunOption = None,
    limit: LimitOption = None,
    fresh: FreshOption = False,
    report_only: ReportOnlyOption = False,
    report: Annotated[
        Path | None,
        typer.Option(help="Write an HTML page with the table and the risk-coverage chart here."),
    ] = None,
    n_ctx: Annotated[int, typer.Option(min=2048, help="The server's context window.")] = 8192,
    candidates: CandidatesOption = 5,
    target: TargetOption = 0.75,
    as_json: JsonOption = False,
) -> None:
    """The same local model behind every system (one llama-cpp-python server, started and
    stopped here), the same questions (the hostile set and every question of `bench ask`), one
    run: accuracy, wrong answers, abstentions, destructive statements, injections followed,
    time and tokens per system."""
    from honestsql.benchmarks import peers, peers_figures

    try:
        # Libraries print (LlamaIndex: "Embeddings have been explicitly disabled"): with
        # --json, stdout is the JSON alone.
        with json_stdout(as_json):
            suites_named = list(suite or SUITES)
            unknown = [s for s in suites_named if s not in SUITES]
            if unknown:
                raise InvalidInput(
                    f"Unknown suite {unknown[0]!r}: choose from {', '.join(SUITES)}."
                )
            names = list(dict.fromkeys(system or peers.SYSTEMS))
            if report_only:
                if run is None:
                    raise InvalidInput("--report-only needs --run FILE.")
                header, records = peers.load_run(run)
                figures = peers_figures.summarize_run(header, records, system or None)
            else:
                figures = _run(
                    model, data, names, suites_named, run, limit, fresh, n_ctx, candidates, target
                )
            if report is not None:
                figures["report"] = str(peers_figures.report(figures, report))
    except HonestSQLError as exc:
        fail(exc, as_json)
    if not as_json:
        typer.echo(peers_figures.table(figures), err=True)
    print_figures("peers", figures, as_json)


def _run(
    model: str | None,
    data: str | None,
    names: list[str],
    suites_named: list[str],
    run: Path | None,
    limit: int | None,
    fresh: bool,
    n_ctx: int,
    candidates: int,
    target: float,
) -> dict[str, object]:
    from honestsql.benchmarks import peers, peers_figures
    from honestsql.benchmarks.llama_server import LlamaServer
    from honestsql.cache import cache_dir
    from honestsql.llm.llama_cpp import model_name as known_name
    from honestsql.llm.llama_cpp import resolve
    from honestsql.pipeline import Settings

    path = resolve(model)
    model_name = known_name(path)
    work = cache_dir() / "peers"
    suites = peers.load_suites(data, suites_named, work)
    run_path = run or cache_run(f"bench-peers-{model_name}.jsonl")
    with LlamaServer(path, n_ctx=n_ctx, alias=model_name, log=work / "server.log") as server:
        systems, unavailable = peers.build_systems(
            names,
            base_url=server.base_url,
            model_name=model_name,
            model_path=path,
            n_ctx=n_ctx,
            settings=Settings(candidates=candidates),
            target=target,
        )
        header = peers.header(model_name, peers.versions(names), unavailable)
        progress, _, reached = progress_bar(f"{model_name}: {len(systems)} systems", 1)
        runner = peers.Runner(
            suites,
            systems,
            run_path,
            work / "scratch",
            header,
            server_usage=server.usage.snapshot,
            healthy=server.check,
            progress=lambda done, total: reached(done, total),
        )
        with progress:
            records = runner.run(limit=limit, fresh=fresh)
    figures = peers_figures.summarize_run(header, records, [s.name for s in systems])
    figures["run"] = str(run_path)
    return figures
