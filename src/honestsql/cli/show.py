"""How the CLI prints a checked query and an answer, for people (``--json`` prints the objects)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table as RichTable

from honestsql.check import CheckResult
from honestsql.cli.common import out
from honestsql.findings import Finding
from honestsql.wording import say


def findings(findings: list[Finding], style: str) -> None:
    for finding in findings:
        line = f"[{style}]{finding.kind}[/]: {escape(finding.message)}"
        if finding.suggestions:
            line += f"\n  did you mean: {escape(', '.join(finding.suggestions))}"
        out.print(line)


def check_result(result: CheckResult) -> None:
    if result.sql:
        out.print(Syntax(result.sql, "sql", word_wrap=True, theme="ansi_dark"))
    findings(result.errors, "bold red")
    findings(result.warnings, "yellow")
    if result.result is not None:
        table = RichTable(show_lines=False, header_style="bold")
        for column in result.result.columns:
            # An empty result has no values to take a type from: no "null" under every name.
            kind = f"\n[dim]{escape(column.type)}[/]" if result.result.rows else ""
            table.add_column(escape(column.name) + kind)
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


def _language(answer: Any) -> str:
    return answer.prose["language"] if answer.prose else "en"


def alternatives(answer: Any, db: str, question: str) -> None:
    """On an abstention, what the candidates reached: unverified, for a person to judge."""
    language = _language(answer)
    if not answer.alternatives:
        out.print(f"[dim]{escape(say('nothing_ran', language))}[/]")
        return
    total = len(answer.candidates)
    found, unverified = say("candidates_found", language), say("unverified", language)
    out.print(f"[bold]{escape(found)}[/] [yellow]{escape(unverified)}[/]")
    for index, alternative in enumerate(answer.alternatives, 1):
        shown = say("of_candidates", language, n=alternative["candidates"], total=total)
        out.print(f"\n[bold]({index})[/] {escape(shown)}")
        out.print(Syntax(alternative["sql"], "sql", word_wrap=True, theme="ansi_dark"))
        table = RichTable(header_style="bold")
        for column in alternative["columns"]:
            table.add_column(escape(column["name"]))
        for row in alternative["rows"]:
            table.add_row(*("NULL" if v is None else escape(str(v)) for v in row))
        out.print(table)
        if alternative["more"]:
            out.print(f"[dim]{escape(say('more_rows', language))}[/]")
    out.print(
        f"\n[dim]{escape(say('keep_example', language))} "
        f"honestsql memory add --db {escape(db)} {escape(repr(question))} 'SQL'[/]"
    )


def answer(answer: Any, target: float) -> None:
    """The answer for people, worded in the question's language (``answer.prose``)."""
    language = _language(answer)
    shown = f"{answer.confidence:.2f}"
    if answer.decision == "answer":
        out.print(Syntax(answer.sql, "sql", word_wrap=True, theme="ansi_dark"))
        table = RichTable(header_style="bold")
        for column in answer.columns:
            table.add_column(escape(column["name"]))
        for row in answer.rows:
            table.add_row(*("NULL" if v is None else escape(str(v)) for v in row))
        out.print(table)
        if answer.prose:
            out.print(f"[bold]{escape(answer.prose['sentence'])}[/]")
        answered = say("answered", language, confidence=shown, target=f"{target:.2f}")
        out.print(f"[green]{escape(answered)}[/]: {escape('; '.join(answer.notes))}.")
    else:
        out.print(
            f"[yellow]{escape(say('dont_know', language, confidence=shown, target=f'{target:.2f}'))}[/]"
        )
        for reason in answer.reasons:
            out.print(f"- {reason['code']}: {escape(reason['message'])}")
            if reason.get("clarifying_question"):
                out.print(f"  {escape(reason['clarifying_question'])}")
            for step in reason.get("next_steps", []):
                out.print(f"  [dim]{escape(say('next', language))}:[/] {escape(step)}")
    if answer.flagged_values:
        out.print(
            f"[dim]Withheld sample values that read like instructions: {', '.join(answer.flagged_values)}[/]"
        )


@contextmanager
def stages() -> Iterator[Callable[[str, str], None]]:
    """A spinner on standard error showing the stage at work (linking, writing 3 queries,
    checking 2 of 5, ...), only when standard error is a terminal; otherwise silent."""
    if not sys.stderr.isatty():
        yield lambda stage, message: None
        return
    from rich.console import Console

    with Console(stderr=True).status("Starting…") as status:
        yield lambda stage, message: status.update(f"{escape(message)}…")


def thread(answer: Any, question: str) -> None:
    """How a follow-up or a question in another language was read, and how to continue the
    conversation."""
    language = _language(answer)
    if answer.standalone_question and answer.standalone_question != question:
        read_as = say("follow_up_read_as", language)
        out.print(f"[bold]{escape(read_as)}:[/] {escape(answer.standalone_question)}")
    if answer.reading:
        out.print(f"[bold]{escape(say('read_in_english', language))}:[/] {escape(answer.reading)}")
    if answer.conversation:
        out.print(
            f"[dim]Conversation {answer.conversation}: follow up with "
            f"--follow-up {answer.conversation}[/]"
        )


@contextmanager
def prose_to_stderr(wanted: bool) -> Iterator[None]:
    """While inside, what is printed for people goes to stderr (when ``wanted``)."""
    if not wanted:
        yield
        return
    before = out.file
    out.file = sys.stderr
    try:
        yield
    finally:
        out.file = before
