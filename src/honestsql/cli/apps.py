"""The Typer applications the commands register themselves on."""

from __future__ import annotations

from typing import Annotated

import typer

import honestsql

app = typer.Typer(
    name="honestsql",
    help="Verified, read-only SQL over your database; honest when it does not know.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help, wrapped to the terminal: Rich's option tables cut long option names
    # ("--show-candida…") on an 80-column terminal.
    rich_markup_mode=None,
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


def _print_version(wanted: bool) -> None:
    if wanted:
        print(f"honestsql {honestsql.__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Verified, read-only SQL over your database; honest when it does not know."""


def main() -> None:
    app()
