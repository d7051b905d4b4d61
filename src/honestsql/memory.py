"""The feedback memory: question/SQL pairs people confirmed, and the failures they reported.

Confirmed pairs come back as few-shot examples for similar questions on the same database (see
``Memory.similar``). The file lives in the user data directory (``$HONESTSQL_DATA_DIR``).
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from honestsql.cache import data_dir, private_file
from honestsql.errors import InvalidInput
from honestsql.injection import looks_like_instructions

if TYPE_CHECKING:
    from honestsql.db import Database

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
        self.path = path or data_dir() / "memory.sqlite"
        private_file(self.path)
        with self._connect() as conn:
            conn.executescript(MEMORY_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def add(self, database: str, question: str, sql: str) -> int:
        """Keep a verified pair. A question or SQL that reads like instructions to a model is
        refused: pairs are shown to the model as examples later."""
        for what, text in (("question", question), ("SQL", sql)):
            if looks_like_instructions(text):
                raise InvalidInput(
                    f"The {what} reads like instructions to a model, so it is not kept as a "
                    "verified example; rephrase it as a plain question about the data."
                )
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

    def examples(self, db: Database, question: str) -> list[tuple[str, str]]:
        """Verified pairs like ``question`` to show the model, each checked again now: against
        today's schema and access policy (a pair that no longer passes is not shown), and
        screened as untrusted text (a pair stored before screening existed may carry
        instructions)."""
        from honestsql.check import check

        found = []
        for pair in self.similar(db.display_url, question):
            if looks_like_instructions(pair.question) or looks_like_instructions(pair.sql):
                continue
            if check(db, pair.sql, execute=False).ok:
                found.append((pair.question, pair.sql))
        return found


def pairs_as_lines(pairs: list[VerifiedPair]) -> str:
    """``pairs`` as JSON Lines (``{"question", "sql"}`` a line): what ``parse_pairs`` reads back,
    written by ``memory export`` and ``GET /api/memory/export``."""
    return "".join(
        json.dumps({"question": p.question, "sql": p.sql}, ensure_ascii=False) + "\n" for p in pairs
    )


#: One pair read from a file: where it was, its question, its SQL, and what is wrong with it.
ReadPair = tuple[str, str, str, str | None]


def read_pairs(path: Path) -> list[ReadPair]:
    """The question/SQL pairs of a file (see ``parse_pairs``)."""
    try:
        text = path.read_text(encoding="utf-8")  # parse_pairs drops a byte-order mark
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"Cannot read {path}: {exc}.") from None
    return parse_pairs(text, str(path))


def parse_pairs(text: str, name: str) -> list[ReadPair]:
    """The question/SQL pairs of the file ``name`` holding ``text``: JSON Lines or (``.json``) a
    JSON list of objects with ``question`` and ``sql``, or (``.csv``) a CSV file with those
    columns. An entry without both is kept with what is wrong with it, so that nothing in the
    file goes unreported."""
    text = text.removeprefix("\ufeff")
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        rows = csv.DictReader(io.StringIO(text, newline=""))  # a quoted SQL may span lines
        if not {"question", "sql"} <= set(rows.fieldnames or []):
            raise InvalidInput(f"{name} needs a header with `question` and `sql` columns.")
        return [_pair(f"row {n}", row) for n, row in enumerate(rows, 1)]
    if suffix == ".json":
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{name} is not JSON ({exc}).") from None
        if not isinstance(items, list):
            raise InvalidInput(f"{name} should hold a list of {{question, sql}} objects.")
        return [_pair(f"item {n}", item) for n, item in enumerate(items, 1)]
    return list(_json_lines(text))


@dataclass
class Imported:
    """What ``import_pairs`` did: how many pairs it read, added and already knew, and each pair
    it did not keep (``at``, ``question``, ``problems``)."""

    pairs: int
    added: int = 0
    already: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": not self.refused, **asdict(self)}


class NotVerified(InvalidInput):
    """A confirmed pair whose SQL does not verify against the database: not remembered."""

    def __init__(self, errors: list[Any]) -> None:
        self.errors = errors  # the verifier's findings (``check.CheckResult.errors``)
        self.problems = [e.message for e in errors]
        super().__init__(
            "The SQL does not verify, so it is not remembered: " + "; ".join(self.problems)
        )


def remember(memory: Memory, db: Database, question: str, sql: str) -> int:
    """Keep a question with the SQL a person confirmed answers it, as every door does (a
    thumbs-up, ``memory add``, an import, MCP's ``remember``): the SQL verified against ``db``'s
    schema and access policy, not run, and kept as the verifier wrote it. Returns the pair's id
    (the same id for a pair already kept); raises ``NotVerified`` naming each problem, or
    ``InvalidInput`` for text that reads like instructions to a model."""
    from honestsql.check import check

    if not question.strip() or not sql.strip():
        raise InvalidInput("A verified pair needs a question and its SQL.")
    result = check(db, sql, execute=False)
    if not result.ok:
        raise NotVerified(result.errors)
    return memory.add(db.display_url, question, result.sql or sql)


def import_pairs(
    memory: Memory,
    db: Database,
    pairs: list[ReadPair],
    advance: Callable[[int], object] | None = None,
) -> Imported:
    """Keep each pair whose SQL verifies against ``db``'s schema (``remember``), and say why of
    each other one. ``advance(1)`` is called once a pair (a progress bar)."""
    known = {p.id for p in memory.pairs(db.display_url)}
    done = Imported(len(pairs))
    for where, question, sql, wrong in pairs:
        if advance is not None:
            advance(1)
        if wrong:
            problems = [wrong]
        else:
            try:
                pair_id = remember(memory, db, question, sql)
            except NotVerified as exc:
                problems = exc.problems
            except InvalidInput as exc:  # reads like instructions to a model
                problems = [exc.message]
            else:
                done.already += pair_id in known
                done.added += pair_id not in known
                known.add(pair_id)
                continue
        done.refused.append({"at": where, "question": question, "problems": problems})
    return done


def _json_lines(text: str) -> Iterator[ReadPair]:
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                yield _pair(f"line {n}", json.loads(line))
            except json.JSONDecodeError:
                yield (f"line {n}", line.strip()[:80], "", "not a JSON object")


def _pair(where: str, item: object) -> ReadPair:
    if not isinstance(item, Mapping):
        return (where, str(item)[:80], "", "not an object with `question` and `sql`")
    question, sql = (str(item.get(k) or "").strip() for k in ("question", "sql"))
    missing = [k for k, v in (("question", question), ("sql", sql)) if not v]
    return (where, question, sql, f"no {' and no '.join(missing)}" if missing else None)
