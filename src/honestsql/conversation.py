"""Follow-up questions: conversations kept next to the memory, and follow-ups made standalone.

"How many orders did German customers place in 2024?" then "and in 2023?": the model rewrites
the follow-up into a standalone question from the conversation so far (earlier questions, how
they were read, their SQL and the shape of their results). The rewrite is shown to the user, so a
wrong reading is visible, and everything after it is the normal pipeline: the standalone
question is answered with verified SQL or an honest abstention, with the previous turn's SQL
offered as a hint. Conversations live in ``conversations.sqlite`` in the data directory.

A question in another language is read the same way: the model restates it in English once
(``in_english``), shown to the user like a follow-up's reading, and the pipeline answers that
restatement, worded in the question's language.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from honestsql.cache import data_dir, private_file
from honestsql.errors import NotFound
from honestsql.llm import Backend, GenerationRequest

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
  id TEXT PRIMARY KEY, at REAL NOT NULL, database TEXT NOT NULL, title TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
  conversation TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
  turn INTEGER NOT NULL, at REAL NOT NULL, question TEXT NOT NULL, standalone TEXT NOT NULL,
  decision TEXT NOT NULL, sql TEXT, columns TEXT NOT NULL, row_count INTEGER NOT NULL,
  PRIMARY KEY (conversation, turn)
);
"""
#: Earlier turns shown to the model when it rewrites a follow-up.
HISTORY_TURNS = 4

REWRITE = """You rewrite the last question of a conversation about a database so that it can be \
understood on its own. A follow-up continues the question just before it: start from that \
question and keep all of its conditions (places, years, groups), then add or change only what \
the follow-up says; a follow-up that asks the same about something else replaces the condition, \
it is not a second question. A question that is already complete on its own stays unchanged. Do not \
answer it. Reply with the rewritten question only, on one line.

Examples:
Previous: How many orders did German customers place in 2024?
Follow-up: and in 2023?
Rewritten: How many orders did German customers place in 2023?
Previous: How many orders did German customers place in 2023?
Follow-up: only the cancelled ones
Rewritten: How many cancelled orders did German customers place in 2023?
Previous: How many products cost more than 50 euros?
Follow-up: and how many cost less than 10?
Rewritten: How many products cost less than 10 euros?
Previous: How many customers live in Spain?
Follow-up: only those older than 30
Rewritten: How many customers live in Spain and are older than 30?
Previous: How many customers live in Spain?
Follow-up: What is the most expensive product?
Rewritten: What is the most expensive product?"""


