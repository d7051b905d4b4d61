"""Judging predictions against a benchmark: each gold and predicted query run on the real
database (guarded like any other), the results compared the benchmark's way.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import honestsql
from honestsql.db import Database
from honestsql.db import result as db_result
from honestsql.errors import ConnectionFailed, HonestSQLError
from honestsql.evaluation import matching
from honestsql.evaluation.datasets import Dataset, Example
from honestsql.evaluation.metrics import Judged
from honestsql.evaluation.predictions import (
    Prediction,
)
from honestsql.guard import GuardedStatement, guard

Match = Literal["execution", "sql"]


@dataclass
class Outcome:
    """How one question was judged. ``status``: correct, wrong, error (the SQL failed or was
    refused), abstained, or skipped (not counted: no database, no prediction, gold failed)."""

    id: str
    index: int
    db_id: str
    question: str
    answerable: bool
    abstained: bool
    status: str
    correct: bool | None
    confidence: float | None = None
    pred_sql: str | None = None
    gold_sql: str | None = None
    error: str | None = None
    pred_ms: float = 0.0
    gold_ms: float = 0.0
    #: A hash of the prediction's result rows (order-free), to compare systems' answers.
    result_key: str | None = None

    def judged(self) -> Judged | None:
        if self.status == "skipped" or self.correct is None:
            return None
        return Judged(self.answerable, self.abstained, self.correct, self.confidence)


#: Error kinds that mean the scorer cannot reach a database, not that one gold query is broken.
_SETUP_ERRORS = ("privileged_login", "connection")


@dataclass
class Scorer:
    dataset: Dataset
    match: Match = "execution"
    timeout: float = 30.0
    max_rows: int = 100_000
    #: Passed to every database opened (see ``honestsql.connect``).
    allow_privileged: bool | None = None
    _databases: dict[str, Database | None] = field(default_factory=dict)
    gold_cache: dict[tuple[str, str], tuple[list[matching.Row] | None, str | None, float]] = field(
        default_factory=dict
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def database(self, db_id: str) -> Database | None:
        with self._lock:
            if db_id not in self._databases:
                url = self.dataset.locate(db_id)
                self._databases[db_id] = (
                    honestsql.connect(url, samples=False, allow_privileged=self.allow_privileged)
                    if url
                    else None
                )
            return self._databases[db_id]

    def close(self) -> None:
        for db in self._databases.values():
            if db is not None:
                db.close()

    def _run(self, db: Database, sql: str) -> tuple[list[matching.Row] | None, str | None, float]:
        started = time.perf_counter()
        try:
            result = db.execute(sql, timeout=self.timeout, max_rows=self.max_rows)
            return matching.rows_of(result.rows), None, (time.perf_counter() - started) * 1000
        except HonestSQLError as exc:
            return None, f"{exc.kind}: {exc.message}", (time.perf_counter() - started) * 1000

    def gold_rows(
        self, db: Database, db_id: str, sql: str
    ) -> tuple[list[matching.Row] | None, str | None, float]:
        key = (db_id, sql)
        if key not in self.gold_cache:
            self.gold_cache[key] = self._run(db, sql)
        rows, error, _ = self.gold_cache[key]
        return rows, error, self.gold_cache[key][2]

    def judge(
        self, example: Example, prediction: Prediction | None, confidence: float | None
    ) -> Outcome:
        base: dict[str, Any] = {
            "id": example.id,
            "index": example.index,
            "db_id": example.db_id,
            "question": example.question,
            "answerable": example.answerable,
            "confidence": confidence,
            "gold_sql": example.gold[0] if example.gold else None,
        }
        if prediction is None:
            return Outcome(
                **base, abstained=False, status="skipped", correct=None, error="no prediction"
            )
        base["pred_sql"] = prediction.sql
        abstained = prediction.sql is None
        if not example.answerable or abstained:
            # Abstaining is right exactly when the question cannot be answered; any SQL for an
            # unanswerable question is wrong, whatever it returns.
            correct = abstained and not example.answerable
            status = "correct" if correct else ("abstained" if abstained else "wrong")
            return Outcome(**base, abstained=abstained, status=status, correct=correct)
        assert example.gold is not None and prediction.sql is not None
        if self.match == "sql":
            correct = matching.sql_match(example.gold[0], prediction.sql, self.dataset.dialect)
            return Outcome(
                **base, abstained=False, status="correct" if correct else "wrong", correct=correct
            )
        db = self.database(example.db_id)
        if db is None:
            return Outcome(
                **base,
                abstained=False,
                status="skipped",
                correct=None,
                error="database not available",
            )
        checked = guard(prediction.sql, self.dataset.dialect)
        if not isinstance(checked, GuardedStatement):
            return Outcome(
                **base,
                abstained=False,
                status="error",
                correct=False,
                error=f"{checked[0].kind}: {checked[0].message}",
            )
        pred_rows, pred_error, pred_ms = self._run(db, checked.executable_sql)
        gold_results = self._gold_results(db, example)
        gold_ms = sum(r[2] for r in gold_results)
        usable = [r[0] for r in gold_results if r[0] is not None]
        if not usable:
            return Outcome(
                **base,
                abstained=False,
                status="skipped",
                correct=None,
                error=f"gold failed: {gold_results[0][1]}",
                gold_ms=gold_ms,
                pred_ms=pred_ms,
            )
        if pred_rows is None:
            return Outcome(
                **base,
                abstained=False,
                status="error",
                correct=False,
                error=pred_error,
                gold_ms=gold_ms,
                pred_ms=pred_ms,
            )
        correct = any(self._same(example, gold, pred_rows) for gold in usable)
        base["result_key"] = rows_key(pred_rows)
        return Outcome(
            **base,
            abstained=False,
            status="correct" if correct else "wrong",
            correct=correct,
            gold_ms=gold_ms,
            pred_ms=pred_ms,
        )

    def execute_prediction(
        self, example: Example, sql: str
    ) -> tuple[list[matching.Row] | None, bool]:
        """Rows of a prediction (``None`` if refused or failed) and whether they match the gold."""
        db = self.database(example.db_id)
        if db is None or example.gold is None:
            return None, False
        checked = guard(sql, self.dataset.dialect)
        if not isinstance(checked, GuardedStatement):
            return None, False
        rows, _, _ = self._run(db, checked.executable_sql)
        if rows is None:
            return None, False
        golds = self._gold_results(db, example)
        if all(g[0] is None for g in golds) and (golds[0][1] or "").startswith(_SETUP_ERRORS):
            # No gold can run on this database at all: every verdict would read "wrong".
            raise ConnectionFailed(f"The gold queries of {example.db_id} cannot run: {golds[0][1]}")
        return rows, any(g[0] is not None and self._same(example, g[0], rows) for g in golds)

    def gold_empty(self, example: Example) -> bool | None:
        """Whether every gold query of ``example`` that runs matches nothing: no rows, only
        NULLs, or only zeros (a count or sum over no rows). Any query whose filter matches
        nothing then agrees with it (flight_2's codes carry a leading space, so a count of the
        flights from 'APG' is 0 for the gold and for any wrong filter alike), so such a question
        is reported apart (``None``: unanswerable, no database, or no gold ran)."""
        db = self.database(example.db_id) if example.gold is not None else None
        if db is None:
            return None
        usable = [rows for rows, _, _ in self._gold_results(db, example) if rows is not None]
        if not usable:
            return None
        return all(db_result.holds_nothing(rows) for rows in usable)

    def _gold_results(
        self, db: Database, example: Example
    ) -> list[tuple[list[matching.Row] | None, str | None, float]]:
        """Rows (or the error) and time of every gold alternative of ``example``, cached."""
        return [self.gold_rows(db, example.db_id, g) for g in self._gold_alternatives(example)]

    def _gold_alternatives(self, example: Example) -> list[str]:
        assert example.gold is not None
        if self.dataset.name == "sqleval":
            return [alt for g in example.gold for alt in matching.sqleval_alternatives(g)]
        return list(example.gold)

    def _same(self, example: Example, gold: list[matching.Row], pred: list[matching.Row]) -> bool:
        name = self.dataset.name
        if name == "bird":
            return matching.bird_match(gold, pred)
        if name == "sqleval":
            ordered = matching.sqleval_order_matters(example.category, example.question)
            return matching.sqleval_match(gold, pred, ordered)
        assert example.gold is not None
        return matching.spider_match(gold, pred, matching.spider_order_matters(example.gold[0]))


def rows_key(rows: list[matching.Row]) -> str:
    return db_result.rows_key(rows)
