"""``honestsql chat``: a conversation with follow-up questions; ``honestsql conversations``."""

from __future__ import annotations

import contextlib
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape

from honestsql.cli import show
from honestsql.cli.apps import app, conversations_app
from honestsql.cli.common import (
    AllowPrivilegedOption,
    ApiKeyOption,
    BaseUrlOption,
    CandidatesOption,
    DbOption,
    DescriptionsOption,
    GlossaryOption,
    JsonOption,
    LlmOption,
    ModelOption,
    PolicyOption,
    SchemasOption,
    TargetOption,
    emit_json,
    fail,
    out,
    schema_list,
)
from honestsql.errors import HonestSQLError
from honestsql.settings import Settings


def make_service(
    db: str,
    model: tuple[str | None, str | None, str | None, str | None, str | None],
    settings: Settings,
    *,
    audited: bool = True,
    **options: Any,
) -> Any:
    """The service behind ``ask`` and ``chat``: the model from ``(llm, base_url, model, api_key,
    guided)``, the memory, the audit log (unless switched off) and the conversation store."""
    from honestsql import audit
    from honestsql.conversation import Conversations
    from honestsql.llm.factory import make_backend
    from honestsql.memory import Memory
    from honestsql.service import Service

    llm, base_url, name, api_key, guided = model
    return Service(
        db,
        backend=lambda: make_backend(
            llm, base_url=base_url, model=name, api_key=api_key, guided=guided
        ),
        settings=settings,
        audit=audit.AuditLog() if audited and audit.enabled() else None,
        memory=Memory(),
        conversations=Conversations(),
        **options,
    )


@app.command()
def chat(
    db: DbOption,
    target: TargetOption = 0.75,
    llm: LlmOption = None,
    base_url: BaseUrlOption = None,
    model: ModelOption = None,
    api_key: ApiKeyOption = None,
    candidates: CandidatesOption = 5,
    follow_up: Annotated[
        str | None, typer.Option("--follow-up", help="Continue this conversation.")
    ] = None,
    descriptions: DescriptionsOption = None,
    schemas: SchemasOption = None,
    allow_privileged: AllowPrivilegedOption = False,
    policy: PolicyOption = None,
    glossary: GlossaryOption = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="Read one question per line, print one JSON answer per line (scripts)."
        ),
    ] = False,
) -> None:
    """Ask questions one after another; follow-ups ("and in 2023?", "only the cancelled ones")
    are read in the light of the earlier ones, and the reading is shown."""
    try:
        service = make_service(
            db,
            (llm, base_url, model, api_key, None),
            Settings(candidates=candidates),
            descriptions=descriptions,
            schemas=schema_list(schemas),
            allow_privileged=allow_privileged,
            policy=policy,
            glossary=glossary,
        )
    except HonestSQLError as exc:
        fail(exc, as_json)
    conversation = follow_up
    interactive = sys.stdin.isatty() and not as_json
    if interactive:
        _readline()
        out.print("[dim]Ask a question; an empty line or Ctrl-D ends the conversation.[/]")
    with service:
        for question in _questions(interactive):
            try:
                with show.stages() as on_stage:
                    answer = service.ask(
                        question, target=target, on_stage=on_stage, conversation=conversation
                    )
            except HonestSQLError as exc:
                if as_json:
                    emit_json({"ok": False, "error": {"kind": exc.kind, "message": exc.message}})
                else:
                    out.print(f"[bold red]{exc.kind}[/]: {escape(exc.message)}")
                continue
            conversation = answer.conversation
            if as_json:
                emit_json(answer.to_dict())
                sys.stdout.flush()
            else:
                show.answer(answer, target)
                show.thread(answer, question)


def _readline() -> None:
    """Line editing and history (up arrow) for the interactive prompt, where available."""
    with contextlib.suppress(ImportError):  # not on every platform
        import readline  # noqa: F401


def _questions(interactive: bool) -> Any:
    while True:
        try:
            line = input("? ") if interactive else sys.stdin.readline()
        except EOFError:
            return
        if not interactive and line == "":
            return
        line = line.strip()
        if not line:
            if interactive:
                return
            continue
        yield line


@conversations_app.command("list")
def conversations_list(
    db: Annotated[str | None, typer.Option("--db", help="Only this database's.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The stored conversations, newest first."""
    from honestsql.conversation import Conversations

    found = Conversations().list(db)
    if as_json:
        emit_json({"ok": True, "conversations": found})
        return
    for item in found:
        out.print(
            f"{item['id']}  {escape(item['database'])}  {item['turns']} turn(s)  "
            f"{escape(item['title'])}"
        )


@conversations_app.command("show")
def conversations_show(
    conversation: Annotated[str, typer.Argument(help="The conversation id.")],
    as_json: JsonOption = False,
) -> None:
    """The turns of one conversation: each question, how it was read, its SQL."""
    from honestsql.conversation import Conversations

    try:
        turns = Conversations().turns(conversation)
    except HonestSQLError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json({"ok": True, "id": conversation, "turns": [t.to_dict() for t in turns]})
        return
    for turn in turns:
        out.print(f"[bold]{turn.turn}.[/] {escape(turn.question)}")
        if turn.standalone != turn.question:
            out.print(f"   read as: {escape(turn.standalone)}")
        out.print(f"   {turn.decision}: {escape(turn.sql or '-')}")


@conversations_app.command("delete")
def conversations_delete(
    conversation: Annotated[str, typer.Argument(help="The conversation id.")],
    as_json: JsonOption = False,
) -> None:
    """Delete a conversation and its turns."""
    from honestsql.conversation import Conversations

    try:
        Conversations().delete(conversation)
    except HonestSQLError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json({"ok": True, "deleted": conversation})
    else:
        out.print(f"Deleted {conversation}.")
