"""``bench catalog --target spark`` and ``bench check --target spark``: honestsql on Spark SQL.

Everything is built on the Spark Connect server given (``--spark-url``), in a scratch database
that is dropped at the end: the wide schema of ``bench catalog``, the demo shop for ``bench
check``, and with ``--rows`` a generated table of that many rows (no data is downloaded). On it,
``check`` with a row cap is timed against Spark running the same capped query itself, and the
peak memory of a whole ``honestsql check`` process is read from the operating system.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import sqlglot

import honestsql
from honestsql import demo
from honestsql.benchmarks import percentile
from honestsql.benchmarks.check import DEMO_QUERIES

#: The query run at scale: a filter over every row, capped; Spark stops reading once it has
#: enough rows.
SCALE_QUERY = "SELECT id, customer_id, amount, day, page FROM events WHERE amount > 50"
SCALE_CAP = 1000


@contextmanager
def scratch(url: str, prefix: str) -> Any:
    """A Spark session and a new database in it, dropped afterwards."""
    from pyspark.sql import SparkSession

    session = SparkSession.builder.remote(url).create()
    # The demo script's dates are strings ('2024-01-05'), which ANSI inserts do not cast.
    session.conf.set("spark.sql.storeAssignmentPolicy", "LEGACY")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    session.sql(f"CREATE DATABASE {name}")
    try:
        yield session, name
    finally:
        session.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")


def _demo_statements(database: str) -> list[str]:
    statements = []
    for tree in sqlglot.parse(demo.script(), read="sqlite"):
        if tree is None:
            continue
        # Spark 4.0 keeps no key or check constraints: only NOT NULL stays.
        for node in list(tree.find_all(sqlglot.exp.ColumnConstraint)):
            if not isinstance(node.args.get("kind"), sqlglot.exp.NotNullColumnConstraint):
                node.pop()
        for key in list(tree.find_all(sqlglot.exp.PrimaryKey, sqlglot.exp.ForeignKey)):
            key.pop()
        for table in tree.find_all(sqlglot.exp.Table):
            table.set("db", sqlglot.exp.to_identifier(database))
        sql = tree.sql(dialect="spark", comments=False)
        statements.append(sql + (" USING parquet" if isinstance(tree, sqlglot.exp.Create) else ""))
    return statements


def catalog(
    *, url: str, tables: int, columns: int, progress: Callable[[int], None]
) -> dict[str, Any]:
    """Cold catalog build and cached load of ``tables`` tables of ``columns`` columns."""
    with scratch(url, "honestsql_bench") as (session, name):
        started = time.perf_counter()
        for index in range(tables):
            cells = ", ".join(
                f"'value {index}-{n}' AS c{n:02d}_text" if n % 2 else f"{index * n} AS c{n:02d}_int"
                for n in range(1, columns)
            )
            session.sql(
                f"CREATE TABLE {name}.t{index:04d} USING parquet AS SELECT 1 AS id, {cells}"
            )
            progress(1)
        setup_s = time.perf_counter() - started
        target = f"{url}/;database={name}"
        db = honestsql.connect(target)
        started = time.perf_counter()
        built = db.catalog(refresh=True)
        cold_s = time.perf_counter() - started
        db.close()
        warm = honestsql.connect(target)
        started = time.perf_counter()
        cached = warm.catalog()
        warm_s = time.perf_counter() - started
        assert cached.fingerprint == built.fingerprint
    return {
        "target": "spark",
        "tables": len(built.tables),
        "columns": built.column_count,
        "setup_seconds": round(setup_s, 3),
        "build_seconds": round(cold_s, 3),
        "cached_load_seconds": round(warm_s, 3),
        "with_samples": True,
    }


def check(*, url: str, runs: int, rows: int, progress: Callable[[int], None]) -> dict[str, Any]:
    """Latency of ``check`` on the demo shop's typical queries; with ``rows``, the capped query
    on a generated table of that many rows against Spark's own time, and the peak memory of a
    whole ``honestsql check`` process."""
    with scratch(url, "honestsql_bench") as (session, name):
        for statement in _demo_statements(name):
            session.sql(statement)
        target = f"{url}/;database={name}"
        db = honestsql.connect(target)
        db.catalog()
        for sql in DEMO_QUERIES:
            assert honestsql.check(db, sql).ok, sql
        full: list[float] = []
        for index in range(runs):
            started = time.perf_counter()
            result = honestsql.check(db, DEMO_QUERIES[index % len(DEMO_QUERIES)])
            full.append((time.perf_counter() - started) * 1000)
            assert result.ok
            progress(1)
        figures: dict[str, Any] = {
            "target": "spark",
            "runs": runs,
            "median_ms": round(statistics.median(full), 1),
            "p95_ms": round(percentile(full, 95), 1),
        }
        if rows:
            figures["scale"] = _scale(session, db, name, target, rows)
        return figures


def _scale(session: Any, db: Any, name: str, target: str, rows: int) -> dict[str, Any]:
    started = time.perf_counter()
    session.sql(
        f"CREATE TABLE {name}.events USING parquet AS SELECT id, id % 100000 AS customer_id, "
        "CAST(rand(42) * 100 AS DECIMAL(10, 2)) AS amount, "
        "date_add(DATE'2020-01-01', CAST(id % 1500 AS INT)) AS day, "
        f"concat('/page/', CAST(id % 5000 AS STRING)) AS page FROM range({rows})"
    )
    generate_s = time.perf_counter() - started
    db.catalog(refresh=True)
    spark_ms, honest_ms = [], []
    for _ in range(5):
        started = time.perf_counter()
        spark_rows = (
            session.sql(f"SELECT * FROM ({SCALE_QUERY.replace('events', f'{name}.events')})")
            .limit(SCALE_CAP + 1)
            .collect()
        )
        spark_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        result = honestsql.check(db, SCALE_QUERY, max_rows=SCALE_CAP)
        honest_ms.append((time.perf_counter() - started) * 1000)
        assert result.ok and result.result is not None and result.result.truncated
        assert len(result.result.rows) == SCALE_CAP == len(spark_rows) - 1
    command = [
        sys.executable,
        "-m",
        "honestsql",
        "check",
        "--db",
        target,
        "--max-rows",
        str(SCALE_CAP),
        "--json",
        SCALE_QUERY,
    ]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    output = process.stdout.read() if process.stdout else b""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = status
    cli_s = time.perf_counter() - started
    answer = json.loads(output)
    assert answer["ok"] and len(answer["rows"]) == SCALE_CAP, answer
    spark_median, honest_median = statistics.median(spark_ms), statistics.median(honest_ms)
    return {
        "rows": rows,
        "query": SCALE_QUERY,
        "max_rows": SCALE_CAP,
        "generate_seconds": round(generate_s, 1),
        "spark_capped_median_ms": round(spark_median, 1),
        "check_median_ms": round(honest_median, 1),
        "check_over_spark": round(honest_median / spark_median, 2),
        "cli_seconds": round(cli_s, 2),
        "cli_peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }
