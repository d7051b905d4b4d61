"""Apache Spark SQL through Spark Connect: ``sc://host:15002`` or local files.

A ``SparkDatabase`` is a ``Database`` whose connection is a Spark Connect session instead of a
SQLAlchemy engine. Spark has no read-only transaction, so the statement guard is the barrier that
keeps writes out (a read-only principal, through table ACLs, Unity Catalog or Ranger, is the
second, and the cluster's to give). What this module adds:

- the session turns off the two ways a read could reach past the tables: queries on files named
  by path (``spark.sql.runSQLOnFiles``) and ``${name}`` substitution of configuration values;
- every query carries an operation tag, and a watchdog interrupts that tag at the deadline (again
  every quarter second until the call returns, so an operation the server registers late is
  still stopped): the cluster's job is cancelled, not left running;
- the row cap is a ``LIMIT`` in the plan, and rows are streamed (``toLocalIterator``), so neither
  the cluster nor this process ever holds more than the cap.

Target forms:

- ``sc://host:15002/;token=...;use_ssl=true`` is a Spark Connect URL as Spark defines it, plus one
  parameter of honestsql's own, ``database=NAME`` (default: the session's current database);
- ``spark-local:///path/to/folder`` starts a local Spark Connect server (``honestsql.db.spark_server``)
  and exposes every Parquet, ORC or Delta dataset in the folder as a table named after it.
"""

from __future__ import annotations

import atexit
import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from honestsql.db.database import _TIMEOUT_MESSAGE, Database, Sink, read_rows
from honestsql.db.dialects import Dialect, Spark
from honestsql.db.introspect import SchemaReader
from honestsql.db.result import QueryResult
from honestsql.db.spark_catalog import SparkSchemaReader, local_tables
from honestsql.errors import ConnectionFailed, ExecutionFailed, MissingDriver, QueryTimeout

#: Settings of every session: no query on a file named by its path, no ``${...}`` substitution.
SESSION_SETTINGS = {"spark.sql.runSQLOnFiles": "false", "spark.sql.variable.substitute": "false"}
#: How often the watchdog interrupts again after the deadline, in seconds.
INTERRUPT_EVERY = 0.25
#: The parameter honestsql reads from a Spark Connect URL (and takes out of it).
DATABASE_PARAMETER = "database"


#: Sessions by (URL, database), shared by every ``SparkDatabase`` of this process and kept until
#: it exits. pyspark's ``close`` of one session shuts down a thread pool that all sessions share,
#: and a session the garbage collector finalizes runs that ``close`` from whatever code is running
#: then (a deadlock when it is that pool's own code). So no session here is ever stopped or
#: collected while the process works: they are reused, and stopped at exit.
_SESSIONS: dict[tuple[str, str | None], Any] = {}
#: Sessions of local servers that were stopped: kept only so that they are never collected.
_RETIRED: list[Any] = []
_SESSIONS_LOCK = threading.Lock()


@atexit.register
def _stop_all() -> None:
    for session in list(_SESSIONS.values()):
        with contextlib.suppress(Exception):
            session.stop()
    _SESSIONS.clear()


def is_spark(target: str) -> bool:
    return target.strip().lower().startswith(("sc://", "spark-local://"))


def split_url(target: str) -> tuple[str, str | None]:
    """A Spark Connect URL without honestsql's ``database`` parameter, and that parameter."""
    base, _, params = target.strip().partition("/;")
    kept, database = [], None
    for item in filter(None, params.split(";")):
        key, _, value = item.partition("=")
        if key.strip().lower() == DATABASE_PARAMETER:
            database = value.strip() or None
        else:
            kept.append(item)
    return base.rstrip("/") + ("/;" + ";".join(kept) if kept else ""), database


def display(url: str) -> str:
    """The URL with a token's value hidden."""
    base, _, params = url.partition("/;")
    shown = [
        (item.partition("=")[0] + "=***") if item.lower().startswith("token=") else item
        for item in params.split(";")
        if item
    ]
    return base + ("/;" + ";".join(shown) if shown else "")


