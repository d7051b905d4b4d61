"""Connections, typed results, row caps and error messages (never a password, never a traceback)."""

from __future__ import annotations

from pathlib import Path

import pytest

import honestsql
from honestsql.db.url import redact
from honestsql.errors import ConnectionFailed, HonestSQLError, MissingDriver

TYPES = {
    # id, name, price (NUMERIC), signup_date (DATE), ordered_at (TIMESTAMP)
    "sqlite": ["integer", "text", "real", "text", "text"],
    "duckdb": ["integer", "text", "decimal", "date", "datetime"],
    "postgres": ["integer", "text", "decimal", "date", "datetime"],
    "mysql": ["integer", "text", "decimal", "date", "datetime"],
    "spark": ["integer", "text", "decimal", "date", "datetime"],
}


def test_typed_columns_and_json_rows(test_db) -> None:  # type: ignore[no-untyped-def]
    sql = (
        "SELECT c.id, c.name, p.price, c.signup_date, o.ordered_at FROM customers c "
        "JOIN orders o ON o.customer_id = c.id JOIN order_items i ON i.order_id = o.id "
        "JOIN products p ON p.id = i.product_id WHERE c.id = 1 AND p.id = 1 ORDER BY o.id LIMIT 1"
    )
    with honestsql.connect(test_db.url) as db:
        result = honestsql.check(db, sql)
    assert result.ok, result.to_dict()
    data = result.to_dict()
    assert [c["type"] for c in data["columns"]] == TYPES[test_db.dialect]
    row = data["rows"][0]
    assert row[0] == 1 and row[1] == "Anna" and row[2] == 12.5
    assert row[3] == "2021-03-04"
    assert str(row[4]).startswith("2024-")


def test_row_cap_sets_truncated(test_db) -> None:  # type: ignore[no-untyped-def]
    with honestsql.connect(test_db.url) as db:
        capped = honestsql.check(db, "SELECT id FROM orders ORDER BY id", max_rows=3)
        assert capped.result is not None
        assert capped.result.rows == [(1,), (2,), (3,)] and capped.result.truncated
        full = honestsql.check(db, "SELECT id FROM orders ORDER BY id", max_rows=60)
        assert full.result is not None and len(full.result.rows) == 60
        assert not full.result.truncated


def test_verify_only_does_not_execute(test_databases) -> None:  # type: ignore[no-untyped-def]
    with honestsql.connect(test_databases["sqlite"].url) as db:
        result = honestsql.check(db, "SELECT name FROM customers", execute=False)
        assert result.ok and result.result is None and result.sql == "SELECT name FROM customers"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("/no/such/file.db", "does not exist"),
        ("/no/such/file.duckdb", "does not exist"),
        ("oracle://scott:tiger@db/orcl", "Unsupported database type"),
        ("postgresql://postgres:s3cret-pw@127.0.0.1:1/x", "Could not connect"),
        ("postgresql://postgres:s3cret-pw@127.0.0.1:5432/honestsql_no_such_db", "does not exist"),
        ("mysql://root:s3cret-pw@127.0.0.1:3306/", "Access denied"),
        ("mysql://root@127.0.0.1:3306/honestsql_no_such_db", "Unknown database"),
        ("sqlite://", "in-memory"),
        ("   ", "No database given"),
    ],
)
def test_connection_errors_are_clear_and_hide_passwords(target: str, message: str) -> None:
    with pytest.raises(ConnectionFailed) as info, honestsql.connect(target) as db:
        db.catalog()
    assert message in info.value.message
    assert "s3cret-pw" not in info.value.message
    assert "s3cret-pw" not in str(info.value)


def test_check_reports_connection_errors_as_results() -> None:
    result = honestsql.check("postgresql://postgres:s3cret-pw@127.0.0.1:1/x", "SELECT 1")
    assert result.status == "error" and result.errors[0].kind == "connection"
    assert "s3cret-pw" not in str(result.to_dict())


def test_missing_driver_says_how_to_install() -> None:
    with pytest.raises(MissingDriver, match=r"pip install"):
        honestsql.connect("mysql+mysqldb://root@127.0.0.1/x").catalog()


def test_not_a_database_file(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.db"
    bogus.write_text("this is not a database\n" * 100)
    result = honestsql.check(str(bogus), "SELECT 1")
    assert result.status == "error"
    assert result.errors[0].kind in {"catalog", "connection"}


@pytest.mark.parametrize(
    ("sql", "fragment"),
    [
        (b"SELECT '\xff\xfe'", "UTF-8"),
        ("SELECT '\udcff'", "UTF-8"),
        ("   ", "empty"),
        ("SELECT 1 -- " + "x" * 1_000_000, "limit"),
        ("SELECT '\x00'", "NUL"),
    ],
)
def test_bad_input_is_an_invalid_input_finding(
    test_databases, sql: str | bytes, fragment: str
) -> None:  # type: ignore[no-untyped-def]
    result = honestsql.check(test_databases["sqlite"].url, sql)
    assert result.status == "rejected"
    assert result.errors[0].kind == "invalid_input"
    assert fragment in result.errors[0].message


def test_redact() -> None:
    assert (
        redact("postgresql://u:pw@h/db and mysql://a:b@c/d")
        == "postgresql://u:***@h/db and mysql://a:***@c/d"
    )
    assert redact("sqlite:///x.db") == "sqlite:///x.db"


def test_errors_share_one_hierarchy() -> None:
    assert issubclass(ConnectionFailed, HonestSQLError) and issubclass(
        MissingDriver, ConnectionFailed
    )


def test_concurrent_checks_from_many_threads(test_db) -> None:  # type: ignore[no-untyped-def]
    """The HTTP server runs checks in a thread pool: every one must succeed, none may crash."""
    from concurrent.futures import ThreadPoolExecutor

    # A local Spark on two cores plans and schedules each query in a few hundred milliseconds:
    # fewer of them there, still many at once.
    threads, count = (8, 48) if test_db.dialect == "spark" else (24, 240)
    with honestsql.connect(test_db.url) as db:
        queries = [
            "SELECT COUNT(*) FROM customers",
            "SELECT name FROM products ORDER BY id",
            "SELECT COUNT(*) FROM orders",
        ]
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(lambda i: honestsql.check(db, queries[i % 3]), range(count)))
        assert all(r.ok for r in results), [r.to_dict() for r in results if not r.ok][:2]
        assert {tuple(results[i].result.rows[0]) for i in range(0, count, 3)} == {(5,)}  # type: ignore[union-attr]
        assert {tuple(results[i].result.rows[0]) for i in range(2, count, 3)} == {(60,)}  # type: ignore[union-attr]
