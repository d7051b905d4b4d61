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
- ``no-identifier-warning``: arithmetic on an identifier no longer sets ``type_mismatch``;
- ``fan-out-warning``: an aggregate over a join whose condition matches neither side's column to
  a unique one (each side's column holds a value twice, read from the data) sets ``type_mismatch``;
- ``bare-column-warning``: a SELECT with an aggregate, no GROUP BY and a column outside every
  aggregate (SQLite returns one arbitrary row of it; PostgreSQL refuses it) sets
  ``type_mismatch``.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from honestsql.benchmarks import ask
from honestsql.benchmarks.ask_figures import empty_gold, summarize
from honestsql.check import check
from honestsql.db import Database
from honestsql.decide import agreement, leading
from honestsql.errors import InvalidInput
from honestsql.evaluation.datasets import Dataset
from honestsql.evaluation.records import Rows, Runner, as_candidates

CHANGES = {
    "old-empty": "empty read as before 2026-12-04: no rows or only NULLs",
    "merge-in-order": "a result counts with a wider one that holds it row for row, in order",
    "no-identifier-warning": "arithmetic on an identifier no longer sets type_mismatch",
    "fan-out-warning": "an aggregate over a join matching no unique column sets type_mismatch",
    "bare-column-warning": "a column beside an aggregate with no GROUP BY sets type_mismatch",
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


def holds_in_order(narrow: Rows, wide: Rows) -> bool:
    """Whether each column of ``narrow`` is a different column of the wider ``wide``, value for
    value in the same row order."""
    if not narrow or not wide or len(narrow) != len(wide) or len(wide[0]) <= len(narrow[0]):
        return False
    columns = [tuple(row[j] for row in wide) for j in range(len(wide[0]))]
    used: set[int] = set()
    for j in range(len(narrow[0])):
        column = tuple(row[j] for row in narrow)
        match = next((k for k, c in enumerate(columns) if k not in used and c == column), None)
        if match is None:
            return False
        used.add(match)
    return True


def merge_in_order(record: dict[str, Any], run: Runner) -> bool:
    """Agreement counted again with each result inside the best supported wider one that holds
    it; ``top_share``, ``margin``, ``distinct_share``, ``greedy_agrees`` and the chosen query
    follow, ranked and chosen by ``decide``'s own rules (ties by the model's likelihood)."""
    candidates = record["candidates"]
    if record.get("rule") is not None or not record.get("signals"):
        return False
    ok = [i for i, c in enumerate(candidates) if c["status"] == "ok" and c.get("result_hash")]
    support = Counter(candidates[i]["result_hash"] for i in ok)
    rows: dict[str, Rows] = {}
    for i in ok:
        rows.setdefault(candidates[i]["result_hash"], run.rows(candidates[i]["sql"]))
    into: dict[str, str] = {}
    for key in support:
        wider = [w for w in support if w != key and holds_in_order(rows[key], rows[w])]
        if wider:
            into[key] = max(wider, key=lambda w: (support[w], -len((rows[w] or [()])[0])))
    if not into:
        return False

    def widest(key: str) -> str:
        while key in into:  # each step is strictly wider: no cycle
            key = into[key]
        return key

    # Each result counted under the widest one that holds it, ranked and chosen as decide does;
    # the query shown is one that gave the widest result itself.
    rebuilt = as_candidates(candidates)
    merged = as_candidates(candidates)
    for candidate in merged:
        if candidate.result_hash:
            candidate.result_hash = widest(candidate.result_hash)
    _, ranked, members = agreement(merged)
    lead = ranked[0][0]
    shown = leading([rebuilt[i] for i in ok if rebuilt[i].result_hash == lead])
    chosen = next(i for i, c in enumerate(rebuilt) if c is shown)
    n = len(candidates)
    top = ranked[0][1] / n
    second = ranked[1][1] / n if len(ranked) > 1 else 0.0
    record["signals"].update(
        top_share=top,
        margin=top - second,
        distinct_share=len(ranked) / n,
        greedy_agrees=1.0 if merged and any(m is merged[0] for m in members) else 0.0,
    )
    record["chosen"] = chosen
    record["chosen_correct"] = bool(candidates[chosen]["correct"])
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


def bare_column_warning(record: dict[str, Any], run: Runner) -> bool:
    sql = _chosen_sql(record)
    if (
        sql is None
        or record["signals"].get("type_mismatch")
        or not bare_column(sql, run.db.sql_dialect)
    ):
        return False
    record["signals"]["type_mismatch"] = 1.0
    return True


APPLY: dict[str, Callable[[dict[str, Any], Runner], bool]] = {
    "old-empty": old_empty,
    "merge-in-order": merge_in_order,
    "no-identifier-warning": no_identifier_warning,
    "fan-out-warning": fan_out_warning,
    "bare-column-warning": bare_column_warning,
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
) -> dict[str, Any]:
    """``change`` measured on the run file ``run_path`` (read, never written)."""
    header, records = ask.load_run(run_path)
    runners: dict[Database | None, Runner | None] = {}

    with ask.databases(suites, allow_privileged) as database:

        def runner(record: dict[str, Any]) -> Runner | None:
            db = database(record)
            if db not in runners:
                runners[db] = Runner(db) if db is not None else None
            return runners[db]

        changed, touched = what_if(records, change, runner, progress)
    return compare(records, changed, touched, change=change, model=header["model"], target=target)
