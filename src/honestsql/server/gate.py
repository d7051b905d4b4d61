"""What stands in front of every request: the Host header and the body size."""

from __future__ import annotations

import re
from typing import Any

from fastapi.responses import JSONResponse

from honestsql.errors import error_body


def envelope(status: int, kind: str, message: str) -> JSONResponse:
    """The one error body (``honestsql.errors.error_body``) as a response."""
    return JSONResponse(error_body(kind, message, status), status_code=status)


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


_HOST = re.compile(r"^(?:\[(?P<v6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9.-]+))(?::[0-9]{1,5})?$")


def _host_name(header: str) -> str:
    """The host part of a Host header, without the port (``[::1]:8000`` -> ``::1``); empty
    (never allowed) when the header is not exactly a name or bracketed address with an optional
    port: ``[::1]evil.example`` and ``localhost:80@evil`` name no host."""
    match = _HOST.match(header.strip().lower())
    if match is None:
        return ""
    return match.group("v6") or match.group("name") or ""
