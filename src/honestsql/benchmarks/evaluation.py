"""``honestsql bench eval``: the harness's cost on top of the databases' own query time.

Scores every published Spider prediction file whose questions have a database here, then runs
exactly the queries the harness ran (each prediction, and each gold query once per file) straight
through the driver (``sqlite3``, read-only, one after another) to time the databases alone.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from honestsql.evaluation import datasets, runs


def run(*, data: str | None, workers: int, progress: Callable[[int], None]) -> dict[str, Any]:
    root = datasets.data_root(data)
    dataset = datasets.load_spider(root)
    files = sorted((root / "predictions" / "spider_dev").glob("*.sql"))
    harness = 0.0
    scored = 0
    queries: list[tuple[str, str]] = []  # (database path, sql), as the harness ran them
    with tempfile.TemporaryDirectory() as folder:
        for path in files:
            result = runs.score(
                dataset,
                path,
                run_path=Path(folder) / f"{path.stem}.jsonl",
                workers=workers,
            )
            harness += result.wall_seconds
            seen_gold: set[str] = set()
            for outcome in result.outcomes:
                if outcome.status == "skipped":
                    continue
                scored += 1
                db = dataset.locate(outcome.db_id)
                assert db is not None and outcome.gold_sql is not None
                if outcome.gold_sql not in seen_gold:
                    seen_gold.add(outcome.gold_sql)
                    queries.append((db, outcome.gold_sql))
                if outcome.pred_sql and not (outcome.error or "").startswith(
                    ("syntax", "not_read_only", "wrong_arity")
                ):
                    queries.append((db, outcome.pred_sql))
            progress(1)
    connections: dict[str, sqlite3.Connection] = {}
    started = time.perf_counter()
    for db, sql in queries:
        conn = connections.get(db) or connections.setdefault(
            db, sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        )
        with contextlib.suppress(sqlite3.Error):  # failing predictions cost time too
            conn.execute(sql).fetchall()
    database = time.perf_counter() - started
    for conn in connections.values():
        conn.close()
    return {
        "prediction_files": len(files),
        "predictions_scored": scored,
        "queries": len(queries),
        "workers": workers,
        "harness_seconds": round(harness, 3),
        "database_seconds": round(database, 3),
        "overhead": round(harness / database - 1, 3) if database else None,
        "per_1000_predictions_seconds": round(harness / scored * 1000, 3) if scored else None,
    }
