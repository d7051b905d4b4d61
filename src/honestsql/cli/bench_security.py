"""``honestsql bench noninterference`` (the access policy's acceptance run) and ``bench grammar``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from honestsql.cli.apps import bench_app
from honestsql.cli.common import DataOption, JsonOption, SuiteOption, fail, print_figures
from honestsql.errors import HonestSQLError, InvalidInput
from honestsql.progress import progress_bar


@bench_app.command("noninterference")
def bench_noninterference(
    target: Annotated[
        list[str] | None,
        typer.Option(help="sqlite, duckdb, postgres or mysql; repeat for several (default: all)."),
    ] = None,
    queries: Annotated[
        int, typer.Option(min=1, help="Generated queries per engine (besides the corpus).")
    ] = 10_000,
    seed: Annotated[int, typer.Option(help="The generator's seed.")] = 27,
    pg_admin: Annotated[
        str, typer.Option(help="PostgreSQL URL allowed to CREATE/DROP scratch databases.")
    ] = "postgresql://postgres@127.0.0.1:5432/postgres",
    as_json: JsonOption = False,
) -> None:
    """Noninterference of the access policy: queries it allows must look the same on two
    copies of a fixture that differ only in denied data; every difference is a leak."""
    import tempfile

    from honestsql.benchmarks import noninterference as bench

    targets = target or list(bench.DIALECTS)
    if unknown := set(targets) - set(bench.DIALECTS):
        raise typer.BadParameter(f"unknown --target {', '.join(sorted(unknown))}")
    total = len(targets) * queries
    progress, advance, _ = progress_bar("comparing", total)
    outcomes = []
    with progress, tempfile.TemporaryDirectory(prefix="honestsql-ni-") as folder:
        for dialect in targets:
            try:
                outcomes.append(
                    bench.run(
                        dialect,
                        Path(folder) / dialect,
                        count=queries,
                        seed=seed,
                        pg_admin=pg_admin,
                        progress=lambda: advance(1),
                    ).to_dict()
                )
            except HonestSQLError as exc:
                fail(exc, as_json)
    figures = {
        "seed": seed,
        "generated_per_engine": queries,
        "differences": sum(o["differences"] for o in outcomes),
        "engines": outcomes,
    }
    print_figures("noninterference", figures, as_json)
    if figures["differences"]:
        raise typer.Exit(1)


@bench_app.command("grammar")
def bench_grammar(
    model: Annotated[
        str, typer.Option(help="The named model whose tokenizer is used.")
    ] = "qwen2.5-coder-1.5b",
    data: DataOption = None,
    suite: SuiteOption = None,
    as_json: JsonOption = False,
) -> None:
    """Which gold queries the `full` grammar admits, and the time of one token mask per grammar
    engine (llguidance, llama.cpp's GBNF, xgrammar), with the model's tokenizer; no model run."""
    from honestsql.benchmarks import ask as bench_ask
    from honestsql.benchmarks import grammar as bench
    from honestsql.llm.llama_cpp import resolve

    try:
        vocab = bench.Vocabulary(str(resolve(model)))
        golds = bench.gold_queries(data, suite or list(bench_ask.SUITES))
        if not golds:
            raise InvalidInput("No gold query to measure: are the suites' databases here?")
        suite_name, db_id, catalog, _ = golds[0]
        first = [sql for s, d, _, sql in golds if (s, d) == (suite_name, db_id)][:15]
        figures = {
            "admitted": bench.admitted(vocab, [(s, c, sql) for s, _, c, sql in golds]),
            "mask_database": f"{suite_name}:{db_id} ({len(first)} gold queries)",
            "mask": bench.mask_times(vocab, catalog, first),
        }
    except HonestSQLError as exc:
        fail(exc, as_json)
    print_figures("grammar", figures, as_json)
