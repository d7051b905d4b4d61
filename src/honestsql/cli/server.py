"""``honestsql serve`` and ``honestsql mcp``: the HTTP and MCP doors."""

from __future__ import annotations

import os
import re
from typing import Annotated

import typer
from rich.markup import escape

from honestsql.cli.apps import app
from honestsql.cli.common import (
    AllowPrivilegedOption,
    ApiKeyOption,
    BaseUrlOption,
    DbOption,
    GlossaryOption,
    JsonOption,
    LlmOption,
    ModelOption,
    PolicyOption,
    SchemasOption,
    emit_json,
    err,
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
    """The model every door uses: the one ``ask`` uses unless told otherwise (``--llm none``: no
    model). A model that cannot be used is said at start-up, on stderr."""
    if llm == "none":
        return None
    from honestsql.llm.factory import make_backend, unavailable

    problem = unavailable(llm, base_url=base_url, model=model)
    if problem is not None:
        err.print(f"No questions can be answered here: {escape(problem)}", soft_wrap=True)
        return None
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
    policy: PolicyOption = None,
    glossary: GlossaryOption = None,
    as_json: JsonOption = False,
) -> None:
    """Serve the HTTP API (/api/...), its OpenAPI docs (/docs) and the web page (/).

    With --json the first line printed is {"ok", "url", "databases"}, for scripts that start it."""
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
        policy=policy,
        glossary=glossary,
    )
    try:
        application = create_app(config)
    except HonestSQLError as exc:
        fail(exc, as_json)
    url = f"http://{host}:{port}/"
    if as_json:
        emit_json({"ok": True, "url": url, "databases": list(config.databases)})
    else:
        out.print(f"honestsql serving {', '.join(config.databases)} on {url}")
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
    policy: PolicyOption = None,
    glossary: GlossaryOption = None,
) -> None:
    """Run the MCP tool server on standard input/output (for agents)."""
    try:
        from honestsql.mcp_server import build_server
    except ModuleNotFoundError:
        raise typer.BadParameter(
            "the MCP server needs its extra: pip install 'honestsql[server]'"
        ) from None
    from honestsql import audit
    from honestsql.memory import Memory
    from honestsql.service import Service

    try:
        service = Service(
            db,
            backend=_factory(llm, base_url, model, api_key),
            audit=audit.AuditLog() if audit.enabled() else None,
            memory=Memory(),
            schemas=schema_list(schemas),
            allow_privileged=allow_privileged,
            policy=policy,
            glossary=glossary,
        )
        service.database()[1].catalog()
    except HonestSQLError as exc:
        fail(exc, False)
    build_server(service).run("stdio")
