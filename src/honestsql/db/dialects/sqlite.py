"""SQLite: a read-only URI connection, an authorizer that admits only reading, and a deadline
enforced by the progress handler."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

from honestsql.catalog import Table
from honestsql.db.dialects.base import Dialect
from honestsql.errors import ConnectionFailed

#: SQLite's limit on the length of any string or blob it builds while running a query.
SQLITE_MAX_VALUE_BYTES = 16 << 20


class _DeadlineConnection(sqlite3.Connection):
    """A SQLite connection whose progress handler interrupts queries past their deadline."""

    deadline: float | None = None

    def past_deadline(self) -> int:
        deadline = self.deadline
        return 1 if deadline is not None and time.monotonic() > deadline else 0


class SQLite(Dialect):
    """SQLite opened with ``mode=ro`` plus an authorizer that denies every write, ATTACH,
    PRAGMA assignment and extension loading, and a progress handler that enforces the deadline."""

    name = "sqlite"
    display_name = "SQLite"
    prompt_name = "Sqlite"
    pitfalls = (
        "An integer divided by an integer is truncated: write a * 1.0 / b for a ratio.",
        "Dates and times are text: strftime('%Y', d), date(d, '-1 month'), date('now'), "
        "julianday(a) - julianday(b).",
    )
    schemes = ("sqlite",)
    fingerprint_sql = (
        "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master "
        "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
    )
    estimated_row_counts = False

    def read_tables(self, conn: Connection, schema: str | None = None) -> list[Table]:
        """The base reading, plus UNIQUE columns declared inline (SQLAlchemy skips SQLite's
        automatic indexes, which is where ``login TEXT UNIQUE`` lives)."""
        tables = super().read_tables(conn, schema)
        by_name = {t.bare_name: t for t in tables if not t.is_view}
        where = schema or "main"
        rows = conn.exec_driver_sql(  # one query for every table's unique indexes
            f"SELECT m.name, il.name, ii.name FROM {self.quote(where)}.sqlite_master m "
            "JOIN pragma_index_list(m.name, ?) il JOIN pragma_index_info(il.name, ?) ii "
            "WHERE m.type = 'table' AND il.\"unique\" AND il.origin != 'pk' "
            "ORDER BY m.name, il.name, ii.seqno",
            (where, where),
        ).fetchall()
        sets: dict[tuple[str, str], list[str]] = {}
        for table_name, index, column in rows:
            if column is not None and table_name in by_name:
                sets.setdefault((table_name, index), []).append(column)
        for (table_name, _), columns in sets.items():
            if columns not in by_name[table_name].unique:
                by_name[table_name].unique.append(columns)
        return tables

    def current_names(self, conn: Connection) -> tuple[str, str]:
        return "", "main"

    _ALLOWED = {
        sqlite3.SQLITE_SELECT,
        sqlite3.SQLITE_READ,
        sqlite3.SQLITE_FUNCTION,
        sqlite3.SQLITE_RECURSIVE,
    }
    _DENIED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}
    #: Pragmas that only read the schema (SQLAlchemy's introspection uses them); their argument
    #: is a table or index name, never a new value.
    _SCHEMA_PRAGMAS = {
        "table_info",
        "table_xinfo",
        "index_list",
        "index_info",
        "index_xinfo",
        "foreign_key_list",
        "database_list",
        "table_list",
    }
    #: Pragmas that act even when called without a value.
    _ACTING_PRAGMAS = {"optimize", "wal_checkpoint", "incremental_vacuum", "shrink_memory"}

    def __init__(self, url: URL) -> None:
        super().__init__(url)
        self.path = Path(url.database or "")

    @classmethod
    def authorize(
        cls, action: int, arg1: str | None, arg2: str | None, db: str | None, src: str | None
    ) -> int:
        if action in cls._ALLOWED:
            if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in cls._DENIED_FUNCTIONS:
                return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_UPDATE and (arg1 or "").lower() == "sqlite_master":
            # Declaring an eponymous virtual table (json_each, json_tree) asks this of the
            # authorizer. Nothing can be written all the same: the file is opened mode=ro,
            # SQLite refuses changes to sqlite_master without writable_schema, and that pragma
            # is denied below.
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_PRAGMA:
            pragma = (arg1 or "").lower()
            if pragma in cls._SCHEMA_PRAGMAS:
                return sqlite3.SQLITE_OK
            if arg2 is None and pragma not in cls._ACTING_PRAGMAS:
                return sqlite3.SQLITE_OK  # reading a setting (SQLAlchemy reads read_uncommitted)
        return sqlite3.SQLITE_DENY

    def _connect(self) -> sqlite3.Connection:
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, check_same_thread=False, factory=_DeadlineConnection)
        conn.set_authorizer(self.authorize)
        conn.set_progress_handler(conn.past_deadline, 1000)
        # No value may grow past this inside SQLite (randomblob(500000000), long replace()s).
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, SQLITE_MAX_VALUE_BYTES)
        return conn

    def create_engine(self) -> Engine:
        if self.url.database in {None, "", ":memory:"}:
            raise ConnectionFailed(
                "An in-memory SQLite database has no schema to answer from; give a file path."
            )
        if not self.path.is_file():
            raise ConnectionFailed(
                f"The SQLite file {str(self.path)!r} does not exist. Check the path, or pass a "
                "URL such as postgresql://user@host/db for a server database."
            )
        # The URL says "sqlite://", for which SQLAlchemy would pick its one-connection-per-thread
        # pool (meant for in-memory databases), which closes connections other threads still use.
        return sa.create_engine(
            "sqlite://",
            creator=self._connect,
            poolclass=sa.pool.QueuePool,
            pool_size=8,
            max_overflow=8,
        )

    def begin_read_only(self, conn: Connection, timeout: float) -> Callable[[], None] | None:
        raw: Any = conn.connection.driver_connection
        raw.deadline = time.monotonic() + timeout

        def clear() -> None:
            raw.deadline = None

        return clear

    def canceller(self, conn: Connection, engine: Engine) -> Callable[[], None]:
        raw: Any = conn.connection.driver_connection
        return lambda: raw.interrupt()

    def row_counts(self, conn: Connection, tables: list[str], schema: str | None) -> dict[str, int]:
        counts = {}
        for table in tables:
            counts[table] = int(
                conn.exec_driver_sql(f"SELECT COUNT(*) FROM {self.quote(table)}").scalar_one()
            )
        return counts
