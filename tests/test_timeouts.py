"""Runaway queries stop within 1.5x their time limit on every dialect."""

from __future__ import annotations

import time

import pytest

import honestsql

TIMEOUT = 1.0
CARTESIAN = (
    "SELECT COUNT(*) FROM order_items a, order_items b, order_items c, "
    "order_items d, order_items e, order_items f"
)
RECURSIVE = {
    "sqlite": "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT COUNT(*) FROM r",
    "duckdb": "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT COUNT(*) FROM r",
    "postgres": "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT COUNT(*) FROM r",
    # MariaDB stops recursion after max_recursive_iterations (1000) by itself, so its runaway
    # grows the row count at every step instead.
    "mysql": "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT r.i + 1 FROM r, order_items a "
    "WHERE r.i < 10) SELECT COUNT(*) FROM r",
}


@pytest.mark.parametrize("shape", ["cartesian", "recursive"])
def test_runaway_query_stops_in_time(test_db, shape: str) -> None:  # type: ignore[no-untyped-def]
    if test_db.dialect == "spark":
        # Spark cancels the job at once, but a task inside one generated-code loop (a deep
        # cartesian product of tiny tables) only notices between input rows; that task would keep
        # the local server's cores busy for the tests that follow. tests/test_spark.py stops a
        # runaway over a larger table instead, and checks that the cluster's job was cancelled.
        pytest.skip(
            "Spark: see tests/test_spark.py::test_runaway_query_is_stopped_and_its_job_cancelled"
        )
    sql = CARTESIAN if shape == "cartesian" else RECURSIVE[test_db.dialect]
    with honestsql.connect(test_db.url) as db:
        db.catalog()  # the time limit covers the query, not the first schema read
        started = time.monotonic()
        result = honestsql.check(db, sql, timeout=TIMEOUT)
        elapsed = time.monotonic() - started
        assert result.status == "error", result.to_dict()
        assert [e.kind for e in result.errors] == ["timeout"]
        assert elapsed < 1.5 * TIMEOUT, f"{test_db.dialect} {shape} stopped after {elapsed:.2f}s"
        # The connection is usable afterwards: the next query runs normally.
        after = honestsql.check(db, "SELECT COUNT(*) FROM customers")
        assert after.ok and after.result is not None and after.result.rows == [(5,)]


def test_server_side_limit_alone_stops_a_query(test_databases) -> None:  # type: ignore[no-untyped-def]
    """The PostgreSQL statement_timeout works without the watchdog: the error is a timeout."""
    with honestsql.connect(test_databases["postgres"].url) as db:
        db.dialect.canceller = lambda conn, engine: lambda: None  # type: ignore[method-assign]
        started = time.monotonic()
        result = honestsql.check(db, CARTESIAN, timeout=0.5)
        assert [e.kind for e in result.errors] == ["timeout"]
        assert time.monotonic() - started < 0.75 + 0.5  # + the first schema read


def test_mysql_time_limit_does_not_stay_on_the_pooled_connection(test_databases) -> None:  # type: ignore[no-untyped-def]
    with honestsql.connect(test_databases["mysql"].url) as db:
        assert honestsql.check(db, "SELECT COUNT(*) FROM customers", timeout=0.3).ok
        with db.connect() as conn:
            assert (
                float(conn.exec_driver_sql("SELECT @@SESSION.max_statement_time").scalar_one())
                == 0.0
            )
