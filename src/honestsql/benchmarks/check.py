"""``honestsql bench check``: latency of verifying and running typical queries."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import honestsql
from honestsql.benchmarks import percentile

#: Typical questions' SQL on the demo shop: joins, grouping, a subquery, a CTE.
DEMO_QUERIES = [
    "SELECT c.name, COUNT(*) AS customers FROM customers cu JOIN countries c ON c.code = cu.country_code "
    "GROUP BY c.name ORDER BY customers DESC",
    "SELECT p.name, SUM(oi.quantity * oi.unit_price) AS revenue FROM order_items oi "
    "JOIN products p ON p.id = oi.product_id JOIN orders o ON o.id = oi.order_id "
    "WHERE o.status <> 'cancelled' GROUP BY p.name ORDER BY revenue DESC LIMIT 5",
    "SELECT first_name, last_name FROM customers WHERE id IN (SELECT customer_id FROM orders "
    "WHERE ordered_at >= '2024-06-01')",
    "WITH spend AS (SELECT o.customer_id, SUM(oi.quantity * oi.unit_price) AS total FROM orders o "
    "JOIN order_items oi ON oi.order_id = o.id GROUP BY o.customer_id) "
    "SELECT AVG(total) FROM spend",
]


def run(
    *, db_target: str, runs: int, cli_runs: int, progress: Callable[[int], None]
) -> dict[str, Any]:
    queries = DEMO_QUERIES if db_target == "demo" else None
    if queries is None:
        raise ValueError("bench check measures the demo database's typical queries; use --db demo")
    db = honestsql.connect(db_target)
    db.catalog()
    for sql in queries:  # warm up connections and caches
        assert honestsql.check(db, sql).ok
    full: list[float] = []
    verify_only: list[float] = []
    for index in range(runs):
        sql = queries[index % len(queries)]
        started = time.perf_counter()
        result = honestsql.check(db, sql)
        full.append((time.perf_counter() - started) * 1000)
        assert result.ok
        started = time.perf_counter()
        honestsql.check(db, sql, execute=False)
        verify_only.append((time.perf_counter() - started) * 1000)
        progress(1)
    db.close()
    cli: list[float] = []
    for _ in range(cli_runs):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "honestsql", "check", "--db", db_target, "--json", queries[0]],
            check=True,
            capture_output=True,
        )
        cli.append((time.perf_counter() - started) * 1000)
    return {
        "runs": runs,
        "queries": len(queries),
        "median_ms": round(statistics.median(full), 3),
        "p95_ms": round(percentile(full, 95), 3),
        "verify_only_median_ms": round(statistics.median(verify_only), 3),
        "cli_runs": cli_runs,
        "cli_median_ms": round(statistics.median(cli), 1) if cli else None,
    }
