"""``honestsql bench memory``: peak memory and time of a huge result read with a small row cap.

A scratch database gets a table of 1,000 rows; ``honestsql check --max-rows 10`` then runs a
four-way cross product (10^12 rows) in a child process whose peak RSS is read from the kernel
(``wait4``). Bounded memory means the rows are streamed (a server-side cursor) and the unread rest
is dropped on the server, not in the client.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

PRODUCT = "SELECT * FROM t a, t b, t c, t d"


def _postgres(admin_url: str, name: str) -> tuple[str, Any]:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, pad TEXT)")
        conn.execute("INSERT INTO t SELECT g, repeat('x', 20) FROM generate_series(1, 1000) g")

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


def _mysql(admin_url: str, name: str) -> tuple[str, Any]:
    import pymysql
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)

    def admin() -> Any:
        return pymysql.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 3306,
            user=url.username or "root",
            password=url.password or "",
            autocommit=True,
        )

    conn = admin()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
        cur.execute(f"CREATE TABLE `{name}`.t (id INTEGER PRIMARY KEY, pad TEXT)")
        values = ", ".join(f"({i}, '{'x' * 20}')" for i in range(1, 1001))
        cur.execute(f"INSERT INTO `{name}`.t VALUES {values}")
    conn.close()

    def drop() -> None:
        conn = admin()
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()

    return admin_url.rstrip("/") + f"/{name}", drop


def _sqlite(folder: Path) -> tuple[str, Any]:
    import sqlite3

    path = folder / "memory.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, pad TEXT)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(i, "x" * 20) for i in range(1, 1001)])
    conn.commit()
    conn.close()
    return str(path), lambda: None


def _duckdb(folder: Path) -> tuple[str, Any]:
    import duckdb

    path = folder / "memory.duckdb"
    conn = duckdb.connect(str(path))
    conn.execute("CREATE TABLE t AS SELECT range AS id, repeat('x', 20) AS pad FROM range(1, 1001)")
    conn.close()
    return str(path), lambda: None


def measure(url: str, sql: str, *, max_rows: int, timeout: float) -> dict[str, Any]:
    """Run ``honestsql check`` in a child process; its wall time, peak RSS and answer."""
    env = {**os.environ, "HONESTSQL_ALLOW_PRIVILEGED": "1"}
    command = [sys.executable, "-m", "honestsql", "check", "--db", url, "--json"]
    command += ["--max-rows", str(max_rows), "--timeout", str(timeout), sql]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert child.stdout is not None
    output = child.stdout.read()
    _, _, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    answer = json.loads(output) if output.strip() else {}
    return {
        "sql": sql,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "seconds": round(seconds, 2),
        "status": answer.get("status"),
        "rows": len(answer.get("rows") or []),
        "truncated": answer.get("truncated"),
        "errors": [e.get("kind") for e in answer.get("errors") or []],
    }


def run(targets: list[str], pg_admin: str, mysql_admin: str, timeout: float) -> dict[str, Any]:
    figures: dict[str, Any] = {"max_rows": 10, "timeout_s": timeout}
    name = f"honestsql_bench_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as folder:
        for target in targets:
            if target == "postgres":
                url, drop = _postgres(pg_admin, name)
            elif target == "mysql":
                url, drop = _mysql(mysql_admin, name)
            elif target == "duckdb":
                url, drop = _duckdb(Path(folder))
            else:
                url, drop = _sqlite(Path(folder))
            try:
                figures[target] = measure(url, PRODUCT, max_rows=10, timeout=timeout)
                if target == "sqlite":
                    figures["sqlite_randomblob"] = measure(
                        url, "SELECT randomblob(500000000)", max_rows=1, timeout=5
                    )
            finally:
                drop()
    return figures
