"""The harness on the real benchmark files in ../shared/data (skipped, with the reason, without them)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from honestsql.evaluation import datasets, sqleval_setup
from honestsql.evaluation.runs import score

from .conftest import PG_ADMIN

DATA = Path(
    os.environ.get("HONESTSQL_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
)
pytestmark = pytest.mark.skipif(
    not (DATA / "spider" / "dev.json").is_file(),
    reason=f"benchmark data not found at {DATA} (set HONESTSQL_DATA)",
)


def test_spider_execution_accuracy_of_a_published_system(tmp_path: Path) -> None:
    """Graphix-PICARD-3B gets 105 of the 110 executable Spider dev questions right: the figure
    this project's issues quote (EX 0.955), computed independently of this harness."""
    dataset = datasets.load("spider", DATA)
    result = score(
        dataset,
        DATA / "predictions" / "spider_dev" / "Graphix_PICARD_3B.sql",
        run_path=tmp_path / "g.jsonl",
    )
    s = result.summary()
    assert (s["scored"], s["correct"], s["skipped"]) == (110, 105, 924)


def test_sqleval_sqlite_copy_runs_the_gold_queries(tmp_path: Path) -> None:
    rows, problems = sqleval_setup.load_sqlite("restaurants")
    assert rows == 27 and problems == []
    dataset = datasets.load("sqleval", DATA, dialect="sqlite")
    result = score(dataset, None, run_path=tmp_path / "s.jsonl", gold_as_predictions=True)
    restaurants = [o for o in result.outcomes if o.db_id == "restaurants"]
    assert len(restaurants) == 25 + 15
    assert all(o.correct for o in restaurants), [o for o in restaurants if not o.correct][:2]
    assert result.gold_failures == []


def test_sqleval_postgres_gold_queries_are_all_correct(tmp_path: Path) -> None:
    base = PG_ADMIN.rsplit("/", 1)[0]
    assert sqleval_setup.load_postgres("restaurants", base) == 27
    assert "restaurants" in sqleval_setup.postgres_databases(base)
    dataset = datasets.load("sqleval", DATA, sqleval_url=base)
    result = score(dataset, None, run_path=tmp_path / "p.jsonl", gold_as_predictions=True)
    scored = [o for o in result.outcomes if o.status != "skipped"]
    assert sum(1 for o in scored if o.db_id == "restaurants" and o.answerable) == 25
    assert all(o.correct for o in scored)
