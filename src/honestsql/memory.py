"""The audit log: every question, prompt, candidate, verdict and answer, in SQLite.

It lives in the user data directory (``$HONESTSQL_DATA_DIR``), one file for all databases; set
``HONESTSQL_AUDIT=0`` or pass ``--no-audit`` to turn it off. The log is also evaluation data.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
import uuid
from dataclasses import dataclass
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


# --- feedback memory ---------------------------------------------------------------------------

MEMORY_SCHEMA = """
CREATE TABLE IF NOT EXISTS verified (
  id INTEGER PRIMARY KEY, at REAL NOT NULL, database TEXT NOT NULL, question TEXT NOT NULL,
  sql TEXT NOT NULL, UNIQUE (database, question, sql)
);
CREATE TABLE IF NOT EXISTS failures (
  id INTEGER PRIMARY KEY, at REAL NOT NULL, database TEXT NOT NULL, question TEXT NOT NULL,
  sql TEXT, comment TEXT
);
"""

_LITERAL = re.compile(r"'[^']*'|\"[^\"]*\"|\b\d+(\.\d+)?\b")


def mask_literals(question: str) -> str:
    """``Orders over 100 from 'Berlin'`` -> ``orders over <v> from <v>``: compare shapes, not values."""
    return " ".join(_LITERAL.sub("<v>", question).lower().split())


@dataclass(frozen=True)
class VerifiedPair:
    id: int
    database: str
    question: str
    sql: str


class Memory:
    """Question-to-SQL pairs people confirmed (thumbs up), and the failures they reported."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path().with_name("memory.sqlite")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(MEMORY_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def add(self, database: str, question: str, sql: str) -> int:
        with self._connect() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO verified (at, database, question, sql) VALUES (?, ?, ?, ?)",
                (time.time(), database, question.strip(), sql.strip()),
            )
            row = conn.execute(
                "SELECT id FROM verified WHERE database = ? AND question = ? AND sql = ?",
                (database, question.strip(), sql.strip()),
            ).fetchone()
        return int(row[0])

    def record_failure(
        self, database: str, question: str, sql: str | None, comment: str = ""
    ) -> int:
        with self._connect() as conn:
            cursor = conn.execute(
                "INSERT INTO failures (at, database, question, sql, comment) VALUES (?, ?, ?, ?, ?)",
                (time.time(), database, question, sql, comment),
            )
        return int(cursor.lastrowid or 0)

    def pairs(self, database: str | None = None) -> list[VerifiedPair]:
        query = "SELECT id, database, question, sql FROM verified"
        args: tuple[str, ...] = ()
        if database:
            query += " WHERE database = ?"
            args = (database,)
        with self._connect() as conn:
            return [VerifiedPair(*row) for row in conn.execute(query + " ORDER BY id", args)]

    def remove(self, pair_id: int) -> bool:
        with self._connect() as conn:
            return conn.execute("DELETE FROM verified WHERE id = ?", (pair_id,)).rowcount > 0

    def failures(self, database: str | None = None) -> list[tuple[str, str | None, str]]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT question, sql, comment FROM failures"
                + (" WHERE database = ?" if database else "")
                + " ORDER BY id",
                (database,) if database else (),
            ).fetchall()
        return [(str(q), s, str(c or "")) for q, s, c in rows]

    def similar(
        self, database: str, question: str, k: int = 3, min_score: float = 60.0
    ) -> list[VerifiedPair]:
        """The ``k`` verified pairs of this database whose questions are most alike (literals masked)."""
        from rapidfuzz import fuzz

        target = mask_literals(question)
        scored = [
            (fuzz.token_set_ratio(target, mask_literals(pair.question)), pair)
            for pair in self.pairs(database)
        ]
        scored = [s for s in scored if s[0] >= min_score]
        scored.sort(key=lambda s: (-s[0], s[1].id))
        return [pair for _, pair in scored[:k]]
