"""A database honestsql can read from, and the execution of already-guarded SQL.

Safety is layered: the statement guard (``honestsql.guard``) admits one read-only query; here the
connection is read-only as well (see ``honestsql.db.dialects``), every query has a wall-clock
limit enforced twice (by the server or SQLite's progress handler, and by a watchdog thread that
cancels the query), results are capped at ``max_rows`` with a ``truncated`` flag, and the
transaction is always rolled back.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from honestsql import cache, descriptions
from honestsql import policy as _policy
from honestsql.catalog import Catalog
from honestsql.db import introspect
from honestsql.db import url as urls
from honestsql.db.dialects import Dialect, for_url
from honestsql.db.result import QueryResult, ResultColumn, column_types
from honestsql.errors import (
    ConnectionFailed,
    ExecutionFailed,
    MissingDriver,
    PrivilegedLogin,
    QueryTimeout,
)

#: The most bytes one value may bring back; longer text and blobs are cut (``values_cut``).
MAX_VALUE_BYTES = 1 << 20
#: The most bytes one result may bring back; fetching stops there (``truncated``).
MAX_RESULT_BYTES = 32 << 20
#: Rows fetched per round trip from a server-side cursor.
FETCH_BATCH = 200
#: Takes the column names and one batch of rows (``Database.execute(..., sink=...)``).
Sink = Callable[[list[str], list[tuple[Any, ...]]], None]


class Database:
    """One database, opened read-only. ``target`` is a SQLAlchemy URL or a file path."""

    def __init__(
        self,
        target: str,
        *,
        descriptions: str | None = None,
        samples: bool = True,
        schemas: list[str] | None = None,
        allow_privileged: bool | None = None,
        policy: str | _policy.Policy | None = None,
    ) -> None:
        self.url, self.display_url, self.dialect = self._locate(target)
        #: The access policy (``honestsql.policy``; default ``$HONESTSQL_POLICY``).
        self.policy = _policy.load(policy)
        self._access: _policy.Access | None = None
        if schemas is None:
            schemas = os.environ.get("HONESTSQL_SCHEMAS", "").split(",")
        if allow_privileged is None:
            allow_privileged = os.environ.get("HONESTSQL_ALLOW_PRIVILEGED", "") not in {"", "0"}
        #: Schemas exposed besides the default one (their tables are named ``schema.table``).
        self.schemas = [s.strip() for s in schemas if s.strip()]
        #: Run even when the login can do more than read (superuser, file access, ...).
        self.allow_privileged = allow_privileged
        self.sql_dialect = self.dialect.name
        self._descriptions = descriptions
        self._samples = samples
        self._engine: Engine | None = None
        self._catalog: Catalog | None = None
        self._privileges_checked = allow_privileged

    def _locate(self, target: str) -> tuple[Any, str, Dialect]:
        """The parsed URL, its display form (no password) and the dialect of ``target``."""
        url = urls.parse(target)
        return url, urls.display(url), for_url(url)

    def __repr__(self) -> str:
        return f"Database({self.display_url!r})"

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- connections -------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            try:
                self._engine = self.dialect.create_engine()
            except (ModuleNotFoundError, sa.exc.NoSuchModuleError) as exc:
                extra = self.dialect.extra
                raise MissingDriver(
                    f"The driver for {self.url.get_backend_name()} is not installed ({exc}). "
                    f"Install it with: pip install 'honestsql[{extra}]'"
                ) from None
        return self._engine

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection whose transaction is always rolled back."""
        try:
            conn = self.engine.connect()
        except sa.exc.DBAPIError as exc:
            raise ConnectionFailed(
                f"Could not connect to {self.display_url}: {urls.driver_message(exc)} "
                "Check the host, port, database name, user and password."
            ) from None
        # no_parameters: SQL without parameters goes to the driver alone, so a '%' in it is not
        # read as a placeholder (psycopg and PyMySQL would otherwise reject LIKE 'a%').
        conn.execution_options(no_parameters=True)
        try:
            if not self._privileges_checked:
                self._check_privileges(conn)
            yield conn
        finally:
            try:
                conn.rollback()
            except sa.exc.SQLAlchemyError:
                conn.invalidate()
            conn.close()

    def _check_privileges(self, conn: Connection) -> None:
        """Refuse a login that can do more than read, unless ``allow_privileged``."""
        try:
            reasons = self.dialect.privileges(conn)
        except sa.exc.DBAPIError as exc:
            conn.rollback()
            reasons = [f"its privileges could not be read ({urls.driver_message(exc)})"]
        if reasons:
            raise PrivilegedLogin(
                f"The login for {self.display_url} can do more than read: {'; '.join(reasons)}. "
                "honestsql runs only read-only queries, but a second barrier needs a login that "
                "can only read. Create one:\n"
                f"{self.dialect.least_privilege_hint()}\n"
                "or, knowingly, pass --allow-privileged (HONESTSQL_ALLOW_PRIVILEGED=1)."
            )
        conn.rollback()
        self._privileges_checked = True

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # --- catalog -----------------------------------------------------------------------------

    @property
    def catalog_key(self) -> str:
        """What the on-disk catalog cache is keyed by (with the schema fingerprint)."""
        key = f"{self.display_url}|samples={self._samples}|schemas={','.join(self.schemas)}"
        return key + (f"|policy={self.policy.digest}" if self.policy is not None else "")

    @property
    def access(self) -> _policy.Access | None:
        """The access policy matched with this schema (``None`` without a policy)."""
        if self.policy is not None and self._access is None:
            self.catalog()
        return self._access

    def catalog(self, *, refresh: bool = False) -> Catalog:
        """The schema catalog, from memory, the disk cache (same schema fingerprint) or the
        database; with an access policy, what the policy lets people and models see."""
        if self._catalog is not None and not refresh:
            return self._catalog
        key = self.catalog_key
        with self.schema_reader() as reader:
            current = reader.fingerprint()
            cached = None if refresh else cache.load_cached(key, current)
            if cached is None:
                cached = reader.read(
                    samples=self._samples, schemas=self.schemas, policy=self.policy
                )
                cache.store(key, cached)
            if self._descriptions:
                cached.describe(descriptions.load_descriptions(self._descriptions))
            if self.policy is not None:
                self._access = _policy.bind(self.policy, cached, reader.view_sql)
                cached = self._access.visible()
        self._catalog = cached
        return cached

    @contextmanager
    def schema_reader(self) -> Iterator[introspect.SchemaReader]:
        """What reads the schema: one connection, for the fingerprint, the schema and views."""
        with self.connect() as conn:
            yield introspect.SQLSchemaReader(conn, self.dialect, self.display_url)

    # --- execution ---------------------------------------------------------------------------

    def execute(
        self, sql: str, *, timeout: float = 10.0, max_rows: int = 1000, sink: Sink | None = None
    ) -> QueryResult:
        """Run SQL that already passed the guard, read-only, within ``timeout`` seconds.

        With ``sink``, rows are handed to it a batch at a time (to a file, say) and not kept: the
        result then has no rows, and only ``max_rows`` bounds them (not the bytes per result).

        Raises :class:`QueryTimeout` when the limit is hit and :class:`ExecutionFailed` when the
        database refuses the query.
        """
        started = time.perf_counter()
        with self.connect() as conn:
            fired = threading.Event()
            try:
                cleanup = self.dialect.begin_read_only(conn, timeout)
                cancel = self.dialect.canceller(conn, self.engine)
            except sa.exc.DBAPIError as exc:
                why = urls.driver_message(exc)
                raise ConnectionFailed(
                    f"Could not start a read-only transaction on {self.display_url}: {why}"
                ) from None

            def on_deadline() -> None:
                fired.set()
                # The query may have finished meanwhile; then there is nothing to stop.
                with contextlib.suppress(Exception):
                    cancel()

            watchdog = threading.Timer(timeout, on_deadline)
            watchdog.daemon = True
            watchdog.start()
            try:
                streamed = self.dialect.streams(sql)
                if streamed:
                    conn = conn.execution_options(stream_results=True, max_row_buffer=FETCH_BATCH)
                result = conn.exec_driver_sql(sql)
                names = list(result.keys()) if result.returns_rows else []
                rows, truncated, cut, columns = read_rows(result, names, max_rows, sink)
                if truncated and streamed:
                    # Unread rows: MySQL's unbuffered cursor would read them all on close.
                    with contextlib.suppress(Exception):
                        self.dialect.stop_unread(cancel)
                with contextlib.suppress(sa.exc.DBAPIError):
                    result.close()
            except sa.exc.DBAPIError as exc:
                elapsed = time.perf_counter() - started
                if fired.is_set() or elapsed >= timeout * 0.95:
                    raise QueryTimeout(_TIMEOUT_MESSAGE.format(timeout=timeout)) from None
                raise ExecutionFailed(
                    f"The database could not run the query: {urls.driver_message(exc)}"
                ) from None
            finally:
                watchdog.cancel()
                if cleanup is not None:
                    try:
                        cleanup()
                    except sa.exc.SQLAlchemyError:
                        conn.invalidate()  # a connection that cannot be reset is not reused
        elapsed_ms = (time.perf_counter() - started) * 1000
        if fired.is_set() or elapsed_ms > timeout * 1000:
            # Fetching and converting count against the limit too.
            raise QueryTimeout(_TIMEOUT_MESSAGE.format(timeout=timeout))
        return QueryResult(
            columns=columns,
            rows=rows,
            truncated=truncated,
            elapsed_ms=elapsed_ms,
            sql=sql,
            values_cut=cut,
        )


