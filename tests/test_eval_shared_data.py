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


def test_abstention_benchmark_on_real_outputs(tmp_path: Path) -> None:
    """Cross-validated decisions over the 17 published Spider systems, the sql-eval gate, and
    TrustSQL's EHRSQL samples (figures in docs/BENCHMARKS.md)."""
    from honestsql.benchmarks import abstention

    result = abstention.run(str(DATA))
    spider = result["spider"]
    assert spider["questions"] == 110 and spider["systems"] == 17
    assert spider["best_single_ex"] == pytest.approx(105 / 110)
    assert spider["s"]["0.9"] >= 0.80 and spider["auroc"] >= 0.85
    assert result["sqleval"]["false_refusal_rate"] <= 0.02 and result["sqleval"]["idk_auroc"] > 0.85
    assert result["ehrsql"]["questions"] == 894
    assert result["ehrsql"]["rs10"] > result["ehrsql"]["rs10_baseline"]
    curve = spider["risk_coverage"]
    assert len(curve) == 110 and curve[-1][0] == 1.0
    abstention.write_report(result, tmp_path / "a.html")
    assert "data:image/png;base64," in (tmp_path / "a.html").read_text()


def test_catalog_from_spider_tables() -> None:
    import json

    from honestsql.evaluation.datasets import from_spider_tables

    entry = json.loads((DATA / "spider" / "tables.json").read_text())
    singer = from_spider_tables(next(e for e in entry if e["db_id"] == "singer"))
    song = singer.table("song")
    assert song is not None and song.primary_key == ["Song_ID"]
    assert [(fk.columns, fk.ref_table) for fk in song.foreign_keys] == [(["Singer_ID"], "singer")]


def test_no_benchmark_question_reads_as_a_request_to_change_data() -> None:
    """The write-request rule refuses before the model; on the thousands of real reading
    questions of Spider, BIRD and sql-eval it must never fire."""
    from honestsql.gates import write_request

    questions = [e.question for e in datasets.load("spider", DATA).examples]
    questions += [e.question for e in datasets.load("bird", DATA, split="dev").examples]
    questions += [e.question for e in datasets.load("sqleval", DATA, dialect="sqlite").examples]
    assert len(questions) > 2500
    assert [q for q in questions if write_request(q)] == []


def test_no_decline_instruction_reaches_a_question() -> None:
    """Every sql-eval unanswerable question tells the model how to decline ("return 'SELECT 'I'm
    sorry...'"); no answerable one does. That cue must not reach the prompt or the signals; the
    answerable questions keep their real instructions."""
    dataset = datasets.load("sqleval", DATA, dialect="sqlite")
    idk = [e for e in dataset.examples if not e.answerable]
    answerable = [e for e in dataset.examples if e.answerable]
    assert len(idk) == 105 and len(answerable) == 210
    assert [e.evidence for e in idk if e.evidence] == []
    assert sum(1 for e in answerable if e.evidence) == 35
    assert not any("SELECT '" in e.evidence for e in dataset.examples)
    assert datasets.without_decline_instruction(
        "Use LIKE.\nIf the data cannot answer, return 'SELECT 'Sorry.' AS answer;'"
    ) == ("Use LIKE.")


def test_empty_gold_results_are_told_apart() -> None:
    """Spider's flight_2 has trailing spaces in its city names and leading ones in its flights'
    airport codes, so a gold filter on 'Aberdeen' or 'APG' matches nothing: such questions are
    marked (a count of 0 too: any filter that matches nothing gives it), and questions whose gold
    found something are not."""
    from honestsql.evaluation.scorer import Scorer

    dataset = datasets.load("spider", DATA)
    scorer = Scorer(dataset)
    try:
        flight = [e for e in dataset.examples if e.db_id == "flight_2"]
        marks = {e.id: scorer.gold_empty(e) for e in flight}
        examples = {e.id: e for e in flight}
        gold = {e.id: (e.gold or ("",))[0] for e in flight}
        names = [
            i
            for i, sql in gold.items()
            if sql.startswith('SELECT AirportName FROM AIRPORTS WHERE City = "Aberdeen"')
        ]
        assert names and all(marks[i] is True for i in names)
        counting = [i for i, sql in gold.items() if sql.lower().startswith("select count")]
        found = [
            i for i in counting if scorer.execute_prediction(examples[i], gold[i])[0] != [(0,)]
        ]
        zero = [i for i in counting if i not in found]
        assert found and not any(marks[i] for i in found)  # a count of something is kept
        assert zero and all(marks[i] is True for i in zero)  # 'APG' is stored as ' APG'
        assert 40 <= sum(bool(v) for v in marks.values()) < len(flight)
    finally:
        scorer.close()
