"""``honestsql bench what-if``: a change to how honestsql decides, measured on a committed
``bench ask`` run without the model.

A change rewrites each record as the pipeline would have written it with the change (running the
candidates' queries again on the benchmark's databases where it needs their rows), and the run's
figures are computed on the records as they are and as changed, both nested
leave-one-database-out (``ask_figures.summarize``). Issue 28 decided its changes this way: the
rule is written first, then measured on complete runs (docs/BENCHMARKS.md). The changes:

- ``old-empty``: the ``empty`` signal as before 2026-12-04 (no rows or only NULLs: a count of 0 is
  a value), to test the rule that replaced it on a run it was not fitted on;
- ``merge-in-order``: a result counts with a wider one that holds each of its columns row for row
  in the same order (three candidates list names, two the names with their revenue: five agree),
  the wider query shown;
- ``merge-repeats``: as ``merge-in-order``, and a result in which a row repeats counts with one
  that holds the same rows once each (rule 14), a query giving them once shown;
- ``no-identifier-warning``: arithmetic on an identifier no longer sets ``type_mismatch``;
- ``fan-out-warning``: an aggregate over a join whose condition matches neither side's column to
  a unique one (each side's column holds a value twice, read from the data) sets ``type_mismatch``;
- ``bare-column-warning``: a SELECT with an aggregate, no GROUP BY and a column outside every
  aggregate (SQLite returns one arbitrary row of it; PostgreSQL refuses it) sets
  ``type_mismatch``;
- ``leaf-join-warning``: a SELECT that joins a table it reads nowhere but in the one condition
  that joins it (kept or repeated rows only) sets ``type_mismatch``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from honestsql.benchmarks import append_record, ask, start_run
from honestsql.benchmarks.ask_figures import empty_gold, summarize
from honestsql.calibration import MERGE_IN_ORDER
from honestsql.candidates import agreement, leading
from honestsql.check import check
from honestsql.clues import leaf_join
from honestsql.db import Database
from honestsql.errors import InvalidInput
from honestsql.evaluation.datasets import Dataset
from honestsql.evaluation.records import Runner, as_candidates
from honestsql.merging import merge_wider

CHANGES = {
    "old-empty": "empty read as before 2026-12-04: no rows or only NULLs",
    "merge-in-order": "a result counts with a wider one that holds it row for row, in order",
    "merge-repeats": "merge-in-order, and a result whose rows repeat counts with them once each",
    "no-identifier-warning": "arithmetic on an identifier no longer sets type_mismatch",
    "fan-out-warning": "an aggregate over a join matching no unique column sets type_mismatch",
    "bare-column-warning": "a column beside an aggregate with no GROUP BY sets type_mismatch",
    "leaf-join-warning": "a table read only in the condition that joins it sets type_mismatch",
}

#: The figures shown side by side (``s_0.75`` is S(0.75) over all questions).
FIGURES = (
    "precision",
    "answered_right",
    "s_0.75",
    "auroc_answerable",
    "ece_answerable",
    "auroc",
    "ece",
    "idk_refused",
)


def _chosen_sql(record: dict[str, Any]) -> str | None:
    chosen = record.get("chosen")
    if chosen is None or not record.get("signals"):
        return None
    candidate = record["candidates"][chosen]
    return candidate["sql"] if candidate["status"] == "ok" else None


def old_empty(record: dict[str, Any], run: Runner) -> bool:
    sql = _chosen_sql(record)
    rows = run.rows(sql) if sql else None
    if rows is None:
        return False
    was = 1.0 if all(v is None for row in rows for v in row) else 0.0  # no rows: all() is True
    if record["signals"].get("empty") == was:
        return False
    record["signals"]["empty"] = was
    return True


def no_identifier_warning(record: dict[str, Any], run: Runner) -> bool:
    sql = _chosen_sql(record)
    if sql is None:
        return False
    warnings = check(run.db, sql, execute=False).warnings
    rest = [w for w in warnings if w.kind != "identifier_arithmetic"]
    if len(rest) == len(warnings):
        return False
    record["signals"]["type_mismatch"] = 1.0 if rest else 0.0
    return True


def merge_in_order(record: dict[str, Any], run: Runner, *, repeats: bool = False) -> bool:
    """Agreement counted again as ``merging.merge_wider`` counts it (each result inside the best
    supported wider one that holds it, the candidates' queries run again for their rows; with
    ``repeats``, a result whose rows repeat inside one that holds them once each);
    ``top_share``, ``margin``, ``distinct_share``, ``greedy_agrees`` and the chosen query follow,
    ranked and chosen by ``decide``'s own rules (ties by the model's likelihood)."""
    if record.get("rule") is not None or not record.get("signals"):
        return False
    merged = as_candidates(record["candidates"])
    if not merge_wider(merged, lambda c: run.rows(c.sql) if c.sql else None, repeats=repeats):
        return False
    _, ranked, members = agreement(merged)
    shown = leading(merged)
    chosen = next(i for i, c in enumerate(merged) if c is shown)
    n = len(merged)
    top = ranked[0][1] / n
    second = ranked[1][1] / n if len(ranked) > 1 else 0.0
    record["signals"].update(
        top_share=top,
        margin=top - second,
        distinct_share=len(ranked) / n,
        greedy_agrees=1.0 if merged and any(m is merged[0] for m in members) else 0.0,
    )
    record["chosen"] = chosen
    record["chosen_correct"] = bool(record["candidates"][chosen]["correct"])
    return True


def fans_out(
    db: Database, sql: str, unique: Callable[[exp.Table, exp.Identifier], bool | None]
) -> bool:
    """Whether a SELECT of ``sql`` counts, sums or averages over a join of two columns neither
    of which is unique in its table (every row of one side meets several of the other)."""
    try:
        tree = sqlglot.parse_one(sql, read=db.sql_dialect)
    except ParseError:
        return False
    for select in tree.find_all(exp.Select):
        totals = [
            node
            for e in select.expressions
            for node in e.find_all(exp.Count, exp.Sum, exp.Avg)
            if not (isinstance(node, exp.Count) and isinstance(node.this, exp.Distinct))
        ]
        if not totals:
            continue
        tables = {t.alias_or_name.lower(): t for t in select.find_all(exp.Table)}
        for join in select.args.get("joins") or []:
            on = join.args.get("on")
            for eq in on.find_all(exp.EQ) if on is not None else []:
                sides = [eq.this, eq.expression]
                if not all(isinstance(s, exp.Column) and s.table.lower() in tables for s in sides):
                    continue
                if all(unique(tables[s.table.lower()], s.this) is False for s in sides):
                    return True
    return False


def fan_out_warning(record: dict[str, Any], run: Runner) -> bool:
    sql = _chosen_sql(record)
    if sql is None:
        return False

    def unique(table: exp.Table, column: exp.Identifier) -> bool | None:
        source = table.copy()
        source.set("alias", None)
        name = exp.Column(this=column.copy())
        probe = exp.select(
            exp.Count(this=name), exp.Count(this=exp.Distinct(expressions=[name.copy()]))
        ).from_(source)
        rows = run.rows(probe.sql(dialect=run.db.sql_dialect))
        return None if not rows else rows[0][0] == rows[0][1]

    if not fans_out(run.db, sql, unique):
        return False
    record["signals"]["type_mismatch"] = 1.0
    return True


def bare_column(sql: str, dialect: str) -> bool:
    """Whether a SELECT of ``sql`` aggregates (outside any window) with no GROUP BY and also
    selects a column outside every aggregate."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except ParseError:
        return False
    for select in tree.find_all(exp.Select):
        if select.args.get("group"):
            continue
        nodes = [node for e in select.expressions for node in e.walk()]
        aggregates = [
            n
            for n in nodes
            if isinstance(n, exp.AggFunc) and n.find_ancestor(exp.Window, exp.Select) is select
        ]
        columns = [
            n
            for n in nodes
            if isinstance(n, exp.Column)
            and n.find_ancestor(exp.AggFunc, exp.Window, exp.Select) is select
        ]
        if aggregates and columns:
            return True
    return False


