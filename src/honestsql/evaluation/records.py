"""One question of a benchmark through the service, kept whole: every candidate with its SQL,
status, repairs and verdict against the gold, the decision, the confidence and the signals it came
from, timings and tokens. ``bench ask`` and ``eval run --keep`` write these records; the figures
(``honestsql.benchmarks.ask_figures``) and the calibrators are computed from them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from honestsql.candidates import Candidate, leading
from honestsql.check import check
from honestsql.clues import clues
from honestsql.db import Database
from honestsql.db.result import holds_nothing
from honestsql.decide import schema_signals
from honestsql.errors import HonestSQLError
from honestsql.evaluation.datasets import Example
from honestsql.evaluation.scorer import Scorer
from honestsql.llm import Backend, Likelihood
from honestsql.pipeline import Settings
from honestsql.service import Service

RUN_VERSION = 1


#: Abstentions made by a rule, not by the confidence (kept whatever the calibrator says).
RULE_REASONS = {
    "write_request",
    "not_about_this_database",
    "unanswerable_with_schema",
    "ambiguous",
    "all_candidates_failed",
}


@dataclass(frozen=True)
class Item:
    suite: str
    example: Example

    @property
    def id(self) -> str:
        return f"{self.suite}:{self.example.id}"


def run_header(backend: Backend, settings: Settings, target: float) -> dict[str, Any]:
    return {
        "kind": "header",
        "version": RUN_VERSION,
        "model": backend.model_name or backend.describe(),
        **({"decoder": backend.decoder} if backend.decoder else {}),
        "candidates": settings.candidates,
        "max_repairs": settings.max_repairs,
        "temperature": settings.temperature,
        "grammar": settings.grammar,
        "target": target,
        # Only when on, so that the runs made before it existed still resume.
        **({"early_stop": settings.early_stop} if settings.early_stop else {}),
        **({"dialect_notes": True} if settings.dialect_notes else {}),
        **({"inline_samples": True} if settings.inline_samples else {}),
    }


def judge_sql(scorer: Scorer | None, example: Any, sql: str | None) -> bool | None:
    """Whether ``sql`` answers ``example`` right (``None``: nothing to judge or no scorer)."""
    if sql is None or scorer is None:
        return None
    if not example.answerable:
        return False
    return scorer.execute_prediction(example, sql)[1]


def _verdicts(scorer: Scorer | None, example: Any, candidate: Mapping[str, Any]) -> dict[str, Any]:
    """A candidate's verdicts: its final SQL (wrong when it did not run) and as first written."""
    ran = candidate["status"] == "ok"
    return {
        "correct": judge_sql(scorer, example, candidate["sql"])
        if ran
        else (False if scorer else None),
        "first_correct": judge_sql(scorer, example, candidate.get("first_sql", candidate["sql"])),
    }


def _chosen_correct(chosen: int | None, candidates: list[dict[str, Any]]) -> bool:
    return bool(chosen is not None and candidates and candidates[chosen]["correct"])


def rejudge(record: dict[str, Any], scorer: Scorer, example: Any) -> int:
    """Judge a run record's candidates (and its bare query) again against the gold, in place,
    without the model; returns how many verdicts changed."""
    changed = 0

    def update(entry: dict[str, Any], key: str, value: bool | None) -> None:
        nonlocal changed
        changed += entry.get(key) != value
        entry[key] = value

    for candidate in record["candidates"]:
        for key, value in _verdicts(scorer, example, candidate).items():
            update(candidate, key, value)
    record["chosen_correct"] = _chosen_correct(record.get("chosen"), record["candidates"])
    record["gold_empty"] = scorer.gold_empty(example)
    if "bare" in record:
        update(record["bare"], "first_correct", judge_sql(scorer, example, record["bare"]["sql"]))
    if record.get("signals"):
        found = reclue(record, scorer.database(example.db_id), example.question)
        record["signals"].update({k: round(v, 4) for k, v in found.items()})  # as answers round
    return changed


#: A query's rows, or ``None`` where it failed.
Rows = list[tuple[Any, ...]] | None


