"""``honestsql memory``: the verified question/SQL pairs used as examples."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table as RichTable

import honestsql
from honestsql.cli.apps import memory_app
from honestsql.cli.common import DbOption, JsonOption, emit_json, fail, out
from honestsql.errors import HonestSQLError


@memory_app.command("add")
def memory_add(
    db: DbOption,
    question: Annotated[str, typer.Argument(help="The question.")],
    sql: Annotated[str, typer.Argument(help="Its verified SQL.")],
    as_json: JsonOption = False,
) -> None:
    """Remember a verified question/SQL pair (used as a few-shot example for similar questions)."""
    from honestsql.check import check
    from honestsql.memory import Memory

    try:
        database = honestsql.connect(db)
        result = check(database, sql, execute=False)
    except HonestSQLError as exc:
        fail(exc, as_json)
    if not result.ok:
        message = "; ".join(e.message for e in result.errors)
        if as_json:
            emit_json(
                {"ok": False, "status": "rejected", "errors": [e.to_dict() for e in result.errors]}
            )
        else:
            out.print(f"[red]Not remembered[/]: the SQL does not verify: {escape(message)}")
        raise typer.Exit(1)
    pair_id = Memory().add(database.display_url, question, result.sql or sql)
    if as_json:
        emit_json({"ok": True, "id": pair_id})
    else:
        out.print(f"Remembered as #{pair_id}.")


@memory_app.command("list")
def memory_list(db: DbOption, as_json: JsonOption = False) -> None:
    """List the verified pairs of a database."""
    from honestsql.memory import Memory

    try:
        database = honestsql.connect(db)
    except HonestSQLError as exc:
        fail(exc, as_json)
    pairs = Memory().pairs(database.display_url)
    if as_json:
        emit_json({"ok": True, "pairs": [p.__dict__ for p in pairs]})
        return
    table = RichTable("id", "question", "sql")
    for pair in pairs:
        table.add_row(str(pair.id), escape(pair.question), escape(pair.sql))
    out.print(table)


@memory_app.command("remove")
def memory_remove(
    pair_id: Annotated[int, typer.Argument(help="The id from `memory list`.")],
    as_json: JsonOption = False,
) -> None:
    """Forget a verified pair."""
    from honestsql.memory import Memory

    removed = Memory().remove(pair_id)
    if as_json:
        emit_json({"ok": removed, "id": pair_id})
    else:
        out.print(f"Removed #{pair_id}." if removed else f"No pair #{pair_id}.")
    raise typer.Exit(0 if removed else 1)
