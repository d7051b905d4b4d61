"""A result counted with a wider one that holds it (``honestsql.merging``), in ``decide`` only
where the calibrator was fitted on agreement counted so; real SQLite results throughout."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import honestsql
from honestsql import calibration
from honestsql.calibration import LogisticCalibrator
from honestsql.candidates import Candidate, leading
from honestsql.decide import decide
from honestsql.merging import merge_wider

NAMES = "SELECT name FROM product ORDER BY price DESC LIMIT 2"
WITH_PRICE = "SELECT name, price FROM product ORDER BY price DESC LIMIT 2"
OTHER_ORDER = "SELECT name, price FROM product ORDER BY price ASC LIMIT 2"


@pytest.fixture
def db(tmp_path: Path) -> honestsql.Database:
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            "CREATE TABLE product (id INTEGER PRIMARY KEY, name TEXT, price REAL);"
            "INSERT INTO product VALUES (1,'pen',2),(2,'ink',9),(3,'pad',5);"
            # Two sales of the pen: a join to it repeats the pen's row.
            "CREATE TABLE sale (id INTEGER, product_id INTEGER);"
            "INSERT INTO sale VALUES (1, 1), (2, 1), (3, 2);"
        )
    return honestsql.connect(str(path))


def _ran(db: honestsql.Database, *sqls: str) -> list[Candidate]:
    out = []
    for sql in sqls:
        result = db.execute(sql)
        out.append(Candidate(text=sql, sql=sql, status="ok", result=result, result_hash=result.key))
    return out


def _calibrator(agreement: str | None) -> LogisticCalibrator:
    details = {"agreement": agreement} if agreement else {}
    return LogisticCalibrator({"top_share": 4.0}, -2.0, "test", details)


def test_decide_merges_only_for_a_calibrator_fitted_so(db: honestsql.Database) -> None:
    sqls = (NAMES, WITH_PRICE, NAMES, WITH_PRICE, NAMES)
    plain = decide(_ran(db, *sqls), target=0.5, relevance=1.0, calibrator=_calibrator(None))
    assert plain.signals["top_share"] == pytest.approx(3 / 5)
    assert plain.chosen is not None and plain.chosen.sql == NAMES
    merging = _calibrator(calibration.MERGE_IN_ORDER)
    merged = decide(_ran(db, *sqls), target=0.5, relevance=1.0, calibrator=merging)
    assert merged.signals["top_share"] == 1.0 and merged.signals["margin"] == 1.0
    assert merged.signals["distinct_share"] == pytest.approx(1 / 5)
    # The query shown gave the wider result itself: the names with the price that ranks them.
    assert merged.chosen is not None and merged.chosen.sql == WITH_PRICE
    assert merged.confidence > plain.confidence
    assert "3 of them give part of it: the same rows, fewer of its columns" in merged.notes
    assert not any("part of it" in note for note in plain.notes)
    # The flag travels with the calibrator's file.
    again = LogisticCalibrator.from_dict(__import__("json").loads(merging.to_json()))
    assert calibration.merges_in_order(again) and not calibration.merges_in_order(None)


def test_a_wider_result_in_another_order_or_alone_is_not_merged(db: honestsql.Database) -> None:
    candidates = _ran(db, NAMES, OTHER_ORDER, NAMES)
    assert merge_wider(candidates) is False
    assert [c.group for c in candidates] == [None, None, None]
    # The narrow result wins alone: its own query is shown.
    lone = _ran(db, NAMES, WITH_PRICE)
    assert merge_wider(lone) is True
    assert lone[0].group == lone[1].result_hash and lone[1].group is None
    assert leading(lone) is lone[1]


REPEATED = "SELECT p.name FROM product AS p JOIN sale AS s ON s.product_id = p.id"
ONCE = "SELECT DISTINCT p.name FROM product AS p JOIN sale AS s ON s.product_id = p.id"
FEWER = "SELECT DISTINCT p.name FROM product AS p JOIN sale AS s ON s.product_id = p.id LIMIT 1"


def test_rows_a_join_repeats_count_with_the_same_rows_once_only_when_asked(
    db: honestsql.Database,
) -> None:
    candidates = _ran(db, REPEATED, ONCE, REPEATED)
    assert len({c.result_hash for c in candidates}) == 2  # three rows against two
    assert merge_wider(candidates) is False  # rule 4 alone: no wider result holds them
    assert merge_wider(candidates, repeats=True) is True
    once = candidates[1].result_hash
    assert [c.group for c in candidates] == [once, None, once]
    assert leading(candidates) is candidates[1]  # the rows shown once each
    # Never the other way, and never to other rows: a result without repeats stays its own;
    # fewer distinct rows (one name of two) are another answer.
    plain = _ran(db, ONCE, FEWER, REPEATED)
    assert merge_wider(plain, repeats=True) is True
    assert [c.group for c in plain] == [None, None, plain[0].result_hash]
    assert merge_wider(_ran(db, FEWER, REPEATED), repeats=True) is False