class SparkDatabase(Database):
    """A Spark SQL database over Spark Connect (see the module's documentation)."""

    def _locate(self, target: str) -> tuple[Any, str, Dialect]:
        self._local_folder: Path | None = None
        self._server: Any = None
        self._session: Any = None
        self._lock = threading.Lock()
        text = target.strip()
        if text.lower().startswith("spark-local://"):
            folder = Path(text[len("spark-local://") :]).expanduser()
            if not folder.is_dir():
                raise ConnectionFailed(
                    f"The folder {str(folder)!r} does not exist. spark-local:// takes a folder of "
                    "Parquet, ORC or Delta datasets: spark-local:///data/lake."
                )
            self._local_folder = folder.resolve()
            self._database: str | None = None
            return text, text, Spark(text)
        url, self._database = split_url(text)
        where = urlsplit(url.partition("/;")[0])
        if not where.hostname:
            raise ConnectionFailed(
                f"Could not read the Spark Connect URL {display(text)!r}: it names no host. "
                "Use a form like sc://host:15002 or sc://host:443/;use_ssl=true;token=..."
            )
        return url, display(text), Spark(url)

    def __repr__(self) -> str:
        return f"SparkDatabase({self.display_url!r})"

    # --- the session -------------------------------------------------------------------------

    @property
    def session(self) -> Any:
        """The Spark Connect session, opened on first use."""
        with self._lock:
            if self._session is None:
                self._session = self._open()
            return self._session

    def _open(self) -> Any:
        try:
            from pyspark.sql import SparkSession
        except ModuleNotFoundError as exc:
            raise MissingDriver(
                f"The Spark Connect client is not installed ({exc}). "
                "Install it with: pip install 'honestsql[spark]'"
            ) from None
        url = str(self.url)
        if self._local_folder is not None:
            from honestsql.db import spark_server

            self._server = spark_server.LocalServer.start()
            url = self._server.url
        _reachable(url, self.display_url)
        key = (url, self._database)
        with _SESSIONS_LOCK:
            if key in _SESSIONS:
                return _SESSIONS[key]
            try:
                session = SparkSession.builder.remote(url).create()
                _SESSIONS[key] = session
                for name, value in SESSION_SETTINGS.items():
                    session.conf.set(name, value)
                if self._database:
                    session.catalog.setCurrentDatabase(self._database)
                if self._local_folder is not None:
                    for statement in local_tables(self._local_folder, Spark.quote_name):
                        session.sql(statement)
            except Exception as exc:
                failed = _SESSIONS.pop(key, None)
                if failed is not None:
                    _RETIRED.append(failed)
                if self._server is not None:
                    self._server.stop()
                    self._server = None
                raise ConnectionFailed(
                    f"Could not open a Spark session on {self.display_url}: {_first_line(exc)}"
                ) from None
        return session

    def close(self) -> None:
        """Stop the local server, if this database started one. A session on a remote server
        stays open for the next ``SparkDatabase`` of the same URL (see ``_SESSIONS``)."""
        with self._lock:
            if self._server is not None:
                with _SESSIONS_LOCK:
                    _RETIRED.append(_SESSIONS.pop((self._server.url, None), None))
                self._server.stop()
                self._server = None
            self._session = None

    @contextmanager
    def connect(self) -> Iterator[Any]:
        """The session (Spark has no transaction to roll back)."""
        yield self.session

    # --- catalog -----------------------------------------------------------------------------

    @contextmanager
    def schema_reader(self) -> Iterator[SchemaReader]:
        yield SparkSchemaReader(self.session, self.display_url)

    # --- execution ---------------------------------------------------------------------------

    def execute(
        self, sql: str, *, timeout: float = 10.0, max_rows: int = 1000, sink: Sink | None = None
    ) -> QueryResult:
        """Run guarded SQL with the row cap in the plan and a deadline that cancels the job."""
        from pyspark.errors import PySparkException

        session = self.session
        tag = f"honestsql-{uuid.uuid4().hex}"
        done, fired = threading.Event(), threading.Event()

        def watchdog() -> None:
            if done.wait(timeout):
                return
            fired.set()
            while not done.is_set():
                with contextlib.suppress(Exception):
                    session.interruptTag(tag)
                done.wait(INTERRUPT_EVERY)

        started = time.perf_counter()
        threading.Thread(target=watchdog, name="honestsql-spark-watchdog", daemon=True).start()
        session.addTag(tag)
        try:
            frame = session.sql(sql).limit(max_rows + 1)
            names = list(frame.columns)
            stream = frame.toLocalIterator()
            try:
                rows, truncated, cut, columns = read_rows(_Batches(stream), names, max_rows, sink)
            finally:
                stream.close()  # ends the server's operation now, not when collected
        except PySparkException as exc:
            if fired.is_set():
                raise QueryTimeout(_TIMEOUT_MESSAGE.format(timeout=timeout)) from None
            raise ExecutionFailed(f"Spark could not run the query: {_first_line(exc)}") from None
        finally:
            done.set()
            session.removeTag(tag)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if fired.is_set():
            raise QueryTimeout(_TIMEOUT_MESSAGE.format(timeout=timeout))
        return QueryResult(
            columns=columns,
            rows=rows,
            truncated=truncated,
            elapsed_ms=elapsed_ms,
            sql=sql,
            values_cut=cut,
        )


class _Batches:
    """``fetchmany`` over Spark rows streamed from the server."""

    def __init__(self, rows: Iterator[Any]) -> None:
        self.rows = rows

    def fetchmany(self, size: int) -> list[tuple[Any, ...]]:
        batch = []
        for row in self.rows:
            batch.append(tuple(row))
            if len(batch) >= size:
                break
        return batch


def _reachable(url: str, shown: str) -> None:
    """Fail in seconds, not after the client's minutes of retries, when nothing listens."""
    where = urlsplit(url.partition("/;")[0])
    port = where.port or 15002
    try:
        with socket.create_connection((where.hostname or "", port), timeout=5):
            pass
    except OSError as exc:
        raise ConnectionFailed(
            f"Could not connect to the Spark Connect server at {shown}: {exc.strerror or exc}. "
            "Check the host and port (Spark Connect listens on 15002 by default) and that the "
            "server runs (sbin/start-connect-server.sh)."
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "getMessage", lambda: "")() or exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first.rstrip(".") + "."