def _warning(test: Callable[[str, str], bool]) -> Callable[[dict[str, Any], Runner], bool]:
    """A change that sets ``type_mismatch`` (the verifier's warnings) where ``test(sql,
    dialect)`` holds of the chosen query and no warning was set."""

    def change(record: dict[str, Any], run: Runner) -> bool:
        sql = _chosen_sql(record)
        if (
            sql is None
            or record["signals"].get("type_mismatch")
            or not test(sql, run.db.sql_dialect)
        ):
            return False
        record["signals"]["type_mismatch"] = 1.0
        return True

    return change


bare_column_warning = _warning(bare_column)
leaf_join_warning = _warning(leaf_join)


APPLY: dict[str, Callable[[dict[str, Any], Runner], bool]] = {
    "old-empty": old_empty,
    "merge-in-order": merge_in_order,
    "merge-repeats": lambda record, run: merge_in_order(record, run, repeats=True),
    "no-identifier-warning": no_identifier_warning,
    "fan-out-warning": fan_out_warning,
    "bare-column-warning": bare_column_warning,
    "leaf-join-warning": leaf_join_warning,
}


def what_if(
    records: Sequence[dict[str, Any]],
    change: str,
    runner: Callable[[dict[str, Any]], Runner | None],
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The records as ``change`` makes them (copies), and those it touched."""
    if change not in APPLY:
        raise InvalidInput(f"Unknown change {change!r}; one of: {', '.join(APPLY)}.")
    changed, touched = [], []
    for index, record in enumerate(records):
        new = copy.deepcopy(record)
        run = runner(record)
        if run is not None and APPLY[change](new, run):
            touched.append(new)
        changed.append(new)
        progress(index + 1, len(records))
    return changed, touched


def compare(
    records: Sequence[dict[str, Any]],
    changed: Sequence[dict[str, Any]],
    touched: Sequence[dict[str, Any]],
    *,
    change: str,
    model: str,
    target: float = 0.75,
) -> dict[str, Any]:
    """The figures as run and as changed, and the touched questions (those set apart for an
    empty gold result left out, as in the figures)."""
    before = {r["id"]: r for r in records}
    counted = [r for r in touched if not empty_gold(r)]

    def right(record: dict[str, Any]) -> bool:
        return bool(record["answerable"] and record["chosen_correct"])

    def shown(figures: dict[str, Any]) -> dict[str, Any]:
        return {k: figures["s_all"]["0.75"] if k == "s_0.75" else figures[k] for k in FIGURES}

    return {
        "model": model,
        "change": change,
        "description": CHANGES[change],
        "questions": len(records),
        "touched": len(counted),
        "touched_right_before": sum(right(before[r["id"]]) for r in counted),
        "touched_right_after": sum(right(r) for r in counted),
        "touched_ids": [r["id"] for r in counted],
        "as_run": shown(summarize(records, model=model, target=target)),
        "changed": shown(summarize(changed, model=model, target=target)),
    }


def run_what_if(
    suites: dict[str, Dataset],
    run_path: Path,
    change: str,
    *,
    target: float = 0.75,
    allow_privileged: bool | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
    write: Path | None = None,
) -> dict[str, Any]:
    """``change`` measured on the run file ``run_path`` (read, never written); with ``write``,
    the records as changed are written there as a run file of their own, its header naming the
    change (and, for ``merge-in-order``, the agreement a calibrator fitted on it counts)."""
    header, records = ask.load_run(run_path)
    runners: dict[Database | None, Runner | None] = {}

    with ask.databases(suites, allow_privileged) as database:

        def runner(record: dict[str, Any]) -> Runner | None:
            db = database(record)
            if db not in runners:
                runners[db] = Runner(db) if db is not None else None
            return runners[db]

        changed, touched = what_if(records, change, runner, progress)
    if write is not None:
        if write.resolve() == run_path.resolve():
            raise InvalidInput("--write names the run itself; write the changed run elsewhere.")
        merged = {"agreement": MERGE_IN_ORDER} if change == "merge-in-order" else {}
        start_run(write, {**header, "what_if": change, **merged}, resumed=False)
        for record in changed:
            append_record(write, record)
    return compare(records, changed, touched, change=change, model=header["model"], target=target)
