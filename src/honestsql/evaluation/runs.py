"""Scoring a prediction file against a benchmark, resumably, in parallel."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from honestsql.errors import InvalidInput
from honestsql.evaluation import matching
from honestsql.evaluation.datasets import Dataset, Example
from honestsql.evaluation.metrics import summarize
from honestsql.evaluation.predictions import (
    Prediction,
    _sha,
    read_confidences,
    read_predictions,
)
from honestsql.evaluation.scorer import Match, Outcome, Scorer

RUN_VERSION = 1


# --- reading predictions -----------------------------------------------------------------------


# --- judging -----------------------------------------------------------------------------------


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
