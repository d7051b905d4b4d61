"""``honestsql bench noninterference``: the access policy's acceptance run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from honestsql.cli.apps import bench_app
from honestsql.cli.common import JsonOption, fail, print_figures
from honestsql.errors import HonestSQLError
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
