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
import os
import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import honestsql
from honestsql import calibration
from honestsql.benchmarks import append_record, ask_examples, multilingual, read_run, start_run
from honestsql.db import Database
from honestsql.errors import InvalidInput
from honestsql.evaluation import datasets
from honestsql.evaluation.datasets import Dataset
from honestsql.evaluation.records import RUN_VERSION, Item, answer_one, rejudge, run_header
from honestsql.evaluation.scorer import Scorer
from honestsql.llm import Backend
from honestsql.pipeline import Settings
from honestsql.service import Service

SUITES = ("sqleval-sqlite", "spider", "sqleval-postgres")
#: Suites run only when named with --suite (``multilingual``: honestsql's own questions in six
#: languages, ``honestsql.benchmarks.multilingual``).
EXTRA_SUITES = ("multilingual",)
#: Suites taken in turn first; later tiers only once the earlier ones are done.
TIERS = (("sqleval-sqlite", "spider"), ("sqleval-postgres",), EXTRA_SUITES)
BLOCK = 8


def load_suites(data: str | Path | None, suites: Sequence[str]) -> dict[str, Dataset]:
    known = (*SUITES, *EXTRA_SUITES)
    unknown = [s for s in suites if s not in known]
    if unknown:
        raise InvalidInput(f"Unknown suite {unknown[0]!r}: choose from {', '.join(known)}.")
    loaded = {}
    for suite in suites:
        if suite == multilingual.NAME:
            loaded[suite] = multilingual.load(_optional_root(data))
        elif suite == "spider":
            loaded[suite] = datasets.load("spider", data)
        else:
            loaded[suite] = datasets.load("sqleval", data, dialect=suite.split("-", 1)[1])
    return loaded


def _optional_root(data: str | Path | None) -> Path | None:
    """The data folder when one is given (--data or $HONESTSQL_DATA); ``None`` otherwise: the
    multilingual suite's demo-shop questions need none."""
    if data is None and not os.environ.get("HONESTSQL_DATA"):
        return None
    return datasets.data_root(data)


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


def is_run(path: Path) -> bool:
    """Whether ``path`` starts with a ``bench ask`` header."""
    try:
        with path.open(encoding="utf-8") as f:
            header = json.loads(f.readline())
    except (OSError, ValueError):
        return False
    return isinstance(header, dict) and header.get("kind") == "header" and "grammar" in header


def load_run(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and the records of a ``bench ask`` run file."""
    return read_run(
        path, kind="header", version=RUN_VERSION, key=lambda r: r.get("id"), name="bench ask"
    )


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
    examples: bool = False,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> list[dict[str, Any]]:
    """Answer the planned questions not yet in ``run_path``, appending one line per question;
    with ``examples``, each shown the verified pairs of its database held out
    (``honestsql.benchmarks.ask_examples``)."""
    everything, _ = plan(suites)
    items = everything[:limit] if limit else everything
    header = run_header(backend, settings, target)
    if calibration.merges_in_order(calibration.for_backend(backend, settings)):
        header["agreement"] = calibration.MERGE_IN_ORDER  # a refit on this run counts so too
    if examples:
        header["examples"] = ask_examples.HELD_OUT
    done: dict[str, dict[str, Any]] = {}
    if run_path.is_file() and not fresh:
        previous, records = load_run(run_path)
        if previous != header:
            raise InvalidInput(
                f"{run_path} holds a run of another model or other settings "
                f"({json.dumps(previous)}); pass --fresh to replace it or --run to write elsewhere."
            )
        done = {r["id"]: r for r in records}
    start_run(run_path, header, resumed=bool(done))
    scorers = {
        suite: Scorer(dataset, allow_privileged=allow_privileged)
        for suite, dataset in suites.items()
    }
    memory = ask_examples.HeldOutMemory(everything) if examples else None
    service = Service({}, backend=backend, settings=settings, memory=memory)
    opened: tuple[tuple[str, str], Database] | None = None
    finished = sum(1 for item in items if item.id in done)
    progress(finished, len(items))
    try:
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
            if memory is not None:
                memory.answering(item, opened[1])
            record = answer_one(item, service, opened[1], target, scorers[item.suite])
            if memory is not None:
                record["examples"] = memory.shown
            done[item.id] = record
            append_record(run_path, record)
            finished += 1
            progress(finished, len(items))
    finally:
        if opened is not None:
            opened[1].close()
        for scorer in scorers.values():
            scorer.close()
        if memory is not None:
            memory.close()
    return [done[item.id] for item in items if item.id in done]


def run_size(run_path: Path) -> int:
    """How many records a run file holds."""
    return len(load_run(run_path)[1])


@contextmanager
def databases(
    suites: dict[str, Dataset], allow_privileged: bool | None = None
) -> Iterator[Callable[[dict[str, Any]], Database | None]]:
    """The database of a run record's question (``None`` where it cannot be opened here), each
    opened once; every one closed on leaving."""
    with _scorers(suites, allow_privileged) as (examples, scorers):

        def database(record: dict[str, Any]) -> Database | None:
            item = examples.get(record["id"])
            return None if item is None else scorers[item.suite].database(item.example.db_id)

        yield database


@contextmanager
def _scorers(
    suites: dict[str, Dataset], allow_privileged: bool | None
) -> Iterator[tuple[dict[str, Item], dict[str, Scorer]]]:
    """The planned questions by id, and a scorer per suite (opening its databases as asked),
    every one closed on leaving."""
    examples = {item.id: item for item in plan(suites)[0]}
    scorers = {s: Scorer(d, allow_privileged=allow_privileged) for s, d in suites.items()}
    try:
        yield examples, scorers
    finally:
        for scorer in scorers.values():
            scorer.close()


def rejudge_run(
    suites: dict[str, Dataset],
    run_path: Path,
    *,
    allow_privileged: bool | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> dict[str, int]:
    """Judge every candidate of ``run_path`` again against the gold of ``suites`` (no model is
    run), and rewrite the file in place; for a run scored with a broken gold database."""
    header, records = load_run(run_path)
    judged = changed = 0
    with _scorers(suites, allow_privileged) as (examples, scorers):
        for index, record in enumerate(records):
            item = examples.get(record["id"])
            if item is not None:
                changed += rejudge(record, scorers[item.suite], item.example)
                judged += 1
            progress(index + 1, len(records))
    partial = run_path.with_name(run_path.name + ".partial")
    with partial.open("w", encoding="utf-8") as out:
        for line in [header, *records]:
            out.write(json.dumps(line, default=str) + "\n")
    os.replace(partial, run_path)
    return {"records": len(records), "judged": judged, "verdicts_changed": changed}
