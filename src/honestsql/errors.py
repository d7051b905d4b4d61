"""One error hierarchy for the library, the CLI, the HTTP API and the MCP tools.

Every error has a machine-readable ``kind`` (the same vocabulary as verification findings), a
message that says how to fix the problem, and the HTTP status it answers with (``http_status``:
the one place that maps kinds to statuses). ``error_body`` is the one JSON shape of a failure,
for HTTP and MCP alike. Nothing here ever carries a password: messages that mention a database
URL use :func:`honestsql.db.url.redact`.
"""

from __future__ import annotations

from typing import Any, ClassVar


class HonestSQLError(Exception):
    """Base class: something a user can get wrong or a database can refuse."""

    kind = "error"
    #: ``rejected`` when honestsql refused to run the SQL, ``error`` when running it failed.
    status = "error"
    #: The HTTP status this error answers with.
    http_status: ClassVar[int] = 400

    def __init__(self, message: str, *, kind: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if kind is not None:
            self.kind = kind

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "message": self.message, "suggestions": []}


class InvalidInput(HonestSQLError):
    """The input itself is unusable: empty, too long, not valid text, a bad option value."""

    kind = "invalid_input"
    status = "rejected"
    http_status = 422


class ConnectionFailed(HonestSQLError):
    """The database could not be reached or opened (bad URL, missing file, wrong password)."""

    kind = "connection"
    http_status = 503


class MissingDriver(ConnectionFailed):
    """The database URL needs a driver that is not installed."""


class ExecutionFailed(HonestSQLError):
    """The database refused or failed to run a query that passed verification."""

    kind = "execution"


class QueryTimeout(ExecutionFailed):
    """The query ran longer than its time limit and was stopped."""

    kind = "timeout"


class CatalogError(HonestSQLError):
    """The schema could not be read, or a description file is malformed."""

    kind = "catalog"
    http_status = 500


class PrivilegedLogin(ConnectionFailed):
    """The login can do more than read (a superuser, file access, global grants)."""

    kind = "privileged_login"


class NotFound(HonestSQLError):
    """A named thing (a served database, a page) does not exist."""

    kind = "not_found"
    http_status = 404


class Unauthorized(HonestSQLError):
    """The request lacks the API key, or carries a wrong one."""

    kind = "unauthorized"
    http_status = 401


class Unavailable(HonestSQLError):
    """A feature needs an optional package that is not installed."""

    kind = "unavailable"
    http_status = 501


def error_body(kind: str, message: str, http_status: int) -> dict[str, Any]:
    """The one JSON shape of a failure over HTTP and MCP."""
    return {"ok": False, "error": {"kind": kind, "message": message}, "status": http_status}


def body_of(exc: HonestSQLError) -> dict[str, Any]:
    return error_body(exc.kind, exc.message, exc.http_status)
