"""One error hierarchy for the library, the CLI and the HTTP API.

Every error has a machine-readable ``kind`` (the same vocabulary as verification findings) and a
message that says how to fix the problem. Nothing here ever carries a password: messages that
mention a database URL use :func:`honestsql.db.url.redact`.
"""

from __future__ import annotations


class HonestSQLError(Exception):
    """Base class: something a user can get wrong or a database can refuse."""

    kind = "error"
    #: ``rejected`` when honestsql refused to run the SQL, ``error`` when running it failed.
    status = "error"

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


class ConnectionFailed(HonestSQLError):
    """The database could not be reached or opened (bad URL, missing file, wrong password)."""

    kind = "connection"


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


class PrivilegedLogin(ConnectionFailed):
    """The login can do more than read (a superuser, file access, global grants)."""

    kind = "privileged_login"
