"""``honestsql glossary check``: verify every business term against a database."""

from __future__ import annotations

import typer
from rich.markup import escape

import honestsql
from honestsql.cli.apps import glossary_app
from honestsql.cli.common import (
    AllowPrivilegedOption,
    DbOption,
    GlossaryOption,
    JsonOption,
    PolicyOption,
    emit_json,
    fail,
    out,
)
from honestsql.errors import HonestSQLError, InvalidInput


@glossary_app.command("check")
def glossary_check(
    db: DbOption,
    glossary: GlossaryOption = None,
    policy: PolicyOption = None,
    allow_privileged: AllowPrivilegedOption = False,
    as_json: JsonOption = False,
) -> None:
    """Verify each term's SQL and the time columns against the database's schema (and policy)."""
    from honestsql import glossary as glossary_module

    try:
        terms = glossary_module.load(glossary)
        if terms is None:
            raise InvalidInput("Give a glossary: --glossary FILE (or HONESTSQL_GLOSSARY).")
        with honestsql.connect(db, policy=policy, allow_privileged=allow_privileged) as database:
            terms.verify(database)
    except HonestSQLError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json(
            {
                "ok": True,
                "terms": [
                    {"name": t.name, "sql": t.sql, "synonyms": list(t.synonyms)}
                    for t in terms.terms
                ],
                "time_columns": terms.time_columns,
            }
        )
        return
    for term in terms.terms:
        also = f" (also: {', '.join(term.synonyms)})" if term.synonyms else ""
        out.print(f"[green]ok[/] {escape(term.name)}{escape(also)}: {escape(term.sql)}")
    for table, column in terms.time_columns.items():
        out.print(f"[green]ok[/] time column of {escape(table)}: {escape(column)}")
    raise typer.Exit(0)
