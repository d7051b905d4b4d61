"""What differs between databases, one short subclass each (the sqlglot way).

The base class holds the common behaviour; each subclass overrides only what its database does
differently: how a read-only connection is opened, how a transaction is made read-only with a
server-side time limit, how a running query is cancelled from another thread, and the one query
whose result fingerprints the schema.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

from honestsql.catalog import Column, ForeignKey, Table
from honestsql.errors import ConnectionFailed


class Dialect:
    """Behaviour shared by every database; subclasses override what differs."""

    #: sqlglot dialect name.
    name: ClassVar[str] = ""
    #: Whether identifiers are compared case-sensitively after sqlglot's normalization.
    case_sensitive: ClassVar[bool] = False
    #: A query listing every (table, column, type) of the introspected schema, in a stable order.
    fingerprint_sql: ClassVar[str] = ""
    #: Whether row counts come from statistics (estimates) rather than COUNT(*).
    estimated_row_counts: ClassVar[bool] = True
    #: Whether executed SQL names tables with their schema (where unqualified names could
    #: resolve to a system catalog first).
    qualify_names: ClassVar[bool] = False

    def __init__(self, url: URL) -> None:
        self.url = url

    def create_engine(self) -> Engine:
        return sa.create_engine(self.url, pool_pre_ping=True)

    def begin_read_only(self, conn: Connection, timeout: float) -> Callable[[], None] | None:
        """Make the current transaction read-only with a server-side time limit.

        Returns a cleanup function to call after the query (or ``None``).
        """
        return None

    def canceller(self, conn: Connection, engine: Engine) -> Callable[[], None]:
        """A function that, called from another thread, stops the query running on ``conn``."""
        return lambda: None

    def streams(self, sql: str) -> bool:
        """Whether ``sql`` is read through a server-side cursor (rows fetched as they are
        needed, so memory is bounded by the row cap, not by the size of the result)."""
        return False

    def stop_unread(self, cancel: Callable[[], None]) -> None:
        """Called when rows are left unread on a streamed result, before it is closed."""

    def row_counts(self, conn: Connection, tables: list[str], schema: str | None) -> dict[str, int]:
        """Row counts per table; estimates where the database keeps statistics."""
        return {}

    def tables_case_sensitive(self, conn: Connection) -> bool:
        return self.case_sensitive

    #: The query giving (database, default schema) of a connection.
    names_sql: ClassVar[str] = ""

    def current_names(self, conn: Connection) -> tuple[str, str]:
        """The connection's database and default schema: the only qualifiers a name may carry
        unless more schemas are exposed."""
        database, schema = conn.exec_driver_sql(self.names_sql).one()
        return str(database or ""), str(schema or "")

    def read_tables(self, conn: Connection, schema: str | None = None) -> list[Table]:
        """Tables and views of the default schema (or of ``schema``, named ``schema.table``),
        with columns, keys and comments.

        Uses SQLAlchemy's bulk ``get_multi_*`` reflection (a few queries for any number of
        tables on PostgreSQL; per-table PRAGMAs on SQLite).
        """
        inspector = sa.inspect(conn)
        kinds = sa.engine.reflection.ObjectKind
        scope = sa.engine.reflection.ObjectScope.DEFAULT
        views = set(inspector.get_view_names(schema=schema))
        columns = inspector.get_multi_columns(schema=schema, kind=kinds.ANY, scope=scope)
        pks = inspector.get_multi_pk_constraint(schema=schema, kind=kinds.TABLE, scope=scope)
        fks = inspector.get_multi_foreign_keys(schema=schema, kind=kinds.TABLE, scope=scope)
        try:
            comments: dict[Any, Any] = dict(
                inspector.get_multi_table_comment(schema=schema, kind=kinds.ANY, scope=scope)
            )
        except NotImplementedError:
            comments = {}
        prefix = f"{schema}." if schema else ""
        tables = []
        for (owner, name), cols in sorted(columns.items(), key=lambda kv: kv[0][1]):
            key = (owner, name)
            pk_info: dict[str, Any] = dict(pks.get(key) or {})
            pk = list(pk_info.get("constrained_columns") or [])
            tables.append(
                Table(
                    name=prefix + name,
                    schema_name=schema,
                    is_view=name in views,
                    columns=[
                        Column(
                            name=c["name"],
                            type=_type_text(c["type"]),
                            nullable=bool(c.get("nullable", True)),
                            primary_key=c["name"] in pk,
                            comment=c.get("comment") or None,
                        )
                        for c in cols
                    ],
                    primary_key=pk,
                    foreign_keys=[
                        ForeignKey(
                            columns=list(fk["constrained_columns"]),
                            ref_table=(
                                f"{fk['referred_schema']}.{fk['referred_table']}"
                                if fk.get("referred_schema") and fk["referred_schema"] != owner
                                else prefix + fk["referred_table"]
                            ),
                            ref_columns=list(fk["referred_columns"]),
                        )
                        for fk in fks.get(key) or []
                    ],
                    comment=(comments.get(key) or {}).get("text") or None,
                )
            )
        return tables

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def privileges(self, conn: Connection) -> list[str]:
        """What the login may do beyond reading this database's data (empty when nothing):
        the reasons honestsql refuses to run as it without ``--allow-privileged``."""
        return []

    def least_privilege_hint(self) -> str:
        """The statements that create a login which can only read."""
        return ""


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
    fingerprint_sql = (
        "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master "
        "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
    )
    estimated_row_counts = False

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


class DuckDB(Dialect):
    """DuckDB opened ``read_only`` with external (file and network) access off and locked.

    Schema reading uses DuckDB's own ``duckdb_*()`` functions: duckdb-engine inherits
    PostgreSQL's reflection queries, which DuckDB cannot run.
    """

    name = "duckdb"
    fingerprint_sql = (
        "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE NOT internal ORDER BY schema_name, table_name, column_index"
    )

    def create_engine(self) -> Engine:
        path = Path(self.url.database or "")
        if self.url.database in {None, "", ":memory:"}:
            raise ConnectionFailed(
                "An in-memory DuckDB database has no schema to answer from; give a file path."
            )
        if not path.is_file():
            raise ConnectionFailed(f"The DuckDB file {str(path)!r} does not exist. Check the path.")
        config = {"enable_external_access": False, "lock_configuration": True}
        return sa.create_engine(
            self.url, connect_args={"read_only": True, "config": config}, poolclass=sa.pool.NullPool
        )

    def canceller(self, conn: Connection, engine: Engine) -> Callable[[], None]:
        raw: Any = conn.connection.driver_connection
        return lambda: raw.interrupt()

    def row_counts(self, conn: Connection, tables: list[str], schema: str | None) -> dict[str, int]:
        rows = conn.exec_driver_sql(
            "SELECT table_name, estimated_size FROM duckdb_tables() WHERE schema_name = current_schema()"
        ).fetchall()
        return {str(name): int(size or 0) for name, size in rows}

    names_sql = "SELECT current_database(), current_schema()"

    def read_tables(self, conn: Connection, schema: str | None = None) -> list[Table]:
        where = "schema_name = current_schema() AND database_name = current_database()"
        prefix = ""
        if schema:
            literal = "'" + schema.replace("'", "''") + "'"
            where = f"schema_name = {literal} AND database_name = current_database()"
            prefix = f"{schema}."
        comments: dict[str, str | None] = {
            str(name): comment
            for name, comment in conn.exec_driver_sql(
                f"SELECT table_name, comment FROM duckdb_tables() WHERE {where}"
            ).fetchall()
        }
        views = {
            r[0]
            for r in conn.exec_driver_sql(
                f"SELECT view_name FROM duckdb_views() WHERE NOT internal AND {where}"
            ).fetchall()
        }
        pks: dict[str, list[str]] = {}
        fks: dict[str, list[ForeignKey]] = {}
        for table, kind, cols, ref_table, ref_cols in conn.exec_driver_sql(
            "SELECT table_name, constraint_type, constraint_column_names, referenced_table, "
            f"referenced_column_names FROM duckdb_constraints() WHERE {where} "
            "AND constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY') ORDER BY table_name, constraint_index"
        ).fetchall():
            if kind == "PRIMARY KEY":
                pks[table] = list(cols)
            else:
                fks.setdefault(table, []).append(
                    ForeignKey(columns=list(cols), ref_table=ref_table, ref_columns=list(ref_cols))
                )
        columns: dict[str, list[Column]] = {}
        for table, name, data_type, nullable, comment in conn.exec_driver_sql(
            "SELECT table_name, column_name, data_type, is_nullable, comment FROM duckdb_columns() "
            f"WHERE NOT internal AND {where} ORDER BY table_name, column_index"
        ).fetchall():
            columns.setdefault(table, []).append(
                Column(
                    name=name,
                    type=str(data_type),
                    nullable=bool(nullable),
                    primary_key=name in pks.get(table, []),
                    comment=comment or None,
                )
            )
        for keys in fks.values():
            for fk in keys:
                fk.ref_table = prefix + fk.ref_table
        return [
            Table(
                name=prefix + name,
                schema_name=schema,
                columns=cols,
                primary_key=pks.get(name, []),
                foreign_keys=fks.get(name, []),
                comment=comments.get(name) or None,
                is_view=name in views,
            )
            for name, cols in sorted(columns.items())
        ]


class PostgreSQL(Dialect):
    """PostgreSQL in a ``READ ONLY`` transaction with ``statement_timeout``."""

    name = "postgres"
    case_sensitive = True
    names_sql = "SELECT current_database(), current_schema()"
    qualify_names = True
    # Hashed on the server from pg_catalog: information_schema.columns is slow on wide schemas.
    fingerprint_sql = (
        "SELECT md5(coalesce(string_agg(c.relname || '.' || a.attname || ':' "
        "|| format_type(a.atttypid, a.atttypmod) || ':' || c.relkind::text, ',' "
        "ORDER BY c.relname, a.attnum), '')) "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND a.attnum > 0 AND NOT a.attisdropped "
        "AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
    )

    def begin_read_only(self, conn: Connection, timeout: float) -> Callable[[], None] | None:
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(timeout * 1000))}")
        return None

    def canceller(self, conn: Connection, engine: Engine) -> Callable[[], None]:
        raw: Any = conn.connection.driver_connection
        return lambda: raw.cancel_safe(timeout=2.0)

    def streams(self, sql: str) -> bool:
        # A named cursor (DECLARE ... CURSOR) takes only a SELECT, not an EXPLAIN.
        return not sql.lstrip().upper().startswith("EXPLAIN")

    #: Predefined roles whose members read or write server files, run programs or signal
    #: other sessions.
    _POWERFUL_ROLES = (
        "pg_read_server_files",
        "pg_write_server_files",
        "pg_execute_server_program",
        "pg_signal_backend",
        "pg_checkpoint",
        "pg_create_subscription",
    )

    def privileges(self, conn: Connection) -> list[str]:
        flags = conn.exec_driver_sql(
            "SELECT rolsuper, rolreplication, rolbypassrls, rolcreaterole FROM pg_roles "
            "WHERE rolname = current_user"
        ).one()
        reasons = [
            what
            for what, on in zip(
                ("superuser", "replication", "bypasses row-level security", "creates roles"),
                flags,
                strict=True,
            )
            if on
        ]
        names = ", ".join(f"'{r}'" for r in self._POWERFUL_ROLES)
        members = conn.exec_driver_sql(
            f"SELECT rolname FROM pg_roles WHERE rolname IN ({names}) "
            "AND pg_has_role(current_user, oid, 'MEMBER') ORDER BY rolname"
        ).fetchall()
        reasons += [f"member of {row[0]}" for row in members]
        return reasons

    def least_privilege_hint(self) -> str:
        database = self.url.database or "mydb"
        return (
            "CREATE ROLE honestsql_reader LOGIN PASSWORD '...';\n"
            f'GRANT CONNECT ON DATABASE "{database}" TO honestsql_reader;\n'
            "GRANT USAGE ON SCHEMA public TO honestsql_reader;\n"
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO honestsql_reader;"
        )

    def row_counts(self, conn: Connection, tables: list[str], schema: str | None) -> dict[str, int]:
        rows = conn.exec_driver_sql(
            "SELECT c.relname, GREATEST(c.reltuples, 0)::bigint FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm')"
        ).fetchall()
        return {str(name): int(count) for name, count in rows}


class MySQL(Dialect):
    """MySQL/MariaDB in a ``READ ONLY`` transaction with a server statement time limit.

    A read-only transaction in MySQL does not stop DDL (it commits implicitly), so for these
    servers the statement guard is the barrier against DDL; connect as a user with only SELECT
    privileges for a second one.
    """

    name = "mysql"
    names_sql = "SELECT '', DATABASE()"
    fingerprint_sql = (
        "SELECT table_name, column_name, column_type, ordinal_position "
        "FROM information_schema.columns WHERE table_schema = DATABASE() "
        "ORDER BY table_name, ordinal_position"
    )

    def begin_read_only(self, conn: Connection, timeout: float) -> Callable[[], None] | None:
        # The limit is a session setting, so it is reset afterwards: the pooled connection is
        # reused for schema reading, which must not inherit a short query's limit.
        if getattr(conn.dialect, "is_mariadb", False):
            setting, value = "max_statement_time", f"{max(0.001, timeout):.3f}"
        else:
            setting, value = "max_execution_time", str(max(1, int(timeout * 1000)))
        conn.exec_driver_sql(f"SET SESSION {setting} = {value}")
        conn.exec_driver_sql("START TRANSACTION READ ONLY")

        def reset() -> None:
            conn.exec_driver_sql(f"SET SESSION {setting} = DEFAULT")

        return reset

    def canceller(self, conn: Connection, engine: Engine) -> Callable[[], None]:
        raw: Any = conn.connection.driver_connection
        thread_id = int(raw.thread_id())

        def cancel() -> None:
            with engine.connect() as killer:
                killer.exec_driver_sql(f"KILL QUERY {thread_id}")

        return cancel

    def streams(self, sql: str) -> bool:
        return True  # PyMySQL's unbuffered cursor

    def stop_unread(self, cancel: Callable[[], None]) -> None:
        cancel()  # else closing the cursor reads (and drops) every remaining row

    def row_counts(self, conn: Connection, tables: list[str], schema: str | None) -> dict[str, int]:
        rows = conn.exec_driver_sql(
            "SELECT table_name, table_rows FROM information_schema.tables "
            "WHERE table_schema = DATABASE()"
        ).fetchall()
        return {str(name): int(count or 0) for name, count in rows}

    def privileges(self, conn: Connection) -> list[str]:
        reasons = []
        for (grant,) in conn.exec_driver_sql("SHOW GRANTS FOR CURRENT_USER()").fetchall():
            match = _GLOBAL_GRANT.match(str(grant))
            if match and match.group(1).strip().upper() != "USAGE":
                reasons.append(f"global privileges ({match.group(1).strip()} ON *.*)")
            elif re.search(r"\bWITH\b.*\bGRANT OPTION\b", str(grant), re.I):
                reasons.append("can grant privileges to others (WITH GRANT OPTION)")
        return reasons

    def least_privilege_hint(self) -> str:
        database = self.url.database or "mydb"
        return (
            "CREATE USER 'honestsql_reader'@'%' IDENTIFIED BY '...';\n"
            f"GRANT SELECT ON `{database}`.* TO 'honestsql_reader'@'%';"
        )

    def tables_case_sensitive(self, conn: Connection) -> bool:
        # 0: names are stored and compared as given (the Linux default).
        return bool(conn.exec_driver_sql("SELECT @@lower_case_table_names").scalar_one() == 0)

    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"


#: ``GRANT <privileges> ON *.* TO ...``: a grant over every database of the server.
_GLOBAL_GRANT = re.compile(r"^\s*GRANT\s+(.+?)\s+ON\s+\*\.\*\s+TO\b", re.I)


def _type_text(sa_type: Any) -> str:
    try:
        return str(sa_type)
    except Exception:  # some reflected types cannot compile without a dialect
        return type(sa_type).__name__.upper()


_BY_BACKEND: dict[str, type[Dialect]] = {
    "sqlite": SQLite,
    "duckdb": DuckDB,
    "postgresql": PostgreSQL,
    "mysql": MySQL,
    "mariadb": MySQL,
}


def for_url(url: URL) -> Dialect:
    return _BY_BACKEND[url.get_backend_name()](url)
