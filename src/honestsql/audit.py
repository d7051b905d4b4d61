"""The audit log: every question, prompt, candidate, verdict and answer, in SQLite.

It lives in the user data directory (``$HONESTSQL_DATA_DIR``), one file for all databases; set
``HONESTSQL_AUDIT=0`` or pass ``--no-audit`` to turn it off. The log is also evaluation data.
Its layout changes only by appending to ``MIGRATIONS``: a file records how many it has applied
(SQLite's ``user_version``), so an older log is brought up to date when it is opened.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

from honestsql.cache import data_dir, private_file

#: Numbered steps from an empty file to today's layout; never edit one, only append.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS asks (
      id TEXT PRIMARY KEY, at REAL NOT NULL, database TEXT NOT NULL, question TEXT NOT NULL,
      target REAL NOT NULL, backend TEXT NOT NULL, decision TEXT NOT NULL, confidence REAL,
      sql TEXT, reasons TEXT NOT NULL, usage TEXT NOT NULL, timings TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS prompts (
      ask_id TEXT NOT NULL REFERENCES asks(id), seq INTEGER NOT NULL, messages TEXT NOT NULL,
      responses TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS candidates (
      ask_id TEXT NOT NULL REFERENCES asks(id), seq INTEGER NOT NULL, sql TEXT,
      status TEXT NOT NULL, result_hash TEXT, repairs INTEGER NOT NULL, findings TEXT NOT NULL
    );
    """,
)


def enabled() -> bool:
    return os.environ.get("HONESTSQL_AUDIT", "1").lower() not in {"0", "false", "no", "off"}


def default_path() -> Path:
    return data_dir() / "audit.sqlite"


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations this file has not seen; returns the layout version now."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"The audit log {version=} was written by a newer honestsql; upgrade honestsql."
        )
    for number in range(version, len(MIGRATIONS)):
        conn.executescript(MIGRATIONS[number])
        conn.execute(f"PRAGMA user_version = {number + 1}")
    return len(MIGRATIONS)


def _insert(conn: sqlite3.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    if rows:
        names = list(rows[0])
        conn.executemany(
            f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            [tuple(row[n] for n in names) for row in rows],
        )


class AuditLog:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        private_file(self.path)
        with self._connect() as conn:
            migrate(conn)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def record(
        self,
        *,
        database: str,
        question: str,
        target: float,
        backend: str,
        answer: dict[str, Any],
        prompts: list[tuple[list[dict[str, str]], list[str]]],
    ) -> str:
        ask_id = uuid.uuid4().hex
        ask = {
            "id": ask_id,
            "at": time.time(),
            "database": database,
            "question": question,
            "target": target,
            "backend": backend,
            "decision": answer["decision"],
            "confidence": answer["confidence"],
            "sql": answer.get("sql"),
            "reasons": json.dumps(answer["reasons"]),
            "usage": json.dumps(answer["usage"]),
            "timings": json.dumps(answer["timings_ms"]),
        }
        with self._connect() as conn:
            _insert(conn, "asks", [ask])
            _insert(
                conn,
                "prompts",
                [
                    {
                        "ask_id": ask_id,
                        "seq": i,
                        "messages": json.dumps(m),
                        "responses": json.dumps(r),
                    }
                    for i, (m, r) in enumerate(prompts)
                ],
            )
            _insert(
                conn,
                "candidates",
                [
                    {
                        "ask_id": ask_id,
                        "seq": i,
                        "sql": c["sql"],
                        "status": c["status"],
                        "result_hash": c["result_hash"],
                        "repairs": c["repairs"],
                        "findings": json.dumps(c["errors"]),
                    }
                    for i, c in enumerate(answer["candidates"])
                ],
            )
        return ask_id
