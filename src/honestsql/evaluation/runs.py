"""Scoring a prediction file against a benchmark, resumably, in parallel."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import honestsql
from honestsql.db import Database
from honestsql.db import result as db_result
from honestsql.errors import HonestSQLError, InvalidInput
from honestsql.evaluation import matching
from honestsql.evaluation.datasets import Dataset, Example
from honestsql.evaluation.metrics import Judged, summarize
from honestsql.guard import GuardedStatement, guard

Match = Literal["execution", "sql"]
ABSTAIN_TOKENS = {"", "abstain", "null"}
RUN_VERSION = 1


@dataclass(frozen=True)
class Prediction:
    sql: str | None  # None: the system abstained
    db_id: str | None = None


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


# --- reading predictions -----------------------------------------------------------------------


def _sha(path: Path | None) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path else None


def read_predictions(path: Path, dataset: Dataset) -> dict[str, Prediction]:
    """Predictions by example id, from a line file (dataset order) or a JSON object by id.

    An empty line, ``ABSTAIN`` or ``null`` is an abstention; a line may end in TAB + db_id.
    """
    if not path.is_file():
        raise InvalidInput(f"The predictions file {str(path)!r} does not exist.")
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{path} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidInput(f"{path} must be a JSON object mapping question ids to SQL.")
        result = {}
        for key, value in data.items():
            if isinstance(value, list):
                value = value[0] if value else None
            result[str(key)] = _prediction(value if isinstance(value, str) else None)
        return result
    lines = text.split("\n")
    if text.endswith("\n"):
        lines = lines[:-1]  # the newline ends the last line; it does not start another
    if len(lines) != len(dataset.examples):
        raise InvalidInput(
            f"{path} has {len(lines)} lines but {dataset.name} has {len(dataset.examples)} "
            "questions; give one SQL per line in dataset order (an empty line abstains)."
        )
    result = {}
    for example, line in zip(dataset.examples, lines, strict=True):
        sql, _, db_id = line.rstrip("\r").partition("\t")
        result[example.id] = _prediction(sql, db_id.strip() or None)
    return result


def _prediction(sql: str | None, db_id: str | None = None) -> Prediction:
    if sql is None or sql.strip().lower() in ABSTAIN_TOKENS:
        return Prediction(None, db_id)
    return Prediction(sql.strip(), db_id)


def read_confidences(path: Path, dataset: Dataset) -> dict[str, float]:
    """One number in [0, 1] per line in dataset order, or a JSON object by question id."""
    if not path.is_file():
        raise InvalidInput(f"The confidences file {str(path)!r} does not exist.")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        raw = json.loads(text)
        pairs = list(raw.items()) if isinstance(raw, dict) else []
    else:
        lines = [line for line in text.splitlines()]
        if lines and not lines[-1].strip():
            lines = lines[:-1]
        if len(lines) != len(dataset.examples):
            raise InvalidInput(
                f"{path} has {len(lines)} lines but {dataset.name} has {len(dataset.examples)} questions."
            )
        pairs = [(e.id, line) for e, line in zip(dataset.examples, lines, strict=True)]
    result = {}
    for key, value in pairs:
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"{path}: {value!r} is not a number.") from None
        if not 0.0 <= number <= 1.0:
            raise InvalidInput(f"{path}: confidence {number} is outside [0, 1].")
        result[str(key)] = number
    return result


# --- judging -----------------------------------------------------------------------------------


@dataclass
class Scorer:
    dataset: Dataset
    match: Match = "execution"
    timeout: float = 30.0
    max_rows: int = 100_000
    _databases: dict[str, Database | None] = field(default_factory=dict)
    gold_cache: dict[tuple[str, str], tuple[list[matching.Row] | None, str | None, float]] = field(
        default_factory=dict
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def database(self, db_id: str) -> Database | None:
        with self._lock:
            if db_id not in self._databases:
                url = self.dataset.locate(db_id)
                self._databases[db_id] = honestsql.connect(url, samples=False) if url else None
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
        golds = self._gold_alternatives(example)
        gold_results = [self.gold_rows(db, example.db_id, g) for g in golds]
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
        golds = [self.gold_rows(db, example.db_id, g)[0] for g in self._gold_alternatives(example)]
        return rows, any(g is not None and self._same(example, g, rows) for g in golds)

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


# --- a run -------------------------------------------------------------------------------------


@dataclass
class RunResult:
    header: dict[str, Any]
    outcomes: list[Outcome]
    wall_seconds: float = 0.0
    resumed: int = 0
    #: Gold queries (or sql-eval alternatives) that failed to run: (db_id, sql, error).
    gold_failures: list[tuple[str, str, str]] = field(default_factory=list)
    #: Distinct gold queries (sql-eval: alternatives) run in this session of the run.
    gold_queries: int = 0

    def summary(self) -> dict[str, Any]:
        judged = [j for o in self.outcomes if (j := o.judged()) is not None]
        skipped = Counter(o.error or "skipped" for o in self.outcomes if o.status == "skipped")
        return {
            "benchmark": self.header["benchmark"],
            "n": len(self.outcomes),
            **summarize(judged),
            "skipped": sum(skipped.values()),
            "skipped_reasons": dict(skipped.most_common()),
            "errors": sum(1 for o in self.outcomes if o.status == "error"),
            "wall_seconds": round(self.wall_seconds, 3),
            "query_seconds": round(sum(o.pred_ms + o.gold_ms for o in self.outcomes) / 1000, 3),
            "resumed": self.resumed,
            "gold_queries": self.gold_queries,
            "gold_failures": [
                {"db_id": db, "sql": sql, "error": error} for db, sql, error in self.gold_failures
            ],
        }


def load_run(path: Path) -> RunResult:
    if not path.is_file():
        raise InvalidInput(f"The run file {str(path)!r} does not exist.")
    header: dict[str, Any] | None = None
    outcomes: dict[str, Outcome] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if number == 1:
                raise InvalidInput(f"{path} is not a honestsql run file.") from None
            continue  # a line cut short by an interrupted run is redone on resume
        if record.get("kind") == "header":
            header = record
        elif header is not None:
            record.pop("kind", None)
            outcomes[record["id"]] = Outcome(**record)
    if header is None:
        raise InvalidInput(f"{path} is not a honestsql run file (no header line).")
    return RunResult(header, sorted(outcomes.values(), key=lambda o: o.index))


def score(
    dataset: Dataset,
    predictions_path: Path | None,
    *,
    run_path: Path,
    confidences_path: Path | None = None,
    match: Match = "execution",
    workers: int = 1,
    timeout: float = 30.0,
    gold_as_predictions: bool = False,
    fresh: bool = False,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> RunResult:
    """Judge every question, appending each outcome to ``run_path`` as it is known.

    A run file with the same header (benchmark, predictions, confidences, match) is resumed:
    questions already judged there are not run again.
    """
    if gold_as_predictions:
        predictions = {
            e.id: Prediction(_first_alternative(dataset, e) if e.gold else None)
            for e in dataset.examples
        }
    elif predictions_path is not None:
        predictions = read_predictions(predictions_path, dataset)
    else:
        raise InvalidInput("Give --predictions FILE (or --gold-as-predictions).")
    confidences = read_confidences(confidences_path, dataset) if confidences_path else {}
    header = {
        "kind": "header",
        "version": RUN_VERSION,
        "benchmark": dataset.name,
        "dialect": dataset.dialect,
        "questions": len(dataset.examples),
        "match": match,
        "predictions": "gold" if gold_as_predictions else str(predictions_path),
        "predictions_sha": "gold" if gold_as_predictions else _sha(predictions_path),
        "confidences_sha": _sha(confidences_path),
    }
    done: dict[str, Outcome] = {}
    if run_path.is_file() and not fresh:
        previous = load_run(run_path)
        same = {k: v for k, v in previous.header.items() if k != "predictions"} == {
            k: v for k, v in header.items() if k != "predictions"
        }
        if not same:
            raise InvalidInput(
                f"{run_path} holds a run of other predictions or settings; pass --fresh to "
                "replace it or --run to write elsewhere."
            )
        done = {o.id: o for o in previous.outcomes}
    run_path.parent.mkdir(parents=True, exist_ok=True)
    if not done:
        run_path.write_text(json.dumps(header) + "\n", encoding="utf-8")
    elif not run_path.read_bytes().endswith(b"\n"):
        with run_path.open("a", encoding="utf-8") as out:
            out.write("\n")  # an interrupted run left half a line: end it, it is ignored
    todo = [e for e in dataset.examples if e.id not in done]
    scorer = Scorer(dataset, match=match, timeout=timeout)
    lock = threading.Lock()
    finished = len(done)
    total = len(dataset.examples)
    progress(finished, total)
    started = time.perf_counter()
    with run_path.open("a", encoding="utf-8") as out:

        def work(example: Example) -> None:
            nonlocal finished
            outcome = scorer.judge(
                example, predictions.get(example.id), confidences.get(example.id)
            )
            with lock:
                done[example.id] = outcome
                out.write(json.dumps(vars(outcome)) + "\n")
                out.flush()
                finished += 1
                progress(finished, total)

        try:
            if workers <= 1:
                for example in todo:
                    work(example)
            else:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    list(pool.map(work, todo))
        finally:
            scorer.close()
    result = RunResult(header, sorted(done.values(), key=lambda o: o.index))
    result.wall_seconds = time.perf_counter() - started
    result.resumed = total - len(todo)
    result.gold_queries = len(scorer.gold_cache)
    result.gold_failures = sorted(
        (db_id, sql, error) for (db_id, sql), (_, error, _) in scorer.gold_cache.items() if error
    )
    return result


def _first_alternative(dataset: Dataset, example: Example) -> str:
    assert example.gold is not None
    if dataset.name == "sqleval":  # a runnable variant: the {a,b} choices resolved
        return matching.sqleval_alternatives(example.gold[0])[-1]
    return example.gold[0]
