"""A result counted with a wider one that holds it (rule 4, docs/BENCHMARKS.md).

Three candidates list the names of the top products and two list the names with the revenue
that ranks them: the same answer, counted as two when results are compared whole. Where a
calibrator was fitted on agreement counted this way (``calibration.merges_in_order``),
``decide`` counts each result with the best supported wider result that holds each of its
columns value for value in the same row order (a different order or grouping still disagrees),
and shows a query that gave the wider result itself. ``bench what-if --change merge-repeats``
also counts a result whose rows a join repeated with the same rows once each (rule 14: measured,
not built into ``decide``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from honestsql.candidates import Candidate, ran
from honestsql.db.result import row_key

Rows = Sequence[Sequence[Any]]


def _rows(candidate: Candidate) -> Rows | None:
    return candidate.result.rows if candidate.result else None


def holds_in_order(narrow: Rows | None, wide: Rows | None) -> bool:
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


def once_each(repeated: Rows | None, once: Rows | None) -> bool:
    """Whether ``once`` holds the rows of ``repeated`` each exactly once where ``repeated`` holds
    one of them more than once (rows a join repeated); columns in any order, as results agree."""
    if not repeated or not once or len(repeated) <= len(once):
        return False
    keys = [row_key(row) for row in once]
    return len(set(keys)) == len(keys) and set(keys) == set(map(row_key, repeated))


def merge_wider(
    candidates: list[Candidate],
    rows_of: Callable[[Candidate], Rows | None] = _rows,
    *,
    repeats: bool = False,
) -> bool:
    """Count each result with the best supported wider result that holds it row for row, in
    order (three candidates list the names, two the names with their revenue: five agree), the
    widest of a chain; the query shown is then one that gave the widest result itself
    (``candidates.shown_query``). Sets each merged candidate's ``group``; whether any was merged.
    Used where the calibrator was fitted on agreement counted so
    (``calibration.merges_in_order``; rule 4 in docs/BENCHMARKS.md). With ``repeats``, a result
    whose rows repeat also counts with the best supported one that holds them once each
    (``once_each``; rule 14)."""
    ok = ran(candidates)
    support = Counter(c.result_hash for c in ok)
    rows: dict[str | None, Rows | None] = {}
    for c in ok:
        if c.result_hash not in rows:
            rows[c.result_hash] = rows_of(c)
    into: dict[str | None, str | None] = {}
    for key in support:
        wider = [
            w
            for w in support
            if w != key
            and (holds_in_order(rows[key], rows[w]) or (repeats and once_each(rows[key], rows[w])))
        ]
        if wider:
            into[key] = max(wider, key=lambda w: (support[w], -len((rows[w] or [()])[0])))

    def widest(key: str | None) -> str | None:
        # Each step is strictly wider, or (repeats) as wide with strictly fewer rows: no cycle.
        while key in into:
            key = into[key]
        return key

    for c in ok:
        c.group = widest(c.result_hash) if c.result_hash in into else None
    return bool(into)
