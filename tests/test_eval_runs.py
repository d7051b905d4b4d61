"""Loaders on small fixture files, and `eval score` end to end on a database built here."""

from __future__ import annotations

import csv
import functools
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from honestsql.errors import InvalidInput
from honestsql.evaluation import datasets, runs
from honestsql.evaluation.compare import compare
from honestsql.evaluation.runs import load_run, score

SHOP = """
CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT, price REAL, category TEXT);
INSERT INTO products VALUES (1, 'Book', 12.5, 'media'), (2, 'Lamp', 40.0, 'home'),
  (3, 'Mug', 8.0, 'home'), (4, 'Film', 15.0, 'media');
"""


def _csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    """A benchmark data root in the shared layout, with a self-made database for each kind."""
    root = tmp_path / "data"
    # Spider: three questions on a database that exists, one on a database that does not.
    spider = root / "spider"
    (spider / "databases" / "tiny").mkdir(parents=True)
    conn = sqlite3.connect(spider / "databases" / "tiny" / "tiny.sqlite")
    conn.executescript(SHOP)
    conn.close()
    (spider / "dev.json").write_text(
        json.dumps(
            [
                {
                    "db_id": "tiny",
                    "query": "SELECT name FROM products ORDER BY price",
                    "question": "Products by price?",
                },
                {
                    "db_id": "tiny",
                    "query": "SELECT count(*) FROM products",
                    "question": "How many products?",
                },
                {
                    "db_id": "tiny",
                    "query": "SELECT category, count(*) FROM products GROUP BY category",
                    "question": "Per category?",
                },
                {"db_id": "gone", "query": "SELECT 1", "question": "No database here"},
            ]
        )
    )
    # BIRD
    (root / "bird").mkdir()
    (root / "bird" / "dev.json").write_text(
        json.dumps(
            [
                {
                    "question_id": 7,
                    "db_id": "x",
                    "question": "Q?",
                    "evidence": "hint",
                    "SQL": "SELECT 1",
                    "difficulty": "simple",
                }
            ]
        )
    )
    # sql-eval: five answerable questions and two unanswerable ones, on a SQLite "shop".
    sqleval = root / "sqleval"
    sqleval.mkdir()
    head = ["db_name", "db_type", "query_category", "query", "question", "instructions"]
    _csv(
        sqleval / "questions_gen_sqlite.csv",
        head,
        [
            [
                "shop",
                "sqlite",
                "basic",
                "SELECT name FROM products WHERE category = 'home'",
                "Home products?",
                "",
            ],
            [
                "shop",
                "sqlite",
                "basic",
                "SELECT {id, name} FROM products WHERE price > 10",
                "Products over 10?",
                "",
            ],
            ["shop", "sqlite", "basic", "SELECT MAX(price) FROM products", "Highest price?", ""],
            ["shop", "sqlite", "basic", "SELECT COUNT(*) FROM products", "How many?", ""],
            [
                "shop",
                "sqlite",
                "order_by",
                "SELECT name FROM products ORDER BY price DESC",
                "Products, dearest first?",
                "",
            ],
        ],
    )
    _csv(
        sqleval / "idk.csv",
        ["question", "instructions", "query", "db_name", "query_category"],
        [
            ["Who designed the lamp?", "", "SELECT 'no data' AS answer;", "shop", "cat_b"],
            ["What is dark matter?", "", "SELECT 'no data' AS answer;", "shop", "cat_a"],
        ],
    )
    # EHRSQL: one answerable, one unanswerable ("null").
    ehr = root / "ehrsql" / "test"
    ehr.mkdir(parents=True)
    (ehr / "data.json").write_text(
        json.dumps(
            {
                "version": "t",
                "data": [
                    {"id": "a1", "question": "How many patients?"},
                    {"id": "b2", "question": "Weather?"},
                ],
            }
        )
    )
    (ehr / "label.json").write_text(
        json.dumps({"a1": "SELECT COUNT(*) FROM patients", "b2": "null"})
    )
    shop_dir = Path(os.environ["HONESTSQL_DATA_DIR"]) / "sqleval"
    shop_dir.mkdir(parents=True, exist_ok=True)
    (shop_dir / "shop.sqlite").unlink(missing_ok=True)
    conn = sqlite3.connect(shop_dir / "shop.sqlite")
    conn.executescript(SHOP)
    conn.close()
    return root


