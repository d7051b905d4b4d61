"""The audit log: every question, prompt, candidate, verdict and answer, in SQLite.

It lives in the user data directory (``$HONESTSQL_DATA_DIR``), one file for all databases; set
``HONESTSQL_AUDIT=0`` or pass ``--no-audit`` to turn it off. The log is also evaluation data.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import platformdirs

SCHEMA = """
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
  ask_id TEXT NOT NULL REFERENCES asks(id), seq INTEGER NOT NULL, sql TEXT, status TEXT NOT NULL,
  result_hash TEXT, repairs INTEGER NOT NULL, findings TEXT NOT NULL
);
"""


def enabled() -> bool:
    return os.environ.get("HONESTSQL_AUDIT", "1").lower() not in {"0", "false", "no", "off"}


def default_path() -> Path:
    base = os.environ.get("HONESTSQL_DATA_DIR") or platformdirs.user_data_dir("honestsql")
    return Path(base) / "audit.sqlite"


class AuditLog:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(SCHEMA)

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
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO asks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    ask_id,
                    time.time(),
                    database,
                    question,
                    target,
                    backend,
                    answer["decision"],
                    answer["confidence"],
                    answer.get("sql"),
                    json.dumps(answer["reasons"]),
                    json.dumps(answer["usage"]),
                    json.dumps(answer["timings_ms"]),
                ),
            )
            conn.executemany(
                "INSERT INTO prompts VALUES (?, ?, ?, ?)",
                [(ask_id, i, json.dumps(m), json.dumps(r)) for i, (m, r) in enumerate(prompts)],
            )
            conn.executemany(
                "INSERT INTO candidates VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        ask_id,
                        i,
                        c["sql"],
                        c["status"],
                        c["result_hash"],
                        c["repairs"],
                        json.dumps(c["errors"]),
                    )
                    for i, c in enumerate(answer["candidates"])
                ],
            )
        return ask_id