_TIMEOUT_MESSAGE = (
    "The query ran longer than its {timeout:g} s limit and was stopped. "
    "Narrow it (filters, LIMIT, fewer joins) or allow more time with --timeout."
)


def read_rows(
    result: Any, names: list[str], max_rows: int, sink: Sink | None
) -> tuple[list[tuple[Any, ...]], bool, int, list[ResultColumn]]:
    """The rows of a result (anything with ``fetchmany``) under the caps, with whether more
    exist, the values cut and the typed columns; with ``sink``, rows go to it a batch at a time."""
    first: list[tuple[Any, ...]] = []

    def hand(batch: list[tuple[Any, ...]]) -> None:
        assert sink is not None
        if not first:
            first.extend(batch)
        sink(names, batch)

    rows, truncated, cut = (
        _fetch(result, max_rows, hand if sink is not None else None) if names else ([], False, 0)
    )
    types = column_types(rows or first, len(names))
    return rows, truncated, cut, [ResultColumn(n, t) for n, t in zip(names, types, strict=True)]


def _fetch(
    result: Any, max_rows: int, sink: Callable[[list[tuple[Any, ...]]], None] | None = None
) -> tuple[list[tuple[Any, ...]], bool, int]:
    """At most ``max_rows`` rows and (without a sink) ``MAX_RESULT_BYTES`` bytes, fetched in
    batches (one more row tells whether more exist); values over ``MAX_VALUE_BYTES`` are cut.
    Returns the rows kept (none with a sink: each batch goes to it), whether more exist and the
    values cut."""
    rows: list[tuple[Any, ...]] = []
    size = cut = handed = 0
    while handed + len(rows) <= max_rows:
        batch = result.fetchmany(min(FETCH_BATCH, max_rows + 1 - handed - len(rows)))
        if not batch:
            if sink is not None and rows:
                sink(rows)
                handed, rows = handed + len(rows), []
            return rows, False, cut
        for raw in batch:
            row = []
            for value in raw:
                length = len(value) if isinstance(value, str | bytes | bytearray) else 16
                if length > MAX_VALUE_BYTES:
                    value = value[:MAX_VALUE_BYTES]
                    length = MAX_VALUE_BYTES
                    cut += 1
                size += length
                row.append(value)
            rows.append(tuple(row))
            if sink is None and size > MAX_RESULT_BYTES:
                return rows[:max_rows], True, cut
        if sink is not None:
            room = max_rows - handed
            sink(rows[:room])
            handed += min(room, len(rows))
            if len(rows) > room:
                return [], True, cut
            rows = []
    return rows[:max_rows], True, cut