def test_loaders(data_root: Path) -> None:
    spider = datasets.load("spider", data_root)
    assert [e.db_id for e in spider.examples] == ["tiny", "tiny", "tiny", "gone"]
    assert spider.locate("tiny") and spider.locate("gone") is None
    bird = datasets.load("bird", data_root)
    assert bird.examples[0].id == "bird-dev-7" and bird.examples[0].evidence == "hint"
    assert bird.examples[0].difficulty == "simple"
    assert bird.describe("x") is None
    (data_root / "bird" / "dev_databases" / "x" / "database_description").mkdir(parents=True)
    assert str(bird.describe("x")).endswith("x/database_description")
    sqleval = datasets.load("sqleval", data_root, dialect="sqlite")
    assert len(sqleval.examples) == 7
    assert [e.answerable for e in sqleval.examples] == [True] * 5 + [False] * 2
    assert sqleval.examples[4].category == "order_by"
    ehr = datasets.load("ehrsql", data_root)
    assert [e.answerable for e in ehr.examples] == [True, False]
    with pytest.raises(InvalidInput, match="does not exist"):
        datasets.load("spider", data_root / "nope")
    with pytest.raises(InvalidInput, match="Unknown benchmark"):
        datasets.load("wikisql", data_root)


PREDICTIONS = [
    "SELECT name FROM products WHERE category = 'home'",  # correct
    "SELECT price, name FROM products WHERE price > 10",  # correct: extra column, {id, name} subset
    "SELECT MIN(price) FROM products",  # wrong
    "SELECT COUNT(nonexistent) FROM products",  # error
    "ABSTAIN",  # abstained on an answerable question
    "",  # abstained on an unanswerable question: right
    "SELECT name FROM products WHERE name = 'Lamp'",  # any SQL for an unanswerable one is wrong
]
CONFIDENCES = ["0.9", "0.8", "0.7", "0.6", "", "0.1", "0.95"]


def _files(tmp_path: Path, predictions: list[str] = PREDICTIONS) -> tuple[Path, Path]:
    pred = tmp_path / "pred.sql"
    pred.write_text("\n".join(predictions) + "\n")
    conf = tmp_path / "conf.txt"
    conf.write_text("\n".join(CONFIDENCES) + "\n")
    return pred, conf


def test_score_end_to_end_every_metric(data_root: Path, tmp_path: Path) -> None:
    dataset = datasets.load("sqleval", data_root, dialect="sqlite")
    pred, conf = _files(tmp_path)
    result = score(dataset, pred, run_path=tmp_path / "run.jsonl", confidences_path=conf)
    s = result.summary()
    assert [o.status for o in result.outcomes] == [
        "correct",
        "correct",
        "wrong",
        "error",
        "abstained",
        "correct",
        "wrong",
    ]
    assert (s["n"], s["scored"], s["skipped"]) == (7, 7, 0)
    assert (s["answered"], s["correct"], s["wrong"], s["abstained"], s["correct_abstentions"]) == (
        5,
        2,
        3,
        2,
        1,
    )
    assert s["ex"] == pytest.approx(2 / 5)
    assert s["coverage"] == pytest.approx(5 / 7)
    assert s["selective_accuracy"] == pytest.approx(2 / 5)
    assert s["error_rate"] == pytest.approx(3 / 7)
    assert s["penalized"] == {
        "0.5": pytest.approx(-1 / 7),
        "0.75": pytest.approx(-1.0),
        "0.9": pytest.approx(-25 / 7),
    }
    assert s["rs"] == {
        "0": pytest.approx(3 / 7),
        "5": pytest.approx(-12 / 7),
        "10": pytest.approx(-27 / 7),
        "N": pytest.approx(-18 / 7),
    }
    assert s["auroc"] == pytest.approx(4 / 6)
    assert s["ece"] == pytest.approx((0.1 + 0.2 + 0.7 + 0.6 + 0.95) / 5)
    assert s["errors"] == 1 and "no such column" in (result.outcomes[3].error or "")


def test_run_resumes_and_refuses_other_predictions(data_root: Path, tmp_path: Path) -> None:
    dataset = datasets.load("sqleval", data_root, dialect="sqlite")
    pred, conf = _files(tmp_path)
    run_path = tmp_path / "run.jsonl"
    first = score(dataset, pred, run_path=run_path, confidences_path=conf)
    # An interrupted run: drop the last two outcomes and cut one line short.
    lines = run_path.read_text().splitlines()
    run_path.write_text("\n".join(lines[:-2]) + '\n{"id": "sqleval-6", "ind')
    again = score(dataset, pred, run_path=run_path, confidences_path=conf)
    assert again.resumed == 5
    assert again.summary()["rs"] == first.summary()["rs"]
    assert [o.status for o in load_run(run_path).outcomes] == [o.status for o in first.outcomes]
    other, _ = _files(tmp_path / "..", ["ABSTAIN"] * 7)
    with pytest.raises(InvalidInput, match="--fresh"):
        score(dataset, other, run_path=run_path)
    assert score(dataset, other, run_path=run_path, fresh=True).summary()["coverage"] == 0.0


