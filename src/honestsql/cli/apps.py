"""The Typer applications the commands register themselves on."""

from __future__ import annotations

import typer

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


calibrate_app = typer.Typer(help="Fit the confidence calibrator.", no_args_is_help=True)
app.add_typer(calibrate_app, name="calibrate")
conversations_app = typer.Typer(
    help="Conversations kept for follow-up questions.", no_args_is_help=True
)
app.add_typer(conversations_app, name="conversations")
glossary_app = typer.Typer(help="Business terms defined as SQL.", no_args_is_help=True)
app.add_typer(glossary_app, name="glossary")
memory_app = typer.Typer(help="Verified question/SQL pairs used as examples.", no_args_is_help=True)
app.add_typer(memory_app, name="memory")


def main() -> None:
    app()
