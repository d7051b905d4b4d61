"""When is a predicted result the gold result? One function per benchmark's official rule.

- Spider (test-suite execution match): same number of rows; rows compared as multisets, or in
  order when the gold query has ORDER BY; columns may come in another order.
- BIRD: the two results compared as sets of rows.
- sql-eval: the gold query stands for several (``;``-separated alternatives, ``{a,b}`` meaning any
  non-empty subset of those columns); duplicate rows are dropped, the prediction may have extra
  columns, and order matters only for ``order_by`` questions or ones that ask for an order.
- SQL match (no database, e.g. EHRSQL): equality after sqlglot normalization.
"""

from __future__ import annotations

import decimal
import itertools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import sqlglot
from sqlglot.errors import SqlglotError

Row = tuple[Any, ...]
#: Permutations tried at most when matching columns in another order.
MAX_PERMUTATIONS = 20_000


def hashable(value: Any) -> Any:
    if isinstance(value, list | dict | set | bytearray | memoryview):
        return repr(value)
    return value


def rows_of(rows: Iterable[Sequence[Any]]) -> list[Row]:
    return [tuple(hashable(v) for v in row) for row in rows]


# --- Spider ------------------------------------------------------------------------------------


def spider_order_matters(gold_sql: str) -> bool:
    return "order by" in gold_sql.lower()


def _sorted_row(row: Row) -> tuple[str, ...]:
    return tuple(sorted(repr(v) + type(v).__name__ for v in row))


def spider_match(gold: list[Row], pred: list[Row], order_matters: bool) -> bool:
    """Spider's execution match (the test-suite evaluator's ``result_eq``)."""
    if not gold and not pred:
        return True
    if len(gold) != len(pred):
        return False
    width = len(gold[0])
    if len(pred[0]) != width:
        return False
    # A necessary condition, cheap to test: the same rows up to column order.
    if order_matters:
        if [_sorted_row(r) for r in gold] != [_sorted_row(r) for r in pred]:
            return False
    elif Counter(_sorted_row(r) for r in gold) != Counter(_sorted_row(r) for r in pred):
        return False
    gold_columns = [{row[i] for row in gold} for i in range(width)]
    pred_columns = [{row[j] for row in pred} for j in range(width)]
    candidates = [
        [j for j in range(width) if pred_columns[j] == gold_columns[i]] for i in range(width)
    ]
    gold_counts = None if order_matters else Counter(gold)
    for tried, perm in enumerate(itertools.product(*candidates)):
        if tried >= MAX_PERMUTATIONS:
            break
        if len(set(perm)) != width:
            continue
        permuted = [tuple(row[j] for j in perm) for row in pred]
        if order_matters:
            if permuted == gold:
                return True
        elif Counter(permuted) == gold_counts:
            return True
    return False


# --- BIRD --------------------------------------------------------------------------------------


def bird_match(gold: list[Row], pred: list[Row]) -> bool:
    return set(gold) == set(pred)


# --- sql-eval ----------------------------------------------------------------------------------

_ORDER_WORDS = re.compile(r"\b(order|sort|arrange)\b", re.IGNORECASE)


def sqleval_order_matters(category: str | None, question: str) -> bool:
    return category == "order_by" or bool(_ORDER_WORDS.search(question))


def sqleval_alternatives(gold: str) -> list[str]:
    """Every query a sql-eval gold query stands for (``;`` alternatives x ``{a,b}`` subsets)."""
    result: list[str] = []
    for part in gold.split(";"):
        query = part.strip()
        if not query:
            continue
        start = query.find("{")
        end = query.find("}", start + 1)
        if start == -1 or end == -1:
            result.append(query)
            continue
        options = [o.strip() for o in query[start + 1 : end].split(",")]
        for size in range(1, len(options) + 1):
            for combo in itertools.combinations(options, size):
                columns = ", ".join(combo)
                rest = query[end + 1 :].replace("GROUP BY {}", f"GROUP BY {columns}")
                result.append(query[:start] + columns + rest)
    return result


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, decimal.Decimal | float | int):
        return round(float(value), 6)
    return value


def _dedupe(rows: list[Row]) -> list[Row]:
    return list(dict.fromkeys(rows))


def _sort_key(row: Row) -> tuple[Any, ...]:
    return tuple((v is None, type(v).__name__, v if v is not None else 0) for v in row)


def _table_equal(gold: list[Row], pred: list[Row], ordered: bool) -> bool:
    a, b = _dedupe(gold), _dedupe(pred)
    if ordered:
        return a == b
    try:
        return sorted(a, key=_sort_key) == sorted(b, key=_sort_key)
    except TypeError:
        return Counter(a) == Counter(b)


def _column(rows: list[Row], index: int) -> list[Any]:
    try:
        return sorted(
            (row[index] for row in rows),
            key=lambda v: (v is None, type(v).__name__, v if v is not None else 0),
        )
    except TypeError:
        return sorted((row[index] for row in rows), key=repr)


def sqleval_match(gold: list[Row], pred: list[Row], ordered: bool) -> bool:
    """Exact match, or every gold column found (by its values) in a distinct predicted column."""
    gold = [tuple(_number(v) for v in r) for r in gold]
    pred = [tuple(_number(v) for v in r) for r in pred]
    if gold and pred and len(gold[0]) == len(pred[0]) and _table_equal(gold, pred, ordered):
        return True
    if not gold or not pred:
        return not gold and not pred
    unused = list(range(len(pred[0])))
    chosen: list[int] = []
    for i in range(len(gold[0])):
        wanted = _column(gold, i)
        match = next((j for j in unused if _column(pred, j) == wanted), None)
        if match is None:
            return False
        unused.remove(match)
        chosen.append(match)
    projected = [tuple(row[j] for j in chosen) for row in pred]
    return _table_equal(gold, projected, ordered)


# --- SQL match ---------------------------------------------------------------------------------


def normalize_sql(sql: str, dialect: str) -> str:
    """A canonical text of ``sql``: sqlglot's rendering with identifiers normalized."""
    try:
        expression = sqlglot.parse_one(sql, read=dialect)
        from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

        text = normalize_identifiers(expression, dialect=dialect).sql(
            dialect=dialect, comments=False
        )
    except (SqlglotError, RecursionError):
        text = sql
    return " ".join(text.replace(";", " ").split()).lower()


def sql_match(gold: str, pred: str, dialect: str) -> bool:
    return normalize_sql(gold, dialect) == normalize_sql(pred, dialect)
