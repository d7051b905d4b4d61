"""``honestsql memory``: the verified question/SQL pairs used as examples."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table as RichTable

import honestsql
from honestsql.cli.apps import memory_app
from honestsql.cli.common import DbOption, JsonOption, emit_json, fail, out
from honestsql.errors import HonestSQLError
from honestsql.progress import progress_bar


@memory_app.command("add")
def memory_add(
    db: DbOption,
    question: Annotated[str, typer.Argument(help="The question.")],
    sql: Annotated[str, typer.Argument(help="Its verified SQL.")],
    as_json: JsonOption = False,
) -> None:
    """Remember a verified question/SQL pair (used as a few-shot example for similar questions)."""
    from honestsql.memory import Memory, NotVerified, remember

    try:
        database = honestsql.connect(db)
        pair_id = remember(Memory(), database, question, sql)
    except NotVerified as exc:
        if as_json:
            emit_json(
                {"ok": False, "status": "rejected", "errors": [e.to_dict() for e in exc.errors]}
            )
        else:
            problems = "; ".join(exc.problems)
            out.print(f"[red]Not remembered[/]: the SQL does not verify: {escape(problems)}")
        raise typer.Exit(1) from None
    except HonestSQLError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json({"ok": True, "id": pair_id})
    else:
        out.print(f"Remembered as #{pair_id}.")


@memory_app.command("import")
def memory_import(
    db: DbOption,
    path: Annotated[
        Path,
        typer.Argument(
            help="Pairs to remember: JSON Lines or a JSON list of objects with `question` and "
            "`sql`, or a CSV file with `question` and `sql` columns.",
            exists=True,
            dir_okay=False,
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """Remember many verified pairs at once (a team's known queries): each SQL is verified
    against the database's schema like `memory add`; those that do not verify are listed and
    not kept, the others are. Exits 1 when any pair was not kept."""
    from honestsql.memory import Memory, import_pairs, read_pairs

    try:
        database = honestsql.connect(db)
        pairs = read_pairs(path)
    except HonestSQLError as exc:
        fail(exc, as_json)
    progress, advance, _ = progress_bar("verifying pairs", len(pairs))
    with progress:
        done = import_pairs(Memory(), database, pairs, advance)
    added, already, refused = done.added, done.already, done.refused
    if as_json:
        emit_json(done.as_dict())
    else:
        out.print(
            f"Remembered {added} new pair{'s' * (added != 1)} of {len(pairs)}"
            + (f" ({already} already known)" if already else "")
            + "."
        )
        for one in refused:
            out.print(
                f"[red]Not kept[/] ({one['at']}): {escape(one['question'])}: "
                + escape("; ".join(p.rstrip(".") for p in one["problems"]))
                + "."
            )
    raise typer.Exit(1 if refused else 0)


@memory_app.command("export")
def memory_export(
    db: DbOption,
    path: Annotated[
        Path | None,
        typer.Argument(
            help="The JSON Lines file to write (default: standard output).", dir_okay=False
        ),
    ] = None,
) -> None:
    """Write a database's verified pairs as JSON Lines (`{"question", "sql"}` a line), the
    format `memory import` reads: to share them or move them to another machine."""
    from honestsql.memory import Memory, pairs_as_lines

    try:
        database = honestsql.connect(db)
    except HonestSQLError as exc:
        fail(exc, False)
    pairs = Memory().pairs(database.display_url)
    lines = pairs_as_lines(pairs)
    if path is None:
        typer.echo(lines, nl=False)
        return
    path.write_text(lines, encoding="utf-8")
    out.print(f"Wrote {len(pairs)} pair{'s' * (len(pairs) != 1)} to {escape(str(path))}.")


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
