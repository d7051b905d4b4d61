"""``honestsql bench linking`` end to end, on a small Spider/BIRD-format data folder built here."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


def _schema(db_id: str, tables: dict[str, list[str]], fks: list[tuple[str, str]]) -> dict[str, Any]:
    """A tables.json entry: ``tables`` maps a table to its columns (the first is the key),
    ``fks`` pairs "table.column" -> "table.column"."""
    columns: list[list[Any]] = [[-1, "*"]]
    primary = []
    position = {}
    for t, (table, names) in enumerate(tables.items()):
        for i, name in enumerate(names):
            if i == 0:
                primary.append(len(columns))
            position[f"{table}.{name}"] = len(columns)
            columns.append([t, name])
    return {
        "db_id": db_id,
        "table_names_original": list(tables),
        "table_names": list(tables),
        "column_names_original": columns,
        "column_names": columns,
        "column_types": ["text"] * len(columns),
        "primary_keys": primary,
        "foreign_keys": [[position[a], position[b]] for a, b in fks],
    }


SHOP = _schema(
    "shop",
    {"customers": ["id", "name", "city"], "orders": ["id", "customer_id", "amount", "status"]},
    [("orders.customer_id", "customers.id")],
)
ZOO = _schema(
    "zoo",
    {"keepers": ["id", "name"], "animals": ["id", "species", "keeper_id", "weight"]},
    [("animals.keeper_id", "keepers.id")],
)
#: In both benchmarks with the same schema, like formula_1.
RACING = _schema(
    "racing",
    {"drivers": ["driverId", "forename", "surname"], "results": ["resultId", "driverId", "points"]},
    [("results.driverId", "drivers.driverId")],
)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    (root / "spider").mkdir()
    (root / "bird").mkdir()
    (root / "spider" / "tables.json").write_text(json.dumps([SHOP, ZOO, RACING]))
    spider = [
        (
            "How many orders have status 'shipped'?",
            "SELECT count(*) FROM orders WHERE status = 'shipped'",
            "shop",
        ),
        ("Which city does each customer live in?", "SELECT name, city FROM customers", "shop"),
        (
            "What is the total amount of orders per customer name?",
            "SELECT T1.name, sum(T2.amount) FROM customers AS T1 JOIN orders AS T2 ON T1.id = T2.customer_id GROUP BY T1.name",
            "shop",
        ),
        (
            "List the species of animals heavier than 100.",
            "SELECT species FROM animals WHERE weight > 100",
            "zoo",
        ),
    ]
    (root / "spider" / "dev.json").write_text(
        json.dumps([{"question": q, "query": sql, "db_id": db} for q, sql, db in spider])
    )
    (root / "bird" / "dev_tables.json").write_text(json.dumps([RACING]))
    bird = [
        (
            "Which driver scored the most points?",
            "driver refers to forename, surname",
            "SELECT T1.forename, T1.surname FROM drivers AS T1 JOIN results AS T2 ON T1.driverId = T2.driverId ORDER BY T2.points DESC LIMIT 1",
        ),
        ("How many drivers are there?", "", "SELECT count(*) FROM drivers"),
    ]
    (root / "bird" / "dev.json").write_text(
        json.dumps(
            [{"question": q, "evidence": e, "SQL": sql, "db_id": "racing"} for q, e, sql in bird]
        )
    )
    # A database for value retrieval: the gold literal 'shipped' is one of its values.
    folder = root / "spider" / "databases" / "shop"
    folder.mkdir(parents=True)
    with sqlite3.connect(folder / "shop.sqlite") as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, city TEXT)")
        conn.execute(
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), amount REAL, status TEXT)"
        )
        conn.executemany(
            "INSERT INTO customers VALUES (?, ?, ?)", [(1, "Ada", "Paris"), (2, "Bo", "Oslo")]
        )
        conn.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?)",
            [(1, 1, 10.0, "shipped"), (2, 2, 5.0, "pending"), (3, 1, 7.5, "cancelled")],
        )
    return root


def _bench(data: Path, *args: str) -> dict[str, Any]:
    env = {**os.environ, "HONESTSQL_DATA_DIR": str(data / "home")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "honestsql",
            "bench",
            "linking",
            "--data",
            str(data),
            "--json",
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_single_database_mode_reports_the_issue_fields_and_a_curve(data: Path) -> None:
    result = _bench(data, "--benchmark", "spider", "--fraction", "1.0")
    assert result["n"] == 4
    # Every column kept: every gold column is kept.
    assert result["strict_recall"] == 1.0 and result["kept_column_fraction"] == 1.0
    for key in ("table_recall", "column_recall", "kept_tokens", "p95_ms", "index_build_seconds"):
        assert key in result
    fractions = [point["fraction"] for point in result["curve"]]
    assert fractions == sorted(fractions) and 0.1 in fractions and 1.0 in fractions
    smallest = result["curve"][0]
    assert smallest["kept_column_fraction"] < 1.0  # a small budget keeps less
    # The one gold literal ('shipped') is found among the shop database's values.
    values = result["values"]["spider"]
    assert (values["literals"], values["recall_at_10"]) == (1, 1.0) and values["p95_ms"] >= 0


def test_warehouse_mode_merges_every_schema_once_and_respects_the_budget(data: Path) -> None:
    roomy = _bench(data, "--benchmark", "bird", "--warehouse", "--budget", "5000")
    # shop (2 tables, 7 columns) + zoo (2, 6) + racing (2, 6; in both benchmarks, merged once)
    assert roomy["tables"] == 6 and roomy["columns"] == 19
    assert roomy["n"] == 2 and roomy["strict_recall"] == 1.0
    tight = _bench(data, "--benchmark", "bird", "--warehouse", "--budget", "100")
    assert tight["kept_tokens"] <= 100
    assert tight["kept_column_fraction"] < roomy["kept_column_fraction"]


def test_missing_data_is_a_clear_error(tmp_path: Path) -> None:
    for folder in (tmp_path / "absent", tmp_path):  # no folder; a folder without the files
        args = ["bench", "linking", "--benchmark", "spider", "--data", str(folder), "--json"]
        proc = subprocess.run(
            [sys.executable, "-m", "honestsql", *args], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 1, proc.stderr
        error = json.loads(proc.stdout)["errors"][0]
        assert error["kind"] == "invalid_input" and str(folder) in error["message"]