def test_missing_databases_are_skipped_not_counted(data_root: Path, tmp_path: Path) -> None:
    dataset = datasets.load("spider", data_root)
    pred = tmp_path / "spider.sql"
    pred.write_text(
        "SELECT name FROM products ORDER BY price\tTiny\n"  # correct (TAB + db_id is allowed)
        "select COUNT ( * ) from products\n"  # correct
        "SELECT count(*), category FROM products GROUP BY category\n"  # correct: columns permuted
        "SELECT 1\n"
    )
    s = score(dataset, pred, run_path=tmp_path / "s.jsonl").summary()
    assert (s["n"], s["scored"], s["skipped"], s["correct"]) == (4, 3, 1, 3)
    assert s["skipped_reasons"] == {"database not available": 1}
    # Same rows in another order is wrong when the gold query has ORDER BY.
    pred.write_text("SELECT name FROM products ORDER BY price DESC\n\n\nSELECT 1\n")
    s = score(dataset, pred, run_path=tmp_path / "s2.jsonl").summary()
    assert (s["correct"], s["wrong"], s["abstained"]) == (0, 1, 2)


def test_refused_prediction_never_runs(data_root: Path, tmp_path: Path) -> None:
    dataset = datasets.load("spider", data_root)
    pred = tmp_path / "evil.sql"
    pred.write_text("DROP TABLE products\nSELECT 1; DELETE FROM products\n\n\n")
    result = score(dataset, pred, run_path=tmp_path / "e.jsonl")
    assert [o.status for o in result.outcomes[:2]] == ["error", "error"]
    assert "not_read_only" in (result.outcomes[0].error or "")
    conn = sqlite3.connect(data_root / "spider" / "databases" / "tiny" / "tiny.sqlite")
    assert conn.execute("SELECT COUNT(*) FROM products").fetchone() == (4,)


def test_sql_match_mode_and_json_predictions(data_root: Path, tmp_path: Path) -> None:
    dataset = datasets.load("ehrsql", data_root)
    pred = tmp_path / "ehr.json"
    pred.write_text(json.dumps({"a1": "select count(*) from PATIENTS", "b2": "null"}))
    s = score(dataset, pred, run_path=tmp_path / "h.jsonl", match="sql").summary()
    assert (s["correct"], s["correct_abstentions"], s["rs"]["10"]) == (1, 1, 1.0)
    # Without a database, execution matching skips every answerable question.
    s = score(dataset, pred, run_path=tmp_path / "h2.jsonl").summary()
    assert s["skipped_reasons"] == {"database not available": 1}


@pytest.mark.parametrize(
    ("content", "message"),
    [("only one line\n", "has 1 lines"), ("[1, 2]", "JSON object")],
)
def test_bad_prediction_files(data_root: Path, tmp_path: Path, content: str, message: str) -> None:
    dataset = datasets.load("spider", data_root)
    path = tmp_path / ("p.json" if content.startswith("[") else "p.sql")
    path.write_text(content)
    with pytest.raises(InvalidInput, match=message):
        score(dataset, path, run_path=tmp_path / "x.jsonl")


def test_bad_confidences(data_root: Path, tmp_path: Path) -> None:
    dataset = datasets.load("sqleval", data_root, dialect="sqlite")
    pred, conf = _files(tmp_path)
    conf.write_text("\n".join(["0.5", "1.5"] + ["0.5"] * 5) + "\n")
    with pytest.raises(InvalidInput, match="outside"):
        score(dataset, pred, run_path=tmp_path / "c.jsonl", confidences_path=conf)


def test_compare_runs(data_root: Path, tmp_path: Path) -> None:
    dataset = datasets.load("sqleval", data_root, dialect="sqlite")
    pred, conf = _files(tmp_path)
    a = score(dataset, pred, run_path=tmp_path / "a.jsonl")
    changed = list(PREDICTIONS)
    changed[0] = "SELECT name FROM products"  # broken
    changed[2] = "SELECT MAX(price) FROM products"  # fixed
    changed[1] = "ABSTAIN"  # newly abstained
    changed[4] = "SELECT COUNT(*) FROM products"  # newly answered
    (tmp_path / "b").mkdir()
    pred_b, _ = _files(tmp_path / "b", changed)
    b = score(dataset, pred_b, run_path=tmp_path / "b.jsonl")
    diff = compare(a, b)
    assert diff["compared"] == 7
    assert diff["counts"] == {
        "fixed": 1,
        "broken": 1,
        "newly_abstained": 1,
        "newly_answered": 1,
        "still_wrong": 0,
    }
    assert {c["kind"]: c["index"] for c in diff["changes"]} == {
        "broken": 0,
        "newly_abstained": 1,
        "fixed": 2,
        "newly_answered": 4,
    }


