"""FastAPI app: the same objects the CLI prints with ``--json``, one error envelope for failures.

Questions and checks go through one ``honestsql.service.Service``. Database and model work runs
in worker threads, ``workers`` at a time, so requests do not block each other on the event loop.
Every failure, from a malformed body to an unreachable database, answers
``{"ok": false, "error": {"kind", "message"}, "status"}`` with the HTTP status its kind carries
(``honestsql.errors``).
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

import honestsql
from honestsql.answer import Answer
from honestsql.audit import AuditLog
from honestsql.conversation import Conversations
from honestsql.errors import HonestSQLError, InvalidInput, Unauthorized
from honestsql.export import export
from honestsql.llm import Backend
from honestsql.loopback import LOOPBACK_NAMES
from honestsql.memory import Memory, import_pairs, pairs_as_lines, parse_pairs, remember
from honestsql.pipeline import OnStage, Settings
from honestsql.server.bodies import (
    AskRequest,
    ChartRequest,
    CheckRequest,
    ExportRequest,
    FeedbackRequest,
    ImportRequest,
)
from honestsql.server.chart import render_chart
from honestsql.server.events import stream_events
from honestsql.server.gate import RequestGate, envelope
from honestsql.service import Service

STATIC = Path(__file__).parent / "static"
EXPORT_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "parquet": "application/vnd.apache.parquet",
}


@dataclass
class ServerConfig:
    #: Database name -> what ``--db`` would take (``demo``, a path, a URL).
    databases: dict[str, str]
    backend_factory: Callable[[], Backend] | None = None
    api_key: str | None = None
    max_body_bytes: int = 256 * 1024
    max_timeout: float = 30.0
    #: The most bytes one ``/api/export`` file may have.
    max_export_bytes: int = 256 * 1024 * 1024
    max_rows: int = 1000
    audit: bool = True
    memory_path: Path | None = None
    audit_path: Path | None = None
    conversations_path: Path | None = None
    #: Requests doing database or model work at the same time.
    workers: int = 2
    #: Host names (besides loopback ones) that requests may name in their Host header when no
    #: API key is set: a guard against DNS rebinding.
    allowed_hosts: list[str] = field(default_factory=list)
    #: Passed to every database opened (see ``honestsql.connect``).
    schemas: list[str] | None = None
    allow_privileged: bool | None = None
    #: The access policy for every database served (``honestsql.policy``).
    policy: Path | None = None
    #: Business terms for every database served (``honestsql.glossary``).
    glossary: Path | None = None

    def service(self) -> Service:
        return Service(
            self.databases,
            backend=self.backend_factory,
            settings=Settings(timeout=self.max_timeout, max_rows=self.max_rows),
            audit=AuditLog(self.audit_path) if self.audit else None,
            memory=Memory(self.memory_path),
            conversations=Conversations(self.conversations_path),
            schemas=self.schemas,
            allow_privileged=self.allow_privileged,
            policy=self.policy,
            glossary=self.glossary,
        )


def create_app(config: ServerConfig) -> FastAPI:
    if not config.databases:
        raise InvalidInput("Give at least one database to serve (--db).")
    # /docs and /redoc from files of the fastapi-offline package, not a CDN: they work offline.
    app = FastAPIOffline(
        title="honestsql",
        description="Verified, read-only SQL answers with a confidence, or an honest abstention.",
        version=honestsql.__version__,
    )
    service = config.service()

    def authorized(request: Request) -> None:
        if not config.api_key:
            return
        given = request.headers.get("x-api-key") or ""
        bearer = request.headers.get("authorization") or ""
        if bearer.lower().startswith("bearer "):
            given = given or bearer[7:]
        if not secrets.compare_digest(given.encode(), config.api_key.encode()):
            raise Unauthorized("Missing or wrong API key: send it in the X-API-Key header.")

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'body'}: {e.get('msg')}"
            for e in exc.errors()
        )
        return envelope(422, "invalid_input", f"The request is not valid: {problems}.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http")
        return envelope(exc.status_code, kind, str(exc.detail))

    @app.exception_handler(HonestSQLError)
    async def honest_error(_: Request, exc: HonestSQLError) -> JSONResponse:
        return envelope(exc.http_status, exc.kind, exc.message)

    @app.exception_handler(Exception)
    async def internal_error(_: Request, exc: Exception) -> JSONResponse:
        return envelope(
            500, "internal", f"Internal error ({type(exc).__name__}); see the server log."
        )

    # Database and model work runs in worker threads, a few at a time: more threads than cores
    # only fight over the interpreter lock, and the event loop stays free for cheap requests.
    limiter = anyio.CapacityLimiter(config.workers)

    async def offload(function: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(function, *args, limiter=limiter)

    @app.get("/api/health")
    async def health(request: Request) -> dict[str, Any]:
        """Liveness for anyone; with a key set, the version and database names only for a
        request that carries it."""
        try:
            authorized(request)
        except Unauthorized:
            return {"ok": True, "status": "ok"}
        return {
            "ok": True,
            "status": "ok",
            "version": honestsql.__version__,
            "databases": list(config.databases),
            # Whether questions can be answered (a model is configured); the page says so.
            "model": config.backend_factory is not None,
        }

    @app.get("/api/schema", dependencies=[Depends(authorized)])
    async def schema(db: str | None = None) -> dict[str, Any]:
        name, database_ = service.database(db)
        catalog = await offload(database_.catalog)
        return {
            "ok": True,
            "name": name,
            "database": database_.display_url,
            **catalog.model_dump(mode="json"),
        }

    @app.post("/api/check", dependencies=[Depends(authorized)])
    async def check_sql(body: CheckRequest) -> dict[str, Any]:
        return await offload(check_sync, body)  # type: ignore[no-any-return]

    def check_sync(body: CheckRequest) -> dict[str, Any]:
        timeout = min(body.timeout or config.max_timeout, config.max_timeout)
        max_rows = min(
            body.max_rows if body.max_rows is not None else config.max_rows, config.max_rows
        )
        return service.check(body.sql, db=body.db, timeout=timeout, max_rows=max_rows).to_dict()

    @app.post("/api/ask", dependencies=[Depends(authorized)], response_model=Answer)
    async def ask(body: AskRequest) -> dict[str, Any]:
        return await offload(ask_sync, body)  # type: ignore[no-any-return]

    def ask_sync(body: AskRequest, on_stage: OnStage | None = None) -> dict[str, Any]:
        answer = service.ask(
            body.question,
            db=body.db,
            target=body.target,
            evidence=body.evidence,
            candidates=body.candidates,
            on_stage=on_stage,
            conversation=body.conversation,
            standalone=body.standalone,
        )
        return answer.to_dict()

    @app.get("/api/conversations", dependencies=[Depends(authorized)])
    async def conversations(db: str | None = None) -> dict[str, Any]:
        store = service.conversations
        assert store is not None
        return {"ok": True, "conversations": await offload(store.list, db)}

    @app.get("/api/conversations/{conversation}", dependencies=[Depends(authorized)])
    async def conversation_turns(conversation: str) -> dict[str, Any]:
        store = service.conversations
        assert store is not None
        turns = await offload(store.turns, conversation)
        return {"ok": True, "id": conversation, "turns": [t.to_dict() for t in turns]}

    @app.delete("/api/conversations/{conversation}", dependencies=[Depends(authorized)])
    async def conversation_delete(conversation: str) -> dict[str, Any]:
        store = service.conversations
        assert store is not None
        await offload(store.delete, conversation)
        return {"ok": True, "deleted": conversation}

    @app.post("/api/ask/stream", dependencies=[Depends(authorized)])
    async def ask_stream(body: AskRequest) -> StreamingResponse:
        """The same answer as ``/api/ask``, as server-sent events: ``stage`` events
        (``{"stage", "message"}``) as the work goes, then one ``answer`` event (the answer
        object) or one ``error`` event (the error envelope)."""
        return StreamingResponse(
            stream_events(lambda on_stage: ask_sync(body, on_stage), offload),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.post("/api/export", dependencies=[Depends(authorized)])
    async def export_rows(body: ExportRequest) -> Response:
        """The whole result of a verified query as a file, streamed from the database to disk
        and from disk to the client (never held in memory)."""
        path, done = await offload(export_sync, body)
        if not done.ok:
            path.unlink(missing_ok=True)
            first = done.errors[0]
            return envelope(422, first.kind, first.message)
        return FileResponse(
            path,
            media_type=EXPORT_TYPES[body.format],
            filename=f"honestsql-result.{body.format}",
            background=BackgroundTask(path.unlink, missing_ok=True),
        )

    def export_sync(body: ExportRequest) -> tuple[Path, Any]:
        _, database_ = service.database(body.db)
        handle, name = tempfile.mkstemp(suffix=f".{body.format}", prefix="honestsql-export-")
        os.close(handle)
        path = Path(name)
        try:
            done = export(
                database_,
                body.sql,
                path,
                fmt=body.format,
                timeout=config.max_timeout,
                max_bytes=config.max_export_bytes,
            )
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path, done

    @app.post("/api/feedback", dependencies=[Depends(authorized)])
    async def feedback(body: FeedbackRequest) -> dict[str, Any]:
        return await offload(feedback_sync, body)  # type: ignore[no-any-return]

    def feedback_sync(body: FeedbackRequest) -> dict[str, Any]:
        _, database_ = service.database(body.db)
        memory = service.memory
        assert memory is not None
        if body.vote == "up":
            if not body.sql:
                raise InvalidInput("A thumbs-up needs the SQL it approves.")
            pair_id = remember(memory, database_, body.question, body.sql)
            return {"ok": True, "stored": "verified", "id": pair_id}
        failure_id = memory.record_failure(
            database_.display_url, body.question, body.sql, body.comment
        )
        return {"ok": True, "stored": "failure", "id": failure_id}

    @app.post("/api/memory/import", dependencies=[Depends(authorized)])
    async def memory_import(body: ImportRequest) -> dict[str, Any]:
        return await offload(import_sync, body)  # type: ignore[no-any-return]

    def import_sync(body: ImportRequest) -> dict[str, Any]:
        _, database_ = service.database(body.db)
        assert service.memory is not None
        pairs = parse_pairs(body.text, body.name)
        return import_pairs(service.memory, database_, pairs).as_dict()

    @app.get("/api/memory/export", dependencies=[Depends(authorized)])
    async def memory_export(db: str | None = None) -> Response:
        """A database's verified pairs as JSON Lines, the format the import reads back."""
        pairs = await offload(export_pairs_sync, db)
        return Response(
            pairs_as_lines(pairs),
            media_type="application/jsonl",
            headers={
                "Content-Disposition": 'attachment; filename="honestsql-pairs.jsonl"',
                "X-Pairs": str(len(pairs)),
            },
        )

    def export_pairs_sync(db: str | None) -> list[Any]:
        _, database_ = service.database(db)
        assert service.memory is not None
        return service.memory.pairs(database_.display_url)

    @app.post("/api/chart", dependencies=[Depends(authorized)])
    async def chart(body: ChartRequest) -> Response:
        svg = await offload(render_chart, body.columns, body.rows)
        return Response(svg, media_type="image/svg+xml")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(
        RequestGate,
        max_body_bytes=config.max_body_bytes,
        allowed_hosts=None if config.api_key else LOOPBACK_NAMES | set(config.allowed_hosts),
    )
    return app