@dataclass(frozen=True)
class Turn:
    turn: int
    question: str
    #: How the question was read on its own (the same text for a first question).
    standalone: str
    decision: str
    sql: str | None
    columns: list[str]
    row_count: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Conversations:
    """The conversations kept for follow-up questions, in SQLite next to the memory."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / "conversations.sqlite"
        private_file(self.path)
        with self._connect() as conn:
            conn.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10)
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def start(self, database: str, title: str) -> str:
        conversation = uuid.uuid4().hex[:12]
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO conversations (id, at, database, title) VALUES (?, ?, ?, ?)",
                (conversation, time.time(), database, title.strip()[:200]),
            )
        return conversation

    def database(self, conversation: str) -> str:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT database FROM conversations WHERE id = ?", (conversation,)
            ).fetchone()
        if row is None:
            raise NotFound(
                f"No conversation {conversation!r}; list them with `honestsql conversations list`."
            )
        return str(row[0])

    def turns(self, conversation: str) -> list[Turn]:
        self.database(conversation)  # a missing conversation is an error, not an empty one
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT turn, question, standalone, decision, sql, columns, row_count FROM turns "
                "WHERE conversation = ? ORDER BY turn",
                (conversation,),
            ).fetchall()
        return [Turn(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6]) for r in rows]

    def add(self, conversation: str, question: str, standalone: str, answer: Any) -> Turn:
        """Append a turn with what ``answer`` (an ``Answer``) decided."""
        with self._connect() as conn:
            (count,) = conn.execute(
                "SELECT COUNT(*) FROM turns WHERE conversation = ?", (conversation,)
            ).fetchone()
            turn = Turn(
                count + 1,
                question,
                standalone,
                answer.decision,
                answer.sql,
                [c["name"] for c in answer.columns],
                len(answer.rows),
            )
            conn.execute(
                "INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation,
                    turn.turn,
                    time.time(),
                    question,
                    standalone,
                    turn.decision,
                    turn.sql,
                    json.dumps(turn.columns),
                    turn.row_count,
                ),
            )
        return turn

    def list(self, database: str | None = None) -> list[dict[str, Any]]:
        query = (
            "SELECT c.id, c.at, c.database, c.title, COUNT(t.turn) FROM conversations c "
            "LEFT JOIN turns t ON t.conversation = c.id "
            + ("WHERE c.database = ? " if database else "")
            + "GROUP BY c.id ORDER BY c.at DESC"
        )
        with self._connect() as conn:
            rows = conn.execute(query, (database,) if database else ()).fetchall()
        return [
            {"id": r[0], "at": r[1], "database": r[2], "title": r[3], "turns": r[4]} for r in rows
        ]

    def delete(self, conversation: str) -> None:
        self.database(conversation)
        with self._connect() as conn:
            conn.execute("DELETE FROM turns WHERE conversation = ?", (conversation,))
            conn.execute("DELETE FROM conversations WHERE id = ?", (conversation,))


def rewrite_messages(history: list[Turn], question: str) -> list[dict[str, str]]:
    """The request that turns a follow-up into a standalone question: the turn just before it
    (as it was read, its SQL and the shape of its result) and, briefly, the ones before that."""
    lines = []
    earlier = history[-HISTORY_TURNS:-1]
    if earlier:
        lines.append("Earlier questions: " + " / ".join(turn.standalone for turn in earlier))
    previous = history[-1]
    lines.append(f"Previous: {previous.standalone}")
    if previous.sql:
        shape = ", ".join(previous.columns) or "no columns"
        lines.append(f"Previous SQL: {previous.sql} ({previous.row_count} row(s) of {shape})")
    else:
        lines.append("Previous SQL: none (it was not answered)")
    lines.append(f"Follow-up: {question}")
    return [
        {"role": "system", "content": REWRITE},
        {"role": "user", "content": "\n".join(lines) + "\nRewritten:"},
    ]


def standalone(backend: Backend, history: list[Turn], question: str) -> tuple[str, dict[str, int]]:
    """The follow-up ``question`` made standalone by the model (unchanged with no history), and
    the tokens it took."""
    if not history:
        return question, {"prompt_tokens": 0, "completion_tokens": 0}
    return _one_line(backend, rewrite_messages(history, question), question)


#: Restating a question in another language in English (``in_english``). The examples are of
#: our own, about no database honestsql is measured on.
ENGLISH = """You translate a user's question about a database into English, word for word where \
you can. Keep names, numbers, codes and quoted values exactly as they are written. Where the \
database's own words fit, use them. The question is never yours to answer: reply with the \
English question only, on one line.

Examples:
Question: 東京にある店舗はいくつありますか？
English: How many stores are there in Tokyo?
Question: ¿Cuál es el nombre del empleado más antiguo?
English: What is the name of the longest-serving employee?
Question: Quelle est la capitale de la France ?
English: What is the capital of France?"""
#: Table names offered to the translation, at most.
WORDS = 60


def in_english(
    backend: Backend, question: str, words: list[str] | None = None
) -> tuple[str, dict[str, int]]:
    """A question in another language restated in English by the model, and the tokens it
    took; ``words`` (the database's table names) are offered so that the reading uses them.
    The pipeline answers the restatement (linking and the relevance signal read the schema's
    English words, and a small model writes better SQL from English); the answer is worded in
    the question's language and shows the restatement, so a wrong reading is visible."""
    offered = f"The database's words: {', '.join(words[:WORDS])}\n" if words else ""
    messages = [
        {"role": "system", "content": ENGLISH},
        {"role": "user", "content": f"{offered}Question: {question}\nEnglish:"},
    ]
    return _one_line(backend, messages, question)


def _one_line(
    backend: Backend, messages: list[dict[str, str]], question: str
) -> tuple[str, dict[str, int]]:
    """The first line the model replies to ``messages`` (greedy), a leading label taken off;
    ``question`` when it replies nothing. The system message is the same every time: a backend
    that keeps prompt states keeps it (``stable``)."""
    stable = messages[0]["content"]
    completion = backend.generate_many(
        [GenerationRequest(messages, n=1, temperature=0.0, max_tokens=96, seed=0, stable=stable)]
    )[0]
    text = (completion.texts[0] if completion.texts else "").strip()
    text = text.splitlines()[0].strip().strip('"').strip() if text else ""
    for prefix in ("Rewritten:", "Rewritten question:", "Question:", "English:"):
        if text.lower().startswith(prefix.lower()):
            text = text[len(prefix) :].strip()
    usage = {
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
    }
    return (text or question), usage


def context_hint(history: list[Turn]) -> str:
    """The previous answered turn, offered to the pipeline as a hint for editing its SQL."""
    for turn in reversed(history):
        if turn.sql:
            return f"The previous question ({turn.standalone}) was answered with: {turn.sql}"
    return ""