def test_cli_score_compare_and_report(data_root: Path, tmp_path: Path) -> None:
    pred, conf = _files(tmp_path)
    report = tmp_path / "report.html"
    base = [sys.executable, "-m", "honestsql", "eval"]
    proc = subprocess.run(
        [
            *base,
            "score",
            "--benchmark",
            "sqleval",
            "--dialect",
            "sqlite",
            "--data",
            str(data_root),
            "--predictions",
            str(pred),
            "--confidences",
            str(conf),
            "--run",
            str(tmp_path / "r.jsonl"),
            "--report",
            str(report),
            "--json",
        ],
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    for key in (
        "n",
        "scored",
        "skipped",
        "ex",
        "coverage",
        "selective_accuracy",
        "penalized",
        "rs",
        "auroc",
    ):
        assert key in data
    assert data["ex"] == pytest.approx(0.4) and data["rs"]["0"] == pytest.approx(3 / 7)
    page = report.read_text()
    assert page.count("data:image/png;base64,") == 2 and "Worst failures" in page
    assert "SELECT MIN(price) FROM products" in page
    proc = subprocess.run(
        [*base, "compare", str(tmp_path / "r.jsonl"), str(tmp_path / "r.jsonl"), "--json"],
        capture_output=True,
        timeout=60,
    )
    assert json.loads(proc.stdout)["counts"]["fixed"] == 0
    proc = subprocess.run(
        [
            *base,
            "score",
            "--benchmark",
            "spider",
            "--data",
            str(tmp_path / "none"),
            "--predictions",
            str(pred),
            "--json",
        ],
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["errors"][0]["kind"] == "invalid_input"


def test_default_workers_match_parallel_results(data_root: Path, tmp_path: Path) -> None:
    dataset = datasets.load("sqleval", data_root, dialect="sqlite")
    pred, conf = _files(tmp_path)
    serial = score(dataset, pred, run_path=tmp_path / "1.jsonl", confidences_path=conf).summary()
    parallel = runs.score(
        dataset, pred, run_path=tmp_path / "2.jsonl", confidences_path=conf, workers=4
    ).summary()
    for key in ("correct", "wrong", "abstained", "rs", "penalized", "auroc"):
        assert serial[key] == parallel[key]


def test_eval_run_writes_files_that_score_reads(data_root: Path, tmp_path: Path) -> None:
    """The pipeline answers sql-eval with a scripted model; `eval score` then scores its files."""
    from honestsql.evaluation import ask_run
    from honestsql.llm.openai_compat import OpenAICompatible
    from honestsql.pipeline import Settings

    from .chat_server import ChatServer

    answers = {
        "Home products?": "SELECT name FROM products WHERE category = 'home'",
        "Highest price?": "SELECT MAX(price) FROM products",
    }

    def reply(request: dict) -> list[str]:  # type: ignore[type-arg]
        question = request["messages"][-1]["content"].split("Question: ")[-1].split("\n")[0]
        return [answers.get(question, "ABSTAIN: not in this schema")] * 3

    dataset = datasets.load("sqleval", data_root, dialect="sqlite")
    pred, conf, keep = tmp_path / "p.sql", tmp_path / "c.txt", tmp_path / "kept.jsonl"
    with ChatServer(reply) as server:
        backend = OpenAICompatible(base_url=server.base_url, model="scripted")
        # Three of three agreeing clears 0.5 whatever calibrator ships.
        answer = functools.partial(
            ask_run.run,
            dataset,
            backend,
            predictions=pred,
            confidences=conf,
            settings=Settings(candidates=3),
            target=0.5,
        )
        counts = answer(limit=4, keep=keep)
        assert counts == {"answered": 2, "abstained": 2, "no_database": 0, "resumed": 0}
        counts = answer()
        assert counts["resumed"] == 4 and counts["abstained"] == 3  # questions 5-7, continuing
    lines = pred.read_text().splitlines()
    assert lines[0] == answers["Home products?"] and lines[1] == "ABSTAIN" and len(lines) == 7
    # Every candidate of the first four questions was kept, judged against the gold.
    from honestsql.benchmarks import ask as bench

    header, records = bench.load_run(keep)
    assert header["model"] == "scripted" and len(records) == 4
    assert [c["correct"] for c in records[0]["candidates"]] == [True, True, True]
    assert {c["status"] for c in records[1]["candidates"]} == {"abstain"}
    s = score(dataset, pred, run_path=tmp_path / "r.jsonl", confidences_path=conf).summary()
    assert (s["correct"], s["abstained"], s["correct_abstentions"]) == (2, 5, 2)
