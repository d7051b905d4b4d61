"""Test databases: the same fixture shop, built for real in SQLite, DuckDB, PostgreSQL, MariaDB
and Spark SQL (a Spark Connect server on 127.0.0.1:15002, which ``.ci/run`` starts).

Nothing is mocked. SQLite and DuckDB files are created in a temporary folder; on the servers at
127.0.0.1 a database named ``honestsql_test_<pid>`` is created and dropped at the end. When a
server does not answer, its tests are skipped with the reason (``.ci/run`` checks that both
answer before the tests start, so CI never skips them silently).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlglot

from . import spark_fixture

FIXTURES = Path(__file__).parent / "fixtures"
PG_ADMIN = os.environ.get("HONESTSQL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
MYSQL_ADMIN = os.environ.get("HONESTSQL_TEST_MYSQL", "mysql://root@127.0.0.1:3306/")
DIALECTS = ["sqlite", "duckdb", "postgres", "mysql", "spark"]


def fixture_statements(dialect: str) -> list[str]:
    """The fixture script, transpiled from PostgreSQL syntax to ``dialect``."""
    text = (FIXTURES / "shop.sql").read_text()
    return [s for s in sqlglot.transpile(text, read="postgres", write=dialect) if s.strip()]


@dataclass
class TestDatabase:
    dialect: str
    url: str
    #: A writable raw DB-API connection factory, for building fixtures and checksums.
    connect_writable: Callable[[], object]
    path: Path | None = None

    def checksum(self) -> str:
        """A digest of everything a hostile statement could change: schema, rows, sequences, files."""
        digest = hashlib.sha256()
        if self.path is not None:
            digest.update(self.path.read_bytes())
        conn = self.connect_writable()
        try:
            cur = conn.cursor()  # type: ignore[attr-defined]
            for sql in _state_queries(self.dialect, cur):
                cur.execute(sql)
                rows = sorted(cur.fetchall(), key=repr)
                for row in rows:
                    digest.update(repr(row).encode())
                if self.dialect == "spark" and sql.startswith("SHOW TABLE EXTENDED"):
                    # The tables' files: any write changes them (the rows are read as a query
                    # where the files are out of reach).
                    digest.update(str(spark_fixture.files_digest([r[3] for r in rows])).encode())
        finally:
            conn.close()  # type: ignore[attr-defined]
        return digest.hexdigest()

    def server_state(self) -> list[object]:
        """What a statement could change on the server beyond this database: replication slots,
        advisory and user locks, global settings, statistics resets, prepared transactions."""
        queries = SERVER_STATE.get(self.dialect)
        if not queries:
            return []
        conn = self.connect_writable()
        try:
            cur = conn.cursor()  # type: ignore[attr-defined]
            state = []
            for sql in queries:
                cur.execute(sql)
                state.append(sorted(cur.fetchall(), key=repr))
            return state
        finally:
            conn.close()  # type: ignore[attr-defined]


SERVER_STATE = {
    "postgres": [
        "SELECT slot_name FROM pg_replication_slots",
        "SELECT locktype, mode, objid FROM pg_locks WHERE locktype = 'advisory'",
        "SELECT name, setting FROM pg_settings WHERE source NOT IN ('session', 'client')",
        "SELECT datname, stats_reset FROM pg_stat_database",
        "SELECT gid FROM pg_prepared_xacts",
        "SELECT roname FROM pg_replication_origin",
        "SELECT pg_is_in_recovery()",
    ],
    "mysql": [
        "SHOW GLOBAL VARIABLES WHERE Variable_name NOT IN ('timestamp', 'gtid_binlog_pos', "
        "'gtid_current_pos', 'gtid_binlog_state')",
        "SELECT user, host FROM mysql.user",
        "SELECT is_used_lock('honestsql')",
    ],
}


def _state_queries(dialect: str, cur: object) -> list[str]:
    if dialect == "spark":
        return spark_fixture.state_queries(cur, cur.session.catalog.currentDatabase())  # type: ignore[arg-type, attr-defined]
    if dialect == "sqlite":
        tables = [
            r[0]
            for r in cur.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
        ]  # type: ignore[attr-defined]
        return ["SELECT type, name, sql FROM sqlite_master", "PRAGMA user_version"] + [
            f'SELECT * FROM "{t}"' for t in tables
        ]
    if dialect == "duckdb":
        cur.execute("SELECT table_name FROM duckdb_tables()")  # type: ignore[attr-defined]
        tables = [r[0] for r in cur.fetchall()]  # type: ignore[attr-defined]
        return ["SELECT table_name, column_name, data_type FROM duckdb_columns()"] + [
            f'SELECT * FROM "{t}"' for t in tables
        ]
    if dialect == "postgres":
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")  # type: ignore[attr-defined]
        tables = [r[0] for r in cur.fetchall()]  # type: ignore[attr-defined]
        return [
            "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
            "SELECT schemaname, sequencename, last_value FROM pg_sequences",
            "SELECT rolname, rolsuper FROM pg_roles",
            "SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'",
        ] + [f'SELECT * FROM "{t}"' for t in tables]
    cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")  # type: ignore[attr-defined]
    tables = [r[0] for r in cur.fetchall()]  # type: ignore[attr-defined]
    return [
        "SELECT table_schema, table_name, column_name, column_type FROM information_schema.columns WHERE table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')",
        "SELECT user, host FROM mysql.user",
    ] + [f"SELECT * FROM `{t}`" for t in tables]


def _build_sqlite(path: Path) -> TestDatabase:
    conn = sqlite3.connect(path)
    for statement in fixture_statements("sqlite"):
        conn.execute(statement)
    conn.commit()
    conn.close()
    return TestDatabase("sqlite", str(path), lambda: sqlite3.connect(path), path=path)


def _build_duckdb(path: Path) -> TestDatabase:
    import duckdb

    conn = duckdb.connect(str(path))
    for statement in fixture_statements("duckdb"):
        conn.execute(statement)
    conn.execute("COMMENT ON TABLE customers IS 'People who buy'")
    conn.close()
    return TestDatabase("duckdb", f"duckdb:///{path}", lambda: duckdb.connect(str(path)), path=path)


def _build_postgres(name: str) -> TestDatabase:
    import psycopg

    admin_url = PG_ADMIN.replace("postgresql://", "postgresql://", 1)
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {PG_ADMIN} does not answer: {exc}")
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    conn = psycopg.connect(url, autocommit=True)
    for statement in fixture_statements("postgres"):
        conn.execute(statement)
    conn.execute("CREATE SEQUENCE invoice_numbers START 100")
    conn.execute("COMMENT ON TABLE customers IS 'People who buy'")
    conn.execute("COMMENT ON COLUMN customers.age IS 'Age in years'")
    conn.execute("ANALYZE")
    conn.close()
    return TestDatabase("postgres", url, lambda: psycopg.connect(url, autocommit=True))


def _build_mysql(name: str) -> TestDatabase:
    import pymysql

    try:
        admin = pymysql.connect(
            host="127.0.0.1",
            port=3306,
            user="root",
            password="",
            autocommit=True,
            connect_timeout=3,
        )
    except pymysql.err.OperationalError as exc:
        pytest.skip(f"MariaDB/MySQL at {MYSQL_ADMIN} does not answer: {exc}")
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}`")
    admin.close()

    def connect() -> object:
        return pymysql.connect(
            host="127.0.0.1", port=3306, user="root", password="", database=name, autocommit=True
        )

    conn = connect()
    with conn.cursor() as cur:  # type: ignore[attr-defined]
        for statement in fixture_statements("mysql"):
            cur.execute(statement)
        cur.execute("ALTER TABLE customers COMMENT = 'People who buy'")
        cur.execute("ANALYZE TABLE customers, orders, order_items, products, countries")
    conn.close()  # type: ignore[attr-defined]
    return TestDatabase("mysql", MYSQL_ADMIN.rstrip("/") + f"/{name}", connect)


def _build_spark(name: str) -> TestDatabase:
    from honestsql.db.spark_server import answers

    where = urlsplit(spark_fixture.SPARK_URL)
    if not answers(where.port or 15002, where.hostname or "127.0.0.1"):
        pytest.skip(f"Spark Connect at {spark_fixture.SPARK_URL} does not answer")
    spark_fixture.build(name, (FIXTURES / "shop.sql").read_text())
    conn = spark_fixture.SparkWritable(name)
    return TestDatabase("spark", f"{spark_fixture.SPARK_URL}/;database={name}", lambda: conn)


def _drop(db: TestDatabase, name: str) -> None:
    if db.dialect == "spark":
        spark_fixture.drop(name)
    elif db.dialect == "postgres":
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    elif db.dialect == "mysql":
        import pymysql

        admin = pymysql.connect(
            host="127.0.0.1", port=3306, user="root", password="", autocommit=True
        )
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


@pytest.fixture(scope="session")
def test_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, TestDatabase]]:
    """Lazily built databases, one per dialect, shared by the whole session."""
    built: dict[str, TestDatabase] = {}
    name = f"honestsql_test_{os.getpid()}"
    folder = tmp_path_factory.mktemp("dbs")

    class Lazy(dict[str, TestDatabase]):
        def __missing__(self, dialect: str) -> TestDatabase:
            builder = {
                "sqlite": lambda: _build_sqlite(folder / "shop.sqlite"),
                "duckdb": lambda: _build_duckdb(folder / "shop.duckdb"),
                "postgres": lambda: _build_postgres(name),
                "mysql": lambda: _build_mysql(name),
                "spark": lambda: _build_spark(name),
            }[dialect]
            built[dialect] = self[dialect] = builder()
            return self[dialect]

    yield Lazy()
    for db in built.values():
        _drop(db, name)


@pytest.fixture(params=DIALECTS)
def test_db(
    request: pytest.FixtureRequest, test_databases: dict[str, TestDatabase]
) -> TestDatabase:
    return test_databases[request.param]


@pytest.fixture(autouse=True)
def _isolated_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep catalog caches and the demo database out of the user's home."""
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("HONESTSQL_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("HONESTSQL_DATA_DIR", str(base / "data"))
    # The test servers' logins are superusers (postgres, root): the hostile corpus runs as the
    # most powerful login on purpose. tests/test_privileges.py checks the refusal itself.
    monkeypatch.setenv("HONESTSQL_ALLOW_PRIVILEGED", "1")
