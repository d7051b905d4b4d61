"""FastAPI app: the same objects the CLI prints with ``--json``, one error envelope for failures.

Database and model work runs in FastAPI's thread pool (the endpoints are plain functions), so
requests do not block each other on the event loop. Every failure, from a malformed body to an
unreachable database, answers ``{"ok": false, "error": {"kind", "message"}, "status"}`` with a
fitting HTTP status.
"""

from __future__ import annotations

import io
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

import honestsql
from honestsql.check import check
from honestsql.db import Database
from honestsql.errors import ConnectionFailed, HonestSQLError, InvalidInput
from honestsql.llm import Backend, BackendError
from honestsql.loopback import LOOPBACK_NAMES
from honestsql.memory import AuditLog, Memory
from honestsql.pipeline import Pipeline, Settings

STATIC = Path(__file__).parent / "static"


class APIError(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def envelope(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"ok": False, "error": {"kind": kind, "message": message}, "status": status},
        status_code=status,
    )


_STATUS_OF_KIND = {"connection": 503, "catalog": 500, "llm": 502, "invalid_input": 400}


@dataclass
class ServerConfig:
    #: Database name -> what ``--db`` would take (``demo``, a path, a URL).
    databases: dict[str, str]
    backend_factory: Callable[[], Backend] | None = None
    api_key: str | None = None
    max_body_bytes: int = 256 * 1024
    max_timeout: float = 30.0
    max_rows: int = 1000
    audit: bool = True
    memory_path: Path | None = None
    audit_path: Path | None = None
    #: Requests doing database or model work at the same time.
    workers: int = 2
    #: Host names (besides loopback ones) that requests may name in their Host header when no
    #: API key is set: a guard against DNS rebinding.
    allowed_hosts: list[str] = field(default_factory=list)
    #: Passed to every database opened (see ``honestsql.connect``).
    schemas: list[str] | None = None
    allow_privileged: bool | None = None
    _opened: dict[str, Database] = field(default_factory=dict)


class CheckRequest(BaseModel):
    sql: str = Field(min_length=1, max_length=100_000)
    db: str | None = None
    timeout: float | None = Field(default=None, gt=0)
    max_rows: int | None = Field(default=None, ge=0)


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2_000)
    target: float = Field(default=0.75, ge=0.0, le=0.99)
    db: str | None = None
    candidates: int = Field(default=5, ge=1, le=10)
    evidence: str = Field(default="", max_length=4_000)


class FeedbackRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2_000)
    sql: str | None = Field(default=None, max_length=100_000)
    db: str | None = None
    vote: Literal["up", "down"]
    comment: str = Field(default="", max_length=2_000)


class ChartRequest(BaseModel):
    columns: list[dict[str, str]] = Field(min_length=2, max_length=2)
    rows: list[list[Any]] = Field(max_length=500)


def create_app(config: ServerConfig) -> FastAPI:
    if not config.databases:
        raise InvalidInput("Give at least one database to serve (--db).")
    app = FastAPI(
        title="honestsql",
        description="Verified, read-only SQL answers with a confidence, or an honest abstention.",
        version=honestsql.__version__,
    )
    lock = threading.Lock()
    backend_lock = threading.Lock()
    state: dict[str, Any] = {"backend": None}
    memory = Memory(config.memory_path)
    audit = AuditLog(config.audit_path) if config.audit else None

    def database(name: str | None) -> tuple[str, Database]:
        key = name or next(iter(config.databases))
        if key not in config.databases:
            raise APIError(
                404,
                "not_found",
                f"No database named {key!r}; served: {', '.join(config.databases)}.",
            )
        with lock:
            if key not in config._opened:
                config._opened[key] = honestsql.connect(
                    config.databases[key],
                    schemas=config.schemas,
                    allow_privileged=config.allow_privileged,
                )
            return key, config._opened[key]

    def backend() -> Backend:
        if config.backend_factory is None:
            raise APIError(
                503,
                "llm",
                "No language model is configured: start the server with --base-url URL --model NAME, "
                "or --llm llama-cpp.",
            )
        with backend_lock:
            if state["backend"] is None:
                state["backend"] = config.backend_factory()
            return state["backend"]  # type: ignore[no-any-return]

    def authorized(request: Request) -> None:
        if not config.api_key:
            return
        given = request.headers.get("x-api-key") or ""
        bearer = request.headers.get("authorization") or ""
        if bearer.lower().startswith("bearer "):
            given = given or bearer[7:]
        if not secrets.compare_digest(given.encode(), config.api_key.encode()):
            raise APIError(
                401, "unauthorized", "Missing or wrong API key: send it in the X-API-Key header."
            )

    @app.exception_handler(APIError)
    async def api_error(_: Request, exc: APIError) -> JSONResponse:
        return envelope(exc.status, exc.kind, exc.message)

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
        status = (
            502
            if isinstance(exc, BackendError)
            else 503
            if isinstance(exc, ConnectionFailed)
            else (_STATUS_OF_KIND.get(exc.kind, 400))
        )
        return envelope(status, exc.kind, exc.message)

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
    async def health() -> dict[str, Any]:
        return {
            "ok": True,
            "status": "ok",
            "version": honestsql.__version__,
            "databases": list(config.databases),
        }

    @app.get("/api/schema", dependencies=[Depends(authorized)])
    async def schema(db: str | None = None) -> dict[str, Any]:
        name, database_ = database(db)
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
        _, database_ = database(body.db)
        timeout = min(body.timeout or config.max_timeout, config.max_timeout)
        max_rows = min(
            body.max_rows if body.max_rows is not None else config.max_rows, config.max_rows
        )
        return check(database_, body.sql, timeout=timeout, max_rows=max_rows).to_dict()

    @app.post("/api/ask", dependencies=[Depends(authorized)])
    async def ask(body: AskRequest) -> dict[str, Any]:
        return await offload(ask_sync, body)  # type: ignore[no-any-return]

    def ask_sync(body: AskRequest) -> dict[str, Any]:
        _, database_ = database(body.db)
        model = backend()
        settings = Settings(
            candidates=body.candidates, timeout=config.max_timeout, max_rows=config.max_rows
        )
        pipeline = Pipeline(database_, model, settings, audit, memory)
        if model.local and not getattr(model, "base_url", None):
            with backend_lock:  # an in-process model serves one question at a time
                answer = pipeline.ask(body.question, target=body.target, evidence=body.evidence)
        else:
            answer = pipeline.ask(body.question, target=body.target, evidence=body.evidence)
        return answer.to_dict()

    @app.post("/api/feedback", dependencies=[Depends(authorized)])
    async def feedback(body: FeedbackRequest) -> dict[str, Any]:
        return await offload(feedback_sync, body)  # type: ignore[no-any-return]

    def feedback_sync(body: FeedbackRequest) -> dict[str, Any]:
        _, database_ = database(body.db)
        if body.vote == "up":
            if not body.sql:
                raise APIError(422, "invalid_input", "A thumbs-up needs the SQL it approves.")
            verdict = check(database_, body.sql, execute=False)
            if not verdict.ok:
                raise APIError(
                    422, "invalid_input", "Only verified read-only SQL can be remembered."
                )
            pair_id = memory.add(database_.display_url, body.question, verdict.sql or body.sql)
            return {"ok": True, "stored": "verified", "id": pair_id}
        failure_id = memory.record_failure(
            database_.display_url, body.question, body.sql, body.comment
        )
        return {"ok": True, "stored": "failure", "id": failure_id}

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


