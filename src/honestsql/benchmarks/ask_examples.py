"""``bench ask --examples``: each question with a memory of verified pairs, held out.

A user who confirms answers builds a memory of verified question-SQL pairs, and honestsql shows
the model the ones most like a new question (``Memory.examples``). On a benchmark the other
answerable questions of the same database, with their gold SQL, play that memory. Nothing of the
question itself may reach its prompt: a pair is held out when its question is the same text or its
SQL has the same shape as the question's own gold (literals masked, case and spacing folded), so a
template twin that differs only in a value ("... from Berlin" / "... from Paris") is never shown.
Which pairs each question was shown is kept in its record (``examples``: their question ids).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from honestsql.db import Database
from honestsql.errors import InvalidInput
from honestsql.evaluation.datasets import Example
from honestsql.evaluation.matching import sqleval_alternatives
from honestsql.evaluation.records import Item
from honestsql.memory import Memory, VerifiedPair

#: The header's ``examples`` value for a run made with this memory.
HELD_OUT = "held-out-gold"

_LITERAL = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")


def shape(sql: str) -> str:
    """``SELECT COUNT(*) FROM t WHERE city = 'Berlin'`` -> ``select count(*) from t where city =
    <v>``: two queries that differ only in their values have the same shape."""
    return " ".join(_LITERAL.sub("<v>", sql).lower().rstrip("; \n").split())


def gold_sql(example: Example) -> str | None:
    """The gold query as a person would have confirmed it: sql-eval's first alternative (its
    ``{a,b}`` column choices expanded), Spider's query as written."""
    if not example.answerable or not example.gold:
        return None
    return sqleval_alternatives(example.gold[0])[0]


class HeldOutMemory(Memory):
    """The other answerable questions of each database as verified pairs; ``ask`` sets the
    question being answered (``current``) before each, and its own pairs are held out. Its
    store is a scratch file of its own, removed by ``close``."""

    def __init__(self, items: list[Item]) -> None:
        self._scratch = tempfile.TemporaryDirectory(prefix="honestsql-examples-")
        super().__init__(Path(self._scratch.name) / "memory.sqlite")
        self.items = {item.id: item for item in items}
        self.current: Item | None = None
        self.filled: set[tuple[str, str]] = set()
        #: The ids of the pairs the last question was shown, in the order shown.
        self.shown: list[str] = []
        self._ids: dict[tuple[str, str], str] = {}

    def close(self) -> None:
        """Remove the scratch store."""
        self._scratch.cleanup()

    def answering(self, item: Item, db: Database) -> None:
        """``item`` is asked next on ``db``: its database's pairs are stored (once)."""
        self.current, self.shown = item, []
        key = (item.suite, item.example.db_id)
        if key in self.filled:
            return
        self.filled.add(key)
        for other in self.items.values():
            sql = gold_sql(other.example)
            if (other.suite, other.example.db_id) == key and sql:
                question = other.example.question.strip()
                try:
                    self.add(db.display_url, question, sql)
                except InvalidInput:  # reads like instructions: a memory would refuse it too
                    continue
                self._ids[(question, sql.strip())] = other.id

    def pairs(self, database: str | None = None) -> list[VerifiedPair]:
        pairs = super().pairs(database)
        if self.current is None:
            return pairs
        question = self.current.example.question.strip()
        own = gold_sql(self.current.example)
        own_shape = shape(own) if own else None
        return [p for p in pairs if p.question != question and shape(p.sql) != own_shape]

    def examples(self, db: Database, question: str) -> list[tuple[str, str]]:
        found = super().examples(db, question)
        self.shown = [self._ids.get((q, sql), "?") for q, sql in found]
        return found
