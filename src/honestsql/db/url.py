"""Turning what a user types after ``--db`` into a SQLAlchemy URL, and back into safe text."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from honestsql.db.dialects import Dialect
from honestsql.errors import ConnectionFailed

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_PASSWORD_RE = re.compile(r"(://[^:/@\s]*:)[^@/\s]*@")


def redact(text: str) -> str:
    """Replace any ``user:password@`` in ``text`` with ``user:***@``."""
    return _PASSWORD_RE.sub(r"\1***@", text)


def parse(target: str) -> URL:
    """Parse a ``--db`` value: a SQLAlchemy URL, or a plain file path (SQLite, DuckDB by suffix).

    ``postgres://`` is accepted as an alias of ``postgresql://``; drivers are chosen so that the
    optional extras (``psycopg``, ``pymysql``) are the ones used.
    """
    target = target.strip()
    if not target:
        raise ConnectionFailed("No database given: pass --db with a file path or a URL.")
    match = _SCHEME_RE.match(target)
    if not match:
        path = Path(target).expanduser()
        scheme = "duckdb" if path.suffix.lower() in {".duckdb", ".ddb"} else "sqlite"
        return URL.create(scheme, database=str(path.resolve()))
    try:
        url = make_url(target)
    except (ArgumentError, ValueError) as exc:
        raise ConnectionFailed(
            f"Could not read the database URL {redact(target)!r}: {redact(str(exc))}. "
            "Use a form like sqlite:///path/to.db, duckdb:///path/to.duckdb, "
            "postgresql://user@host:5432/dbname or mysql://user@host:3306/dbname."
        ) from None
    backend = url.get_backend_name()
    dialect = Dialect.registry.get(backend)
    if dialect is None:
        raise ConnectionFailed(
            f"Unsupported database type {backend!r} in {redact(target)!r}. "
            f"honestsql supports: {', '.join(sorted(set(Dialect.registry) - {'postgres'}))}."
        )
    if backend in {"sqlite", "duckdb"} and url.database and _is_file(url.database):
        # One spelling per file: a relative path, an absolute one and a URL are one database
        # (the key of its memory, conversations and caches).
        url = url.set(database=str(Path(url.database).expanduser().resolve()))
    if "+" not in url.drivername:  # no driver named: use the ones the extras install
        url = url.set(drivername=dialect.drivers.get(backend, url.drivername))
    elif backend == "postgres":
        url = url.set(drivername="postgresql+" + url.get_driver_name())
    return url


def _is_file(database: str) -> bool:
    return database != ":memory:" and not database.startswith(("file:", ":"))


def display(url: URL) -> str:
    """The URL as text with any password hidden."""
    return url.render_as_string(hide_password=True)


def driver_message(exc: DBAPIError) -> str:
    """The driver's own words, first line only, with credentials removed."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = text[0] if text else exc.__class__.__name__
    first = first.strip().rstrip(".")
    return redact(first) + "."
