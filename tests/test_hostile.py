"""Hostile statements: every one is refused (or fails read-only) and no database changes."""

from __future__ import annotations

import glob
import sys
from pathlib import Path

import pytest

import honestsql
from honestsql.errors import ExecutionFailed

sys.path.insert(0, str(Path(__file__).parent))
from hostile import cases  # noqa: E402

CASES = cases()


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 300
    for server in ("postgres", "mysql"):
        assert sum(d == server for d, _, _ in CASES) >= 300
    assert {d for d, _, _ in CASES} == {"sqlite", "duckdb", "postgres", "mysql", "spark"}
    assert sum(d == "spark" for d, _, _ in CASES) >= 200


@pytest.fixture(scope="module")
def connected(test_databases):  # type: ignore[no-untyped-def]
    opened: dict[str, honestsql.Database] = {}

    def get(dialect: str) -> tuple[honestsql.Database, object]:
        if dialect not in opened:
            opened[dialect] = honestsql.connect(test_databases[dialect].url)
        return opened[dialect], test_databases[dialect]

    yield get
    for db in opened.values():
        db.close()


def _stray_files() -> set[str]:
    return set(glob.glob("/tmp/honestsql-*"))


@pytest.mark.parametrize(
    ("dialect", "category", "sql"),
    CASES,
    ids=[f"{d}-{c}-{i}" for i, (d, c, _) in enumerate(CASES)],
)
def test_hostile_statement_is_refused(
    connected, canary, dialect: str, category: str, sql: str
) -> None:  # type: ignore[no-untyped-def]
    db, fixture = connected(dialect)
    before = fixture.checksum()
    state_before = fixture.server_state()
    files_before = _stray_files()
    result = honestsql.check(db, sql, timeout=3.0)
    assert not result.ok, f"{dialect} ran a hostile statement: {sql[:200]!r} -> {result.to_dict()}"
    assert result.errors, "a refusal must say why"
    assert fixture.checksum() == before, f"{dialect} changed after {sql[:200]!r}"
    assert fixture.server_state() == state_before, (
        f"{dialect} server state changed after {sql[:200]!r}"
    )
    assert _stray_files() == files_before
    canary(dialect)  # another session on the server is still alive


@pytest.fixture(scope="module")
def canary(test_databases):  # type: ignore[no-untyped-def]
    """One extra session per server, opened before the corpus runs: a statement that terminated
    or killed other sessions would end it."""
    opened: dict[str, object] = {}

    def alive(dialect: str) -> None:
        if dialect not in {"postgres", "mysql"}:
            return
        if dialect not in opened:
            opened[dialect] = test_databases[dialect].connect_writable()
        cur = opened[dialect].cursor()  # type: ignore[attr-defined]
        cur.execute("SELECT 1")
        assert cur.fetchall() in ([(1,)], ((1,),))

    yield alive
    for conn in opened.values():
        conn.close()  # type: ignore[attr-defined]


# Statements that succeed on a writable connection. Sent straight to the read-only connection,
# bypassing the statement guard, each must still fail: the second layer holds on its own.
WRITES = [
    "DELETE FROM order_items",
    "UPDATE customers SET name = 'pwned'",
    "INSERT INTO countries VALUES ('XX', 'Nowhere', 'None')",
]
SCHEMA_CHANGES = [
    "CREATE TABLE evil (a INTEGER)",
    "DROP TABLE order_items",
    "ALTER TABLE customers ADD COLUMN pwned INTEGER",
]
CONNECTION_ONLY = {
    "sqlite": WRITES
    + SCHEMA_CHANGES
    + [
        "ATTACH DATABASE '/tmp/honestsql-layer2.db' AS evil",
        "PRAGMA writable_schema = 1",
        "PRAGMA user_version = 42",
        "VACUUM INTO '/tmp/honestsql-layer2-copy.db'",
        "SELECT load_extension('libevil')",
        "CREATE TEMP TABLE t AS SELECT 1 AS a",
    ],
    "duckdb": WRITES
    + SCHEMA_CHANGES
    + [
        "COPY customers TO '/tmp/honestsql-layer2.csv'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SET enable_external_access = true",
        "ATTACH '/tmp/honestsql-layer2.duckdb' AS evil",
    ],
    "postgres": WRITES
    + SCHEMA_CHANGES
    + [
        "SELECT nextval('invoice_numbers')",
        "SELECT setval('invoice_numbers', 1)",
        "CREATE TEMP TABLE t AS SELECT 1 AS a",
    ],
    # MySQL and MariaDB run DDL even in a READ ONLY transaction (it commits implicitly), so for
    # them only data changes are refused by the connection; DDL is stopped by the guard above.
    "mysql": WRITES,
}


@pytest.mark.parametrize(
    ("dialect", "sql"), [(d, s) for d, stmts in CONNECTION_ONLY.items() for s in stmts]
)
def test_read_only_connection_holds_without_the_guard(connected, dialect: str, sql: str) -> None:  # type: ignore[no-untyped-def]
    db, fixture = connected(dialect)
    before = fixture.checksum()
    files_before = _stray_files()
    with pytest.raises(ExecutionFailed):
        db.execute(sql, timeout=5.0)
    assert fixture.checksum() == before
    assert _stray_files() == files_before


# Quoting tricks that a naive splitter would cut into two statements, but that each database
# reads as ONE string literal. They must run as exactly that: the value that comes back proves
# that honestsql parsed the text the way the database does (no parser differential).
HARMLESS_STRINGS = [
    ("sqlite", "SELECT 'x'';DELETE FROM customers;--' AS v", "x';DELETE FROM customers;--"),
    ("duckdb", "SELECT 'x'';DELETE FROM customers;--' AS v", "x';DELETE FROM customers;--"),
    ("postgres", "SELECT 'x'';DELETE FROM customers;--' AS v", "x';DELETE FROM customers;--"),
    ("postgres", "SELECT $q$;DROP TABLE customers;$q$ AS v", ";DROP TABLE customers;"),
    ("mysql", 'SELECT "a\\"; DROP TABLE customers; -- " AS v', 'a"; DROP TABLE customers; -- '),
    ("mysql", "SELECT 'a\\'; DELETE FROM customers; -- ' AS v", "a'; DELETE FROM customers; -- "),
    ("spark", "SELECT 'a\\'; DELETE FROM customers; -- ' AS v", "a'; DELETE FROM customers; -- "),
    ("spark", 'SELECT "b\\"; DROP TABLE customers; -- " AS v', 'b"; DROP TABLE customers; -- '),
]


@pytest.mark.parametrize(("dialect", "sql", "value"), HARMLESS_STRINGS)
def test_quoting_tricks_run_as_one_string(connected, dialect: str, sql: str, value: str) -> None:  # type: ignore[no-untyped-def]
    db, fixture = connected(dialect)
    before = fixture.checksum()
    result = honestsql.check(db, sql)
    assert result.ok, result.to_dict()
    assert result.result is not None
    assert result.result.rows == [(value,)]
    assert fixture.checksum() == before
