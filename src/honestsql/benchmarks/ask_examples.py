"""``bench ask --examples``: each question with a memory of verified pairs, held out.

A user who confirms answers builds a memory of verified question-SQL pairs, and honestsql shows
the model the ones most like a new question (``Memory.examples``). On a benchmark the other
answerable questions of the same database, with their gold SQL, play that memory. Nothing of the
question itself may reach its prompt: a pair is held out when its question is the same text or its
SQL has the same shape as the question's own gold (literals masked, case and spacing folded), so a
template twin that differs only in a value ("... from Berlin" / "... from Paris") is never shown.
Which pairs each question was shown is kept in its record (``examples``: their question ids).

Whether prompts with examples want a calibrator of their own (fitted on such prompts alone)
``calibrators_with_examples`` measures on a run, held out by database; on the 1.5B's run it did not
(docs/BENCHMARKS.md), so the default's calibrator reads every prompt.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from honestsql import fitting
from honestsql.benchmarks import ask_figures
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


def calibrators_with_examples(
    records: Sequence[dict[str, Any]],
    target: float = 0.75,
    plain: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Whether prompts that show verified examples want a calibrator of their own, held out by
    database. ``own``: each question with examples gets the confidence of a calibrator fitted on
    the questions with examples of the *other* databases. ``default`` (given ``plain``, a run of
    the same model without examples): of one fitted on ``plain``'s questions of the other
    databases, as the default's calibrator is. A question shown none keeps the decision and
    confidence the run recorded. Each: the figures of ``ask_figures.as_run`` over the run, and
    those of the questions with examples alone."""
    records = [r for r in records if not ask_figures.empty_gold(r)]
    kept = [i for i, r in enumerate(records) if r.get("examples")]
    shown = [records[i] for i in kept]
    figures: dict[str, Any] = {
        "questions_with_examples": len(shown),
        "databases": len({r["db_id"] for r in shown}),
    }
    pools = {"own": shown, **({"default": plain} if plain is not None else {})}
    for name, pool in pools.items():
        confidence = [r.get("confidence", 0.0) for r in records]
        answered = [r.get("decision") == "answer" for r in records]
        try:
            fitted = _fitted_elsewhere(shown, pool)
        except ValueError as exc:  # one database, or only one kind of outcome to learn from
            figures[name] = {"unavailable": str(exc)}
            continue
        for i, p in zip(kept, fitted, strict=True):
            confidence[i], answered[i] = p, records[i]["rule"] is None and p > target
        alone = ask_figures.as_run(
            shown, [answered[i] for i in kept], [confidence[i] for i in kept]
        )
        keys = ("precision", "ece_answerable", "ece_answerable_chance", "auroc_answerable")
        figures[name] = {
            **ask_figures.as_run(records, answered, confidence),
            "with_examples": {k: alone[k] for k in keys},
        }
    return figures


def _fitted_elsewhere(
    records: Sequence[dict[str, Any]], pool: Sequence[dict[str, Any]]
) -> list[float]:
    """Each record's confidence from a calibrator fitted on ``pool``'s questions of the other
    databases (0 where a rule abstained)."""
    _, rows, labels, groups = ask_figures.calibration_data(pool)
    decided = set(ask_figures.calibration_data(records)[0])
    confidence = [0.0] * len(records)
    for db in sorted({r["db_id"] for r in records}):
        train = [k for k, group in enumerate(groups) if group != db]
        if not train:
            raise ValueError(f"no questions of a database other than {db} to fit on")
        model = fitting.fit_logistic(
            [rows[k] for k in train],
            [labels[k] for k in train],
            groups=[groups[k] for k in train],
        )
        for j, record in enumerate(records):
            if record["db_id"] == db and j in decided:
                confidence[j] = model.probability(record["signals"])
    return confidence
