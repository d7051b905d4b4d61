"""``eval run``: answer a benchmark's questions with the pipeline, writing files ``eval score`` reads.

One line per question in dataset order: the answer's SQL (on one line), or ``ABSTAIN``; and the
confidence. Questions whose database is missing get ``ABSTAIN`` (``eval score`` skips them).
Lines are written as answers come, and a run that stopped is continued from where it stopped.
With ``keep``, every question's candidates, judged against the gold, are also written there in
the format of ``honestsql bench ask`` (whose ``--report-only`` computes the bare, oracle and
calibrated figures from it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import honestsql
from honestsql.db import Database
from honestsql.evaluation.datasets import Dataset
from honestsql.llm import Backend
from honestsql.pipeline import Settings
from honestsql.service import Service


def _done(path: Path) -> int:
    if not path.is_file():
        return 0
    return path.read_text(encoding="utf-8").count("\n")


def run(
    dataset: Dataset,
    backend: Backend,
    *,
    predictions: Path,
    confidences: Path,
    target: float = 0.75,
    settings: Settings | None = None,
    limit: int | None = None,
    keep: Path | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> dict[str, int]:
    from honestsql.evaluation import records
    from honestsql.evaluation.scorer import Scorer

    settings = settings or Settings()
    examples = dataset.examples[:limit] if limit else dataset.examples
    start = min(_done(predictions), _done(confidences))
    # Keep exactly the complete lines both files agree on.
    for path in (predictions, confidences):
        if path.is_file():
            kept = path.read_text(encoding="utf-8").split("\n")[:start]
            path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    if keep is not None and (start == 0 or not keep.is_file()):
        keep.write_text(
            json.dumps(records.run_header(backend, settings, target)) + "\n", encoding="utf-8"
        )
    scorer = Scorer(dataset) if keep is not None else None
    service = Service({}, backend=backend, settings=settings)
    databases: dict[str, Database | None] = {}
    counts = {"answered": 0, "abstained": 0, "no_database": 0, "resumed": start}
    progress(start, len(examples))
    with (
        predictions.open("a", encoding="utf-8") as pred_out,
        confidences.open("a", encoding="utf-8") as conf_out,
    ):
        for index, example in enumerate(examples[start:], start=start):
            if example.db_id not in databases:
                url = dataset.locate(example.db_id)
                databases[example.db_id] = honestsql.connect(url) if url else None
            db = databases[example.db_id]
            if db is None:
                line, confidence = "ABSTAIN", ""
                counts["no_database"] += 1
            else:
                record = records.answer_one(
                    records.Item(dataset.name, example), service, db, target, scorer
                )
                chosen = record["chosen"]
                sql = record["candidates"][chosen]["sql"] if chosen is not None else None
                answered = record["decision"] == "answer" and sql
                line = " ".join((sql or "").split()) if answered else "ABSTAIN"
                confidence = f"{record['confidence']:.4f}"
                counts["answered" if answered else "abstained"] += 1
                if keep is not None:
                    with keep.open("a", encoding="utf-8") as kept_out:
                        kept_out.write(json.dumps(record, default=str) + "\n")
            pred_out.write(line + "\n")
            conf_out.write(confidence + "\n")
            pred_out.flush()
            conf_out.flush()
            progress(index + 1, len(examples))
    for db in databases.values():
        if db is not None:
            db.close()
    if scorer is not None:
        scorer.close()
    return counts