class RequestGate:
    """ASGI middleware in front of everything: the Host header and the body size.

    With no API key, a request must name a loopback host (or one allowed with ``--allowed-host``)
    in its Host header, so a web page that rebinds its own name to 127.0.0.1 cannot reach the
    API. The body cap is enforced while the body is read, chunked or not: ``Content-Length``
    alone can be absent or lie.
    """

    def __init__(
        self, app: Any, max_body_bytes: int, allowed_hosts: set[str] | frozenset[str] | None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.allowed_hosts = {h.lower() for h in allowed_hosts} if allowed_hosts else None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if self.allowed_hosts is not None:
            host = _host_name(headers.get("host", ""))
            if host not in self.allowed_hosts:
                reply = envelope(
                    403,
                    "forbidden_host",
                    f"Requests must be addressed to this machine (Host {host or 'missing'!r} is "
                    "not allowed); start the server with --allowed-host NAME, or with a key.",
                )
                await reply(scope, receive, send)
                return
        too_large = envelope(
            413, "too_large", f"Request bodies are limited to {self.max_body_bytes} bytes."
        )
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body_bytes:
            await too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = scope["method"] not in {"GET", "HEAD", "OPTIONS"} or "transfer-encoding" in headers
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _host_name(header: str) -> str:
    """The host part of a Host header, without the port (``[::1]:8000`` -> ``::1``)."""
    text = header.strip().lower()
    if text.startswith("["):
        return text[1 : text.find("]")] if "]" in text else text
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


NUMERIC = {"integer", "real", "decimal"}


def _chart_points(rows: list[list[Any]]) -> tuple[list[str], list[float]]:
    """Labels and numbers from rows of [label, number]; anything else is the client's error."""
    labels, values = [], []
    for index, row in enumerate(rows):
        if len(row) != 2:
            raise APIError(422, "invalid_input", f"Row {index} must be [label, number].")
        label, value = row
        if isinstance(value, bool) or not isinstance(value, int | float | str | None):
            raise APIError(422, "invalid_input", f"Row {index}: the value must be a number.")
        try:
            number = 0.0 if value is None else float(value)
        except ValueError:
            raise APIError(
                422, "invalid_input", f"Row {index}: {str(value)[:40]!r} is not a number."
            ) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise APIError(422, "invalid_input", f"Row {index}: the value must be finite.")
        if isinstance(label, dict | list):
            raise APIError(422, "invalid_input", f"Row {index}: the label must be a value.")
        labels.append(str(label)[:200])
        values.append(number)
    return labels, values


CATEGORY = {"text", "date", "datetime", "boolean"}


def render_chart(columns: list[dict[str, str]], rows: list[list[Any]]) -> bytes:
    """A bar chart (category x number) or line chart (date x number) drawn by matplotlib from the
    result data; never from code a model wrote."""
    kinds = [c.get("type", "") for c in columns]
    if not (kinds[0] in CATEGORY and kinds[1] in NUMERIC):
        raise APIError(
            422, "invalid_input", "A chart needs a text or date column followed by a numeric one."
        )
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ModuleNotFoundError:
        raise APIError(
            501, "unavailable", "Charts need matplotlib: pip install 'honestsql[server]'."
        ) from None
    labels, values = _chart_points(rows)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    if kinds[0] in {"date", "datetime"}:
        ax.plot(labels, values, marker="o", color="#1f5fa8")
    else:
        ax.bar(labels, values, color="#1f5fa8")
    ax.set_xlabel(columns[0].get("name", ""))
    ax.set_ylabel(columns[1].get("name", ""))
    ax.tick_params(axis="x", labelrotation=45 if len(labels) > 6 else 0, labelsize=8)
    ax.grid(axis="y", alpha=0.3)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()
