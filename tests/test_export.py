"""Results to take away: CSV, JSON and Parquet files from `check`, `ask` and the HTTP API, streamed
from real databases (a large result never sits in memory)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import honestsql
from honestsql.errors import InvalidInput
from honestsql.export import export, format_for
from honestsql.server import ServerConfig, create_app

from .chat_server import ChatServer

ORDERS = "SELECT id, customer_id, total FROM orders ORDER BY id"


def test_every_database_exports_every_format(test_db: Any, tmp_path: Path) -> None:
    pyarrow = pytest.importorskip("pyarrow.parquet")
    with honestsql.connect(test_db.url) as db:
        expected = honestsql.check(db, ORDERS).result
        assert expected is not None and len(expected.rows) == 60
        for fmt in ("csv", "json", "parquet"):
            path = tmp_path / f"orders.{fmt}"
            done = export(db, ORDERS, path)
            assert done.ok and done.rows == 60 and not done.truncated and done.format == fmt
            if fmt == "csv":
                rows = list(csv.reader(path.open(newline="")))
                assert rows[0] == ["id", "customer_id", "total"] and len(rows) == 61
                assert float(rows[1][2]) == pytest.approx(float(expected.rows[0][2]))
            elif fmt == "json":
                records = json.loads(path.read_text())
                assert (
                    len(records) == 60 and records[0]["id"] == 1 and records[0]["customer_id"] == 2
                )
            else:
                table = pyarrow.read_table(path)
                assert table.num_rows == 60 and table.column_names == ["id", "customer_id", "total"]
                assert table.column("id").to_pylist()[:3] == [1, 2, 3]
        assert not list(tmp_path.glob(".*.partial"))


def test_a_large_result_is_streamed_not_held(tmp_path: Path) -> None:
    path = tmp_path / "big.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT)")
    conn.executemany(
        "INSERT INTO t VALUES (?, ?)", ((i, f"row {i:07d} " + "x" * 100) for i in range(300_000))
    )
    conn.commit()
    conn.close()
    with honestsql.connect(path, samples=False) as db:
        db.catalog()
        tracemalloc.start()
        done = export(db, "SELECT id, note FROM t", tmp_path / "big.csv", timeout=120)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert done.ok and done.rows == 300_000 and not done.truncated
    # Held in memory, the rows alone would take well over 50 MB.
    assert peak < 15 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
    with (tmp_path / "big.csv").open() as handle:
        assert sum(1 for _ in handle) == 300_001
    with honestsql.connect(path, samples=False) as db:
        capped = export(db, "SELECT id FROM t", tmp_path / "capped.json", max_rows=1000)
    assert capped.rows == 1000 and capped.truncated
    assert len(json.loads((tmp_path / "capped.json").read_text())) == 1000


def test_a_refused_query_writes_nothing(test_databases: Any, tmp_path: Path) -> None:
    with honestsql.connect(test_databases["sqlite"].url) as db:
        done = export(db, "DELETE FROM orders", tmp_path / "x.csv")
        assert not done.ok and done.errors[0].kind == "not_read_only"
        done = export(db, "SELECT nope FROM orders", tmp_path / "x.csv")
        assert not done.ok and done.errors[0].kind == "unknown_column"
    with honestsql.connect(
        test_databases["sqlite"].url, policy={"deny": ["customers.email"]}
    ) as db:
        done = export(db, "SELECT email FROM customers", tmp_path / "x.csv")
        assert not done.ok and done.errors[0].kind == "denied"
    assert not list(tmp_path.iterdir())
    with pytest.raises(InvalidInput, match="from its name"):
        format_for(Path("out.txt"))
    with pytest.raises(InvalidInput, match="Unknown export format"):
        format_for(None, "xlsx")


def test_output_never_follows_a_planted_link(test_databases: Any, tmp_path: Path) -> None:
    import os

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    target = tmp_path / "out.csv"
    # The old predictable partial name, planted as a link to another file.
    (tmp_path / ".out.csv.partial").symlink_to(victim)
    with honestsql.connect(test_databases["sqlite"].url) as db:
        done = export(db, "SELECT code FROM countries ORDER BY 1", target)
        assert done.ok and done.rows == 4
        assert victim.read_text() == "keep me"
        assert target.read_text().splitlines()[0] == "code" and not target.is_symlink()
        assert not [
            p for p in tmp_path.iterdir() if p.name.endswith(".partial") and not p.is_symlink()
        ]
        link = tmp_path / "link.csv"
        link.symlink_to(victim)
        fifo = tmp_path / "fifo.csv"
        os.mkfifo(fifo)
        for refused in (link, fifo, tmp_path):
            with pytest.raises(InvalidInput, match="not a regular file"):
                export(db, "SELECT 1", refused, fmt="csv")
        assert victim.read_text() == "keep me"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "honestsql", *args], capture_output=True, text=True, timeout=120
    )


def test_check_and_ask_take_results_away(test_databases: Any, tmp_path: Path) -> None:
    url = test_databases["sqlite"].url
    run = _cli("check", "--db", url, ORDERS, "--csv")
    assert run.returncode == 0, run.stderr
    rows = list(csv.reader(io.StringIO(run.stdout)))
    assert rows[0] == ["id", "customer_id", "total"] and len(rows) == 61
    out = tmp_path / "orders.json"
    run = _cli("check", "--db", url, ORDERS, "--output", str(out), "--json")
    body = json.loads(run.stdout)
    assert run.returncode == 0 and body["ok"] and body["rows"] == 60 and body["path"] == str(out)
    assert len(json.loads(out.read_text())) == 60
    run = _cli("check", "--db", url, "DROP TABLE orders", "--output", str(tmp_path / "x.csv"))
    assert run.returncode == 1 and not (tmp_path / "x.csv").exists()

    def reply(request: dict[str, Any]) -> list[str]:
        return ["SELECT id, total FROM orders WHERE customer_id = 2"] * max(
            1, request.get("n") or 1
        )

    with ChatServer(reply) as server:
        common = ["--db", url, "--base-url", server.base_url, "--model", "scripted", "--no-audit"]
        run = _cli("ask", "Which orders did customer 2 place?", *common, "--csv")
        assert run.returncode == 0, run.stderr
        rows = list(csv.reader(io.StringIO(run.stdout)))
        assert rows[0] == ["id", "total"] and len(rows) == 14  # 13 orders and the header
        out = tmp_path / "answer.csv"
        run = _cli("ask", "Which orders did customer 2 place?", *common, "--output", str(out))
        assert run.returncode == 0, run.stderr
        assert len(list(csv.reader(out.open(newline="")))) == 14


def test_http_export(test_databases: Any, tmp_path: Path) -> None:
    config = ServerConfig(
        {"shop": test_databases["sqlite"].url}, audit=False, memory_path=tmp_path / "m.sqlite"
    )
    client = TestClient(create_app(config), base_url="http://localhost")
    response = client.post("/api/export", json={"sql": ORDERS, "format": "csv"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert len(list(csv.reader(io.StringIO(response.text)))) == 61
    response = client.post("/api/export", json={"sql": ORDERS, "format": "json"})
    assert len(response.json()) == 60
    response = client.post("/api/export", json={"sql": "DELETE FROM orders"})
    assert response.status_code == 422 and response.json()["error"]["kind"] == "not_read_only"
    response = client.post("/api/export", json={"sql": ORDERS, "format": "xlsx"})
    assert response.status_code == 422 and response.json()["error"]["kind"] == "invalid_input"


def test_http_export_has_a_byte_cap(test_databases: Any, tmp_path: Path) -> None:
    config = ServerConfig(
        {"shop": test_databases["sqlite"].url}, audit=False, memory_path=tmp_path / "m.sqlite"
    )
    config.max_export_bytes = 600
    client = TestClient(create_app(config), base_url="http://localhost")
    big = "SELECT o.id, o.total, c.name FROM orders o CROSS JOIN countries c"
    response = client.post("/api/export", json={"sql": big, "format": "csv"})
    assert response.status_code == 422 and "cap of 600 bytes" in response.json()["error"]["message"]
    small = client.post("/api/export", json={"sql": "SELECT code FROM countries", "format": "csv"})
    assert small.status_code == 200 and len(small.text.splitlines()) == 5
    assert not list(Path(tempfile.gettempdir()).glob("honestsql-export-*.csv.*.partial"))
