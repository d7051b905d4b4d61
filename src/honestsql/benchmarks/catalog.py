"""``honestsql bench catalog``: how long the catalog of a large schema takes to build and to load."""

from __future__ import annotations

import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import honestsql

_TYPES = ["TEXT", "INTEGER", "REAL", "DATE"]


def _ddl(index: int, columns: int) -> str:
    parts = ["id INTEGER PRIMARY KEY"]
    if index > 0:
        parts.append(f"parent_id INTEGER REFERENCES t{index - 1:04d}(id)")
    while len(parts) < columns:
        n = len(parts)
        parts.append(f"c{n:02d}_{_TYPES[n % 4].lower()} {_TYPES[n % 4]}")
    return f"CREATE TABLE t{index:04d} ({', '.join(parts)})"


def _rows(index: int, columns: int) -> str:
    values = []
    for row in range(1, 4):
        cells = [str(row)]
        if index > 0:
            cells.append("1")
        while len(cells) < columns:
            n = len(cells)
            kind = _TYPES[n % 4]
            cells.append(
                {
                    "TEXT": f"'value {row}-{n}'",
                    "INTEGER": str(row * n),
                    "REAL": f"{row * n}.5",
                    "DATE": f"'2024-01-{row:02d}'",
                }[kind]
            )
        values.append(f"({', '.join(cells)})")
    return f"INSERT INTO t{index:04d} VALUES {', '.join(values)}"


def build_sqlite(path: Path, tables: int, columns: int, progress: Callable[[int], None]) -> str:
    conn = sqlite3.connect(path)
    for index in range(tables):
        conn.execute(_ddl(index, columns))
        conn.execute(_rows(index, columns))
        progress(1)
    conn.commit()
    conn.close()
    return str(path)


def build_postgres(
    admin_url: str, name: str, tables: int, columns: int, progress: Callable[[int], None]
) -> str:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(url) as conn:
        for index in range(tables):
            conn.execute(_ddl(index, columns).replace(" REAL", " DOUBLE PRECISION"))
            conn.execute(_rows(index, columns))
            if index % 100 == 99:  # one transaction would run out of lock slots
                conn.commit()
            progress(1)
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE")
    return url


def drop_postgres(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(
    *, tables: int, columns: int, target: str, admin_url: str, progress: Callable[[int], None]
) -> dict[str, Any]:
    name = f"honestsql_bench_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        try:
            if target == "sqlite":
                url = build_sqlite(Path(folder) / "wide.sqlite", tables, columns, progress)
            else:
                url = build_postgres(admin_url, name, tables, columns, progress)
            setup_s = time.perf_counter() - started
            db = honestsql.connect(url)
            started = time.perf_counter()
            catalog = db.catalog(refresh=True)
            cold_s = time.perf_counter() - started
            db.close()
            warm = honestsql.connect(url)
            started = time.perf_counter()
            cached = warm.catalog()
            warm_s = time.perf_counter() - started
            warm.close()
            assert cached.fingerprint == catalog.fingerprint
        finally:
            if target == "postgres":
                drop_postgres(admin_url, name)
    return {
        "target": target,
        "tables": len(catalog.tables),
        "columns": catalog.column_count,
        "setup_seconds": round(setup_s, 3),
        "build_seconds": round(cold_s, 3),
        "cached_load_seconds": round(warm_s, 3),
        "with_samples": True,
    }