class Runner:
    """One database's queries run once each (the rows, or ``None`` where the query fails), under
    the pipeline's default timeout and row cap: run records read again without the model."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.settings = Settings()
        self.ran: dict[str, Rows] = {}

    def rows(self, sql: str) -> Rows:
        if sql not in self.ran:
            try:
                result = self.db.execute(
                    sql, timeout=self.settings.timeout, max_rows=self.settings.max_rows
                )
                self.ran[sql] = result.rows
            except HonestSQLError:
                self.ran[sql] = None
        return self.ran[sql]


def reclue(record: Mapping[str, Any], db: Database | None, question: str) -> dict[str, float]:
    """The clues (``honestsql.clues``) of a run record, computed as the pipeline computes them
    now: from its candidates' SQL, each query that ran run again on ``db``; whether the chosen
    result holds nothing (``empty``: no rows, only NULLs or zeros); and whether the chosen query
    draws a warning of the verifier now (``type_mismatch``: a literal of another type,
    arithmetic on an identifier); the size of ``db``'s schema (``schema_columns``) and whether
    the chosen query leaves out a column the question names (``named_unread``)."""
    candidates = record["candidates"]
    sqls = [c["sql"] if c["status"] == "ok" else None for c in candidates]
    run = Runner(db) if db is not None else None
    results = [run.rows(sql) if run is not None and sql is not None else None for sql in sqls]
    dialect = db.sql_dialect if db is not None else None
    chosen = record.get("chosen")
    if chosen is None:  # a rule abstained; live, the clues were read on the leading query
        chosen = leading_index(candidates)
    found = clues(question, sqls, chosen, results, dialect)
    rows = results[chosen] if chosen is not None else None
    if rows is not None:
        found["empty"] = 1.0 if holds_nothing(rows) else 0.0
    shown = sqls[chosen] if chosen is not None else None
    if db is not None and shown is not None:
        warned = check(db, shown, execute=False).warnings
        found["type_mismatch"] = 1.0 if warned else 0.0
    if db is not None:
        found |= schema_signals(db.catalog(), question, shown, dialect)
    return found


def as_candidates(candidates: list[dict[str, Any]]) -> list[Candidate]:
    """A record's candidates as ``decide`` weighs them (SQL, status, result key, repairs and the
    model's likelihood; no rows)."""
    return [
        Candidate(
            text="",
            sql=c["sql"],
            status=c["status"],
            result_hash=c.get("result_hash"),
            repairs=c.get("repairs", 0),
            likelihood=Likelihood(c["logprob"], c["logprob_min"]) if "logprob" in c else None,
        )
        for c in candidates
    ]


def leading_index(candidates: list[dict[str, Any]]) -> int | None:
    """The index of the query ``decide`` weighs among a record's candidates."""
    rebuilt = as_candidates(candidates)
    lead = leading(rebuilt)
    return next((i for i, c in enumerate(rebuilt) if c is lead), None)


def answer_one(
    item: Item,
    service: Service,
    db: Database,
    target: float,
    scorer: Scorer | None,
) -> dict[str, Any]:
    """One question through the pipeline, every candidate judged against the gold by
    ``scorer`` (without one, nothing is judged and no extra call is made for the bare model)."""
    example = item.example
    started = time.perf_counter()
    answer = service.ask(
        example.question, db=db, target=target, evidence=example.evidence, audited=False
    )
    seconds = time.perf_counter() - started

    candidates: list[dict[str, Any]] = []
    for candidate in answer.candidates:
        first = candidate.get("first_sql", candidate["sql"])
        candidates.append(
            {
                "sql": candidate["sql"],
                **({"first_sql": first} if first != candidate["sql"] else {}),
                "status": candidate["status"],
                "result_hash": candidate["result_hash"],
                "repairs": candidate["repairs"],
                "errors": [e.get("message") for e in candidate.get("errors", [])],
                **{k: candidate[k] for k in ("abstain_reason", "ungrounded") if k in candidate},
                **_verdicts(scorer, example, candidate),
            }
        )
    if not candidates and scorer is not None:
        # The question never reached the model; a plain tool would still have asked it once.
        greedy = service.ask(
            example.question,
            db=db,
            target=target,
            evidence=example.evidence,
            audited=False,
            candidates=1,
            max_repairs=0,
            relevance_gate=False,
        )
        sql = greedy.candidates[0]["sql"] if greedy.candidates else None
        bare = {"sql": sql, "first_correct": judge_sql(scorer, example, sql)}
    chosen = answer.chosen
    reason = answer.reasons[0]["code"] if answer.reasons else None
    return {
        "id": item.id,
        "suite": item.suite,
        "db_id": example.db_id,
        "answerable": example.answerable,
        **({"gold_empty": scorer.gold_empty(example)} if scorer is not None else {}),
        "category": example.category,
        "decision": answer.decision,
        "confidence": answer.confidence,
        "reason": reason,
        "rule": reason if reason in RULE_REASONS else None,
        "signals": answer.signals,
        "chosen": chosen,
        "chosen_correct": _chosen_correct(chosen, candidates),
        "candidates": candidates,
        **({"bare": bare} if not candidates and scorer is not None else {}),
        "seconds": round(seconds, 3),
        "timings_ms": answer.timings_ms,
        "usage": answer.usage,
        **({"reading": answer.reading} if answer.reading else {}),
    }
