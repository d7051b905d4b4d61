"""Result matching by each benchmark's rule: ties, NULLs, floats, duplicates, ordering."""

from __future__ import annotations

from decimal import Decimal

import pytest

from honestsql.evaluation.matching import (
    bird_match,
    normalize_sql,
    spider_match,
    spider_order_matters,
    sql_match,
    sqleval_alternatives,
    sqleval_match,
    sqleval_order_matters,
)


@pytest.mark.parametrize(
    ("gold", "pred", "ordered", "same"),
    [
        ([], [], False, True),
        ([(1,)], [], False, False),
        ([(1, "a"), (2, "b")], [(2, "b"), (1, "a")], False, True),  # row order free
        ([(1, "a"), (2, "b")], [(2, "b"), (1, "a")], True, False),  # unless ORDER BY
        ([(1, "a"), (2, "b")], [("a", 1), ("b", 2)], False, True),  # column permutation
        ([(1, "a"), (2, "b")], [("a", 1), ("b", 2)], True, True),
        ([(1,), (1,), (2,)], [(1,), (2,), (2,)], False, False),  # multisets, not sets
        ([(1,), (1,)], [(1,)], False, False),
        ([(None,)], [(None,)], False, True),
        ([(None, 1)], [(1, None)], False, True),
        ([(1.5,)], [(1.5,)], False, True),
        ([(1.5,)], [(1.5000001,)], False, False),  # exact, as the official evaluator
        ([(1, 2)], [(1, 2, 3)], False, False),  # another number of columns
        ([(1, 1), (2, 2)], [(1, 2), (2, 1)], False, False),
        ([(1, "x"), (1, "y")], [("y", 1), ("x", 1)], False, True),
    ],
)
def test_spider(gold: list, pred: list, ordered: bool, same: bool) -> None:  # type: ignore[type-arg]
    assert spider_match(gold, pred, ordered) is same


def test_spider_order_rule() -> None:
    assert spider_order_matters("SELECT a FROM t ORDER BY a")
    assert not spider_order_matters("SELECT a FROM t")


@pytest.mark.parametrize(
    ("gold", "pred", "same"),
    [
        ([(1,), (1,), (2,)], [(2,), (1,)], True),  # sets: duplicates do not count
        ([(1, "a")], [("a", 1)], False),  # but column order does
        ([(None,)], [(None,)], True),
        ([], [], True),
        ([(1,)], [(1,), (3,)], False),
    ],
)
def test_bird(gold: list, pred: list, same: bool) -> None:  # type: ignore[type-arg]
    assert bird_match(gold, pred) is same


def test_sqleval_alternatives_expand_braces_and_semicolons() -> None:
    gold = "SELECT {a.x, a.y} FROM a GROUP BY {};SELECT b FROM c;"
    assert sqleval_alternatives(gold) == [
        "SELECT a.x FROM a GROUP BY a.x",
        "SELECT a.y FROM a GROUP BY a.y",
        "SELECT a.x, a.y FROM a GROUP BY a.x, a.y",
        "SELECT b FROM c",
    ]


@pytest.mark.parametrize(
    ("gold", "pred", "ordered", "same"),
    [
        ([(1, "a"), (2, "b")], [(2, "b"), (1, "a")], False, True),
        ([(1,), (2,)], [(1, "extra"), (2, "more")], False, True),  # extra columns allowed
        ([(1,), (2,)], [("extra", 1), ("more", 2)], False, True),
        ([(1,), (2,)], [(2,), (1,)], True, False),
        ([(1,), (1,), (2,)], [(1,), (2,)], False, True),  # duplicate rows dropped first
        ([(Decimal("2.50"),)], [(2.5,)], False, True),  # numbers compared as numbers
        ([(1.0000001,)], [(1.0,)], False, True),  # rounded to 6 places
        ([(1,)], [(3,)], False, False),
        ([], [], False, True),
        ([], [(1,)], False, False),
    ],
)
def test_sqleval(gold: list, pred: list, ordered: bool, same: bool) -> None:  # type: ignore[type-arg]
    assert sqleval_match(gold, pred, ordered) is same


def test_sqleval_order_rule() -> None:
    assert sqleval_order_matters("order_by", "Which authors?")
    assert sqleval_order_matters("group_by", "List them, sort by year")
    assert not sqleval_order_matters("group_by", "List them sorted by year")  # whole words only
    assert not sqleval_order_matters("group_by", "Which authors?")


def test_sql_match_normalizes() -> None:
    assert sql_match("SELECT a FROM t WHERE b = 1", "select   A from T where b=1;", "sqlite")
    assert not sql_match("SELECT a FROM t", "SELECT b FROM t", "sqlite")
    assert normalize_sql("not sql ((", "sqlite") == "not sql (("
