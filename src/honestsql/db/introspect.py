"""Reading a database's schema into a ``Catalog``.

Introspection goes through SQLAlchemy's inspector (its bulk ``get_multi_*`` calls, so a
PostgreSQL schema of thousands of tables costs a handful of queries), by way of the dialect's
``read_tables``. Sample values are read with one query per table. ``fingerprint`` is one query
listing every table, column and type: the cache (``honestsql.cache``) keys on it, so a changed
schema is introspected again.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from honestsql.cache import CACHE_VERSION
from honestsql.catalog import Catalog, Table
from honestsql.db.url import driver_message
from honestsql.errors import CatalogError

if TYPE_CHECKING:
    from honestsql.db.dialects import Dialect
    from honestsql.policy import Policy

SAMPLE_ROWS = 200
SAMPLES_PER_COLUMN = 5
SAMPLE_MAX_CHARS = 80


def fingerprint(conn: Connection, dialect: Dialect) -> str:
    rows = conn.exec_driver_sql(dialect.fingerprint_sql).fetchall()
    digest = hashlib.sha256(f"v{CACHE_VERSION}".encode())
    for row in rows:
        digest.update(("\x1f".join("" if v is None else str(v) for v in row) + "\x1e").encode())
    return digest.hexdigest()[:24]


def introspect(
    conn: Connection,
    dialect: Dialect,
    *,
    samples: bool = True,
    schemas: Iterable[str] = (),
    policy: Policy | None = None,
) -> Catalog:
    """Read the whole schema of the connection's default schema, plus the ``schemas`` exposed;
    no sample value is read from what ``policy`` hides."""
    started = time.perf_counter()
    schema_fingerprint = fingerprint(conn, dialect)
    exposed = list(schemas)
    try:
        database_name, default_schema = dialect.current_names(conn)
        tables = dialect.read_tables(conn)
        for schema in exposed:
            tables += dialect.read_tables(conn, schema)
    except sa.exc.SQLAlchemyError as exc:
        detail = getattr(exc, "orig", None) or exc
        raise CatalogError(f"Could not read the schema: {str(detail).splitlines()[0]}") from None
    try:
        counts = dialect.row_counts(conn, [t.name for t in tables if not t.is_view], None)
    except sa.exc.SQLAlchemyError:
        counts = {}
    for table in tables:
        if table.schema_name is None and table.name in counts:
            table.row_count = counts[table.name]
            table.row_count_estimated = dialect.estimated_row_counts
        if samples and not table.is_view:
            hidden = policy.unsampled(table) if policy is not None else set()
            if hidden is not None:
                _sample(conn, dialect, table, hidden)
    return Catalog(
        dialect=dialect.name,
        fingerprint=schema_fingerprint,
        tables=tables,
        build_seconds=round(time.perf_counter() - started, 4),
        case_sensitive=dialect.case_sensitive,
        table_case_sensitive=dialect.tables_case_sensitive(conn),
        default_schema=default_schema,
        database_name=database_name,
        exposed_schemas=exposed,
    )


def _sample(conn: Connection, dialect: Dialect, table: Table, hidden: set[str]) -> None:
    """Fill ``samples`` of the text columns (but the ``hidden`` ones) with a few distinct values
    from the first rows."""
    text_columns = [c for c in table.columns if c.is_text and c.name not in hidden]
    if not text_columns or table.known_empty:
        return
    select = ", ".join(dialect.quote(c.name) for c in text_columns)
    source = dialect.quote(table.name)
    if table.schema_name is not None:
        source = f"{dialect.quote(table.schema_name)}.{dialect.quote(table.bare_name)}"
    sql = f"SELECT {select} FROM {source} LIMIT {SAMPLE_ROWS}"
    try:
        rows = conn.exec_driver_sql(sql).fetchall()
    except sa.exc.SQLAlchemyError:
        conn.rollback()  # an aborted PostgreSQL transaction would fail every later sample
        return
    for index, column in enumerate(text_columns):
        seen: dict[str, None] = {}
        for row in rows:
            value = row[index]
            if value is None:
                continue
            text = str(value)[:SAMPLE_MAX_CHARS]
            if text.strip():
                seen.setdefault(text)
            if len(seen) >= SAMPLES_PER_COLUMN:
                break
        column.samples = list(seen)


def view_sql(conn: Connection, view: Table) -> str | None:
    """A view's definition as the database reports it; ``None`` when it cannot be read."""
    try:
        text = sa.inspect(conn).get_view_definition(view.bare_name, view.schema_name)
    except (sa.exc.SQLAlchemyError, NotImplementedError):
        conn.rollback()
        return None
    return str(text) if text else None


class SchemaReader(Protocol):
    """Reads a database's schema (``Database.schema_reader``)."""

    def fingerprint(self) -> str: ...

    def read(self, *, samples: bool, schemas: list[str], policy: Policy | None) -> Catalog:
        """The whole catalog of the default schema and the ``schemas`` exposed."""
        ...

    def view_sql(self, view: Table) -> str | None: ...


class SQLSchemaReader:
    """The schema through a SQLAlchemy connection (``honestsql.db.introspect``)."""

    def __init__(self, conn: Connection, dialect: Dialect, display_url: str) -> None:
        self.conn, self.dialect, self.display_url = conn, dialect, display_url

    def fingerprint(self) -> str:
        try:
            return fingerprint(self.conn, self.dialect)
        except sa.exc.DBAPIError as exc:
            raise CatalogError(
                f"Could not read the schema of {self.display_url}: {driver_message(exc)}"
            ) from None

    def read(self, *, samples: bool, schemas: list[str], policy: Policy | None) -> Catalog:
        return introspect(self.conn, self.dialect, samples=samples, schemas=schemas, policy=policy)

    def view_sql(self, view: Table) -> str | None:
        return view_sql(self.conn, view)
