"""``eval compare``: what changed between two runs of the same benchmark, question by question."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from honestsql.errors import InvalidInput
from honestsql.evaluation.runs import RunResult
from honestsql.evaluation.scorer import Outcome

KINDS = ("fixed", "broken", "newly_abstained", "newly_answered", "still_wrong")


@dataclass(frozen=True)
class Change:
    kind: str
    id: str
    index: int
    question: str
    before: str
    after: str
    sql_before: str | None
    sql_after: str | None


def _good(outcome: Outcome) -> bool:
    return bool(outcome.correct)


def compare(a: RunResult, b: RunResult) -> dict[str, Any]:
    if a.header.get("benchmark") != b.header.get("benchmark"):
        raise InvalidInput(
            f"The runs are of different benchmarks ({a.header.get('benchmark')} and "
            f"{b.header.get('benchmark')}); compare runs of the same one."
        )
    after = {o.id: o for o in b.outcomes}
    changes: list[Change] = []
    both = 0
    for old in a.outcomes:
        new = after.get(old.id)
        if new is None or old.status == "skipped" or new.status == "skipped":
            continue
        both += 1
        kind = None
        if old.abstained and not new.abstained:
            kind = "newly_answered"
        elif not old.abstained and new.abstained:
            kind = "newly_abstained"
        elif not _good(old) and _good(new):
            kind = "fixed"
        elif _good(old) and not _good(new):
            kind = "broken"
        elif not _good(old) and not _good(new) and old.pred_sql != new.pred_sql:
            kind = "still_wrong"
        if kind:
            changes.append(
                Change(
                    kind,
                    old.id,
                    old.index,
                    old.question,
                    old.status,
                    new.status,
                    old.pred_sql,
                    new.pred_sql,
                )
            )
    counts = {k: sum(1 for c in changes if c.kind == k) for k in KINDS}
    return {"compared": both, "counts": counts, "changes": [c.__dict__ for c in changes]}
