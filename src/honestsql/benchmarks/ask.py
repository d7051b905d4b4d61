"""``honestsql bench ask``: honestsql with a real model over every question that can run here.

Suites: sql-eval on SQLite and on PostgreSQL (the answerable questions and ``idk.csv``), and
Spider dev on the two databases that ship (``flight_2``, ``singer``). Questions are taken in
blocks of a few per database, databases in turn, so a run stopped early still covers every
database, and consecutive questions share the schema part of the prompt (the model's cache keeps
it). Every question is one JSON line in the run file: every candidate with its SQL (as first
written and after repairs), status, result key and verdict against the gold, the decision, the
confidence and the signals it came from, timings and tokens. A run resumes where it stopped.

The figures (``summarize``) come from the run file alone: the bare model (its greedy candidate,
executed as a plain text-to-SQL tool would), the oracle (some candidate right), and honestsql with
a confidence calibrated leave-one-database-out on the run itself.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import honestsql
from honestsql.db import Database
from honestsql.errors import InvalidInput
from honestsql.evaluation import datasets
from honestsql.evaluation.datasets import Dataset, Example
from honestsql.evaluation.scorer import Scorer
from honestsql.llm import Backend
from honestsql.pipeline import Settings
from honestsql.service import Service

SUITES = ("sqleval-sqlite", "spider", "sqleval-postgres")
#: Suites taken in turn first; later tiers only once the earlier ones are done.
TIERS = (("sqleval-sqlite", "spider"), ("sqleval-postgres",))
BLOCK = 8
RUN_VERSION = 1
#: Abstentions made by a rule, not by the confidence (kept whatever the calibrator says).
RULE_REASONS = {
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


def load_suites(data: str | Path | None, suites: Sequence[str]) -> dict[str, Dataset]:
    unknown = [s for s in suites if s not in SUITES]
    if unknown:
        raise InvalidInput(f"Unknown suite {unknown[0]!r}: choose from {', '.join(SUITES)}.")
    loaded = {}
    for suite in suites:
        if suite == "spider":
            loaded[suite] = datasets.load("spider", data)
        else:
            loaded[suite] = datasets.load("sqleval", data, dialect=suite.split("-", 1)[1])
    return loaded


def plan(suites: dict[str, Dataset]) -> tuple[list[Item], list[str]]:
    """The questions in run order, and the databases skipped as not available here."""
    groups: dict[tuple[str, str], list[Item]] = {}
    missing: set[str] = set()
    for suite, dataset in suites.items():
        for example in dataset.examples:
            if dataset.locate(example.db_id) is None:
                missing.add(f"{suite}:{example.db_id}")
                continue
            groups.setdefault((suite, example.db_id), []).append(Item(suite, example))
    for key, items in groups.items():
        random.Random(":".join(key)).shuffle(items)  # answerable and idk questions mixed
    order: list[Item] = []
    for tier in TIERS:
        queues = [items for (suite, _), items in sorted(groups.items()) if suite in tier]
        while any(queues):
            for queue in queues:
                order.extend(queue[:BLOCK])
                del queue[:BLOCK]
    return order, sorted(missing)


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
    }


def is_run(path: Path) -> bool:
    """Whether ``path`` starts with a ``bench ask`` header."""
    try:
        with path.open(encoding="utf-8") as f:
            header = json.loads(f.readline())
    except (OSError, ValueError):
        return False
    return isinstance(header, dict) and header.get("kind") == "header" and "grammar" in header


def load_run(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and the records of a ``bench ask`` run file (a cut-off last line is ignored)."""
    if not path.is_file():
        raise InvalidInput(f"The run file {str(path)!r} does not exist.")
    header: dict[str, Any] | None = None
    records: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("kind") == "header":
            header = record
        elif header is not None and "id" in record:
            records[record["id"]] = record
    if header is None or header.get("version") != RUN_VERSION:
        raise InvalidInput(f"{path} is not a `honestsql bench ask` run file.")
    return header, list(records.values())


def run(
    suites: dict[str, Dataset],
    backend: Backend,
    *,
    run_path: Path,
    settings: Settings,
    target: float = 0.75,
    limit: int | None = None,
    fresh: bool = False,
    allow_privileged: bool | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> list[dict[str, Any]]:
    """Answer the planned questions not yet in ``run_path``, appending one line per question."""
    items, _ = plan(suites)
    items = items[:limit] if limit else items
    header = run_header(backend, settings, target)
    done: dict[str, dict[str, Any]] = {}
    if run_path.is_file() and not fresh:
        previous, records = load_run(run_path)
        if previous != header:
            raise InvalidInput(
                f"{run_path} holds a run of another model or other settings "
                f"({json.dumps(previous)}); pass --fresh to replace it or --run to write elsewhere."
            )
        done = {r["id"]: r for r in records}
    run_path.parent.mkdir(parents=True, exist_ok=True)
    if not done:
        run_path.write_text(json.dumps(header) + "\n", encoding="utf-8")
    elif not run_path.read_bytes().endswith(b"\n"):
        with run_path.open("a", encoding="utf-8") as out:
            out.write("\n")
    scorers = {suite: Scorer(dataset) for suite, dataset in suites.items()}
    service = Service({}, backend=backend, settings=settings)
    opened: tuple[tuple[str, str], Database] | None = None
    finished = sum(1 for item in items if item.id in done)
    progress(finished, len(items))
    try:
        with run_path.open("a", encoding="utf-8") as out:
            for item in items:
                if item.id in done:
                    continue
                key = (item.suite, item.example.db_id)
                if opened is None or opened[0] != key:
                    if opened is not None:
                        opened[1].close()
                    url = suites[item.suite].locate(item.example.db_id)
                    assert url is not None
                    opened = (key, honestsql.connect(url, allow_privileged=allow_privileged))
                record = answer_one(item, service, opened[1], target, scorers[item.suite])
                done[item.id] = record
                out.write(json.dumps(record, default=str) + "\n")
                out.flush()
                finished += 1
                progress(finished, len(items))
    finally:
        if opened is not None:
            opened[1].close()
        for scorer in scorers.values():
            scorer.close()
    return [done[item.id] for item in items if item.id in done]


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

    def verdict(sql: str | None) -> bool | None:
        if sql is None or scorer is None:
            return None
        if not example.answerable:
            return False
        return scorer.execute_prediction(example, sql)[1]

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
                "correct": verdict(candidate["sql"])
                if candidate["status"] == "ok"
                else (False if scorer else None),
                "first_correct": verdict(first) if first is not None else None,
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
        bare = {"sql": sql, "first_correct": verdict(sql) if sql is not None else None}
    chosen = answer.chosen
    reason = answer.reasons[0]["code"] if answer.reasons else None
    return {
        "id": item.id,
        "suite": item.suite,
        "db_id": example.db_id,
        "answerable": example.answerable,
        "category": example.category,
        "decision": answer.decision,
        "confidence": answer.confidence,
        "reason": reason,
        "rule": reason if reason in RULE_REASONS else None,
        "signals": answer.signals,
        "chosen": chosen,
        "chosen_correct": bool(chosen is not None and candidates[chosen]["correct"]),
        "candidates": candidates,
        **({"bare": bare} if not candidates and scorer is not None else {}),
        "seconds": round(seconds, 3),
        "timings_ms": answer.timings_ms,
        "usage": answer.usage,
    }
