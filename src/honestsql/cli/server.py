"""``honestsql serve``, ``honestsql mcp`` and ``honestsql memory``."""

from __future__ import annotations

import os
import re
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table as RichTable

import honestsql
from honestsql.cli.apps import app, memory_app
from honestsql.cli.common import (
    AllowPrivilegedOption,
    ApiKeyOption,
    BaseUrlOption,
    DbOption,
    JsonOption,
    LlmOption,
    ModelOption,
    SchemasOption,
    emit_json,
    fail,
    out,
    schema_list,
)
from honestsql.errors import HonestSQLError
from honestsql.loopback import loopback_only

_NAMED = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)=(.+)$")


def parse_databases(values: list[str]) -> dict[str, str]:
    """``name=URL`` pairs, or plain targets named after their file or database."""
    databases: dict[str, str] = {}
    for value in values:
        match = _NAMED.match(value)
        if match and "://" not in match.group(1):
            name, target = match.group(1), match.group(2)
        else:
            target = value
            tail = value.rstrip("/").rsplit("/", 1)[-1].split("?")[0]
            name = os.path.splitext(tail)[0] or "default"
        if name in databases:
            raise typer.BadParameter(f"two databases are named {name!r}; use name=URL")
        databases[name] = target
    return databases


def _factory(llm: str | None, base_url: str | None, model: str | None, api_key: str | None):  # type: ignore[no-untyped-def]
    if not (llm or base_url or model):
        return None
    from honestsql.llm.factory import make_backend

    return lambda: make_backend(llm, base_url=base_url, model=model, api_key=api_key)


@app.command()
def serve(
    db: Annotated[
        list[str],
        typer.Option(
            "--db", help="A database to serve, as NAME=URL or a path/URL; repeat for several."
        ),
    ],
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    server_key: Annotated[
        str | None,
        typer.Option(
            "--server-key",
            envvar="HONESTSQL_SERVER_KEY",
            help="API key clients must send (X-API-Key). Required off loopback.",
        ),
    ] = None,
    llm: LlmOption = None,
    base_url: BaseUrlOption = None,
    model: ModelOption = None,
    api_key: ApiKeyOption = None,
    no_audit: Annotated[
        bool, typer.Option("--no-audit", help="Do not write the audit log.")
    ] = False,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Requests doing database or model work at once.")
    ] = 2,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="A host name clients may use in the Host header when no key is set (besides "
            "localhost, 127.0.0.1 and ::1); repeat for several.",
        ),
    ] = None,
    schemas: SchemasOption = None,
    allow_privileged: AllowPrivilegedOption = False,
) -> None:
    """Serve the HTTP API (/api/...), its OpenAPI docs (/docs) and the web page (/)."""
    try:
        import uvicorn

        from honestsql.server import ServerConfig, create_app
    except ModuleNotFoundError:
        raise typer.BadParameter(
            "the server needs its extra: pip install 'honestsql[server]'"
        ) from None
    if not loopback_only(host) and not server_key:
        raise typer.BadParameter(
            f"binding to {host!r} exposes your database beyond this machine (only loopback "
            "addresses are open without a key): set --server-key (or HONESTSQL_SERVER_KEY) so "
            "clients must authenticate"
        )
    config = ServerConfig(
        parse_databases(db),
        backend_factory=_factory(llm, base_url, model, api_key),
        api_key=server_key,
        audit=not no_audit,
        workers=workers,
        allowed_hosts=list(allowed_host or []),
        schemas=schema_list(schemas),
        allow_privileged=allow_privileged,
    )
    try:
        application = create_app(config)
    except HonestSQLError as exc:
        fail(exc, False)
    out.print(f"honestsql serving {', '.join(config.databases)} on http://{host}:{port}/")
    uvicorn.run(application, host=host, port=port, log_level="warning")


@app.command()
def mcp(
    db: DbOption,
    llm: LlmOption = None,
    base_url: BaseUrlOption = None,
    model: ModelOption = None,
    api_key: ApiKeyOption = None,
    schemas: SchemasOption = None,
    allow_privileged: AllowPrivilegedOption = False,
) -> None:
    """Run the MCP tool server on standard input/output (for agents)."""
    try:
        from honestsql.mcp_server import build_server
    except ModuleNotFoundError:
        raise typer.BadParameter(
            "the MCP server needs its extra: pip install 'honestsql[server]'"
        ) from None
    try:
        database = honestsql.connect(
            db, schemas=schema_list(schemas), allow_privileged=allow_privileged
        )
        database.catalog()
    except HonestSQLError as exc:
        fail(exc, False)
    build_server(database, _factory(llm, base_url, model, api_key)).run("stdio")


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
