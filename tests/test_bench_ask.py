"""`bench ask` end to end (a real HTTP chat server with scripted replies, real SQLite databases in
Spider's layout), its figures on hand-made records, and the per-model logistic calibrator."""

from __future__ import annotations

import json
import math
import os
import re
import sqlite3
import statistics
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from honestsql import calibration, fitting
from honestsql.benchmarks import ask as bench
from honestsql.benchmarks import ask_ablation, ask_figures, ask_fit
from honestsql.candidates import Candidate
from honestsql.clues import CLUES
from honestsql.db import QueryResult
from honestsql.decide import decide
from honestsql.wording import say

from .chat_server import ChatServer, is_repair

# question -> (gold, replies of the greedy candidate then the sampled ones)
SHOP = {
    "How many customers are there?": (
        "SELECT COUNT(*) FROM customer",
        ["SELECT COUNT(*) FROM customer"] * 3,
    ),
    "How many customers live in Berlin?": (
        "SELECT COUNT(*) FROM customer WHERE city = 'Berlin'",
        [
            "SELECT COUNT(*) FROM customer",  # greedy wrong
            "SELECT COUNT(*) FROM customer WHERE city = 'Berlin'",
            "SELECT COUNT(*) FROM customer WHERE city = 'Berlin'",
        ],
    ),
    "What is the oldest age?": (
        "SELECT MAX(age) FROM customer",
        ["SELECT MIN(age) FROM customer"] * 3,  # wrong, all agree
    ),
}
ZOO = {
    "How many animals?": ("SELECT COUNT(*) FROM animal", ["SELECT COUNT(*) FROM animal"] * 3),
    "Which animal is heaviest?": (
        "SELECT name FROM animal ORDER BY weight DESC LIMIT 1",
        [
            "SELECT name FROM animal WHERE legs = 2",
            "SELECT nme FROM animal",  # an invented column, repaired into a right query
            "ABSTAIN: not sure",
        ],
    ),
}


def _build(root: Path) -> None:
    spider = root / "spider"
    for db_id, script in {
        "shop": "CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT, city TEXT, age INT);"
        "INSERT INTO customer VALUES (1,'Ann','Berlin',30),(2,'Bo','Paris',41),(3,'Cy','Berlin',25);",
        "zoo": "CREATE TABLE animal (id INTEGER PRIMARY KEY, name TEXT, legs INT, weight REAL);"
        "INSERT INTO animal VALUES (1,'ant',6,0.001),(2,'cow',4,700),(3,'hen',2,2);",
    }.items():
        folder = spider / "databases" / db_id
        folder.mkdir(parents=True)
        conn = sqlite3.connect(folder / f"{db_id}.sqlite")
        conn.executescript(script)
        conn.close()
    questions = [
        {"db_id": db_id, "question": q, "query": gold}
        for db_id, table in (("shop", SHOP), ("zoo", ZOO))
        for q, (gold, _) in table.items()
    ]
    (spider / "dev.json").write_text(json.dumps(questions))


def _reply(request: dict[str, Any]) -> list[str]:
    if is_repair(request):
        return ["SELECT name FROM animal ORDER BY weight DESC LIMIT 1"]
    user = request["messages"][-1]["content"]
    for table in (SHOP, ZOO):
        for question, (_, replies) in table.items():
            if f"Question: {question}" in user:
                return replies[:1] if request.get("temperature", 0) == 0 else replies[1:]
    raise AssertionError(user)


def _bench(root: Path, server: ChatServer, run: Path, *extra: str) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "honestsql",
            "bench",
            "ask",
            "--suite",
            "spider",
            "--data",
            str(root),
            "--llm",
            "openai",
            "--base-url",
            server.base_url,
            "--model",
            "scripted",
            "--candidates",
            "3",
            "--run",
            str(run),
            "--json",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return json.loads(proc.stdout)


def test_bench_ask_keeps_every_candidate_and_resumes(tmp_path: Path) -> None:
    _build(tmp_path / "data")
    run = tmp_path / "run.jsonl"
    with ChatServer(_reply) as server:
        partial = _bench(tmp_path / "data", server, run, "--limit", "2")
        (tmp_path / "first-two.jsonl").write_bytes(run.read_bytes())
        asked = len(server.requests)
        figures = _bench(tmp_path / "data", server, run)
        # Resumed: the two questions already in the run file were not asked again.
        assert len(server.requests) > asked
        assert not any(
            "How many customers are there?" in r["messages"][-1]["content"]
            for r in server.requests[asked:]
        )
    assert partial["n"] == 2 and figures["n"] == 5 and figures["model"] == "scripted"
    header, records = bench.load_run(run)
    assert header["model"] == "scripted" and header["candidates"] == 3
    by_question = {r["id"]: r for r in records}
    assert len(by_question) == 5
    assert "question" not in records[0]  # benchmark text stays in the benchmark's files
    berlin = by_question["spider:spider-dev-1"]
    assert [c["correct"] for c in berlin["candidates"]] == [False, True, True]
    assert berlin["candidates"][0]["first_correct"] is False
    heaviest = by_question["spider:spider-dev-4"]
    invented = heaviest["candidates"][1]
    assert invented["first_sql"] == "SELECT nme FROM animal" and invented["repairs"] == 1
    assert invented["correct"] is True and invented["first_correct"] is False
    assert heaviest["candidates"][2]["status"] == "abstain"
    # What the calibrator reads and the clues; no likelihood from a backend that cannot read it.
    assert set(berlin["signals"]) == set(calibration.SIGNALS) | set(CLUES) | {
        "schema_columns",
        "named_unread",
        "asked_unknown",
    }
    # The size of the database's schema: 4 columns in either (rule 6 in docs/BENCHMARKS.md).
    assert {r["signals"]["schema_columns"] for r in records} == {round(math.log(4) / 5, 4)}
    # By hand: greedy right on 2 of 5 (customers, animals); some candidate right on 4 of 5.
    assert figures["bare_ex"] == pytest.approx(2 / 5)
    assert figures["oracle_ex"] == pytest.approx(4 / 5)
    assert figures["bare_s"]["0.5"] == pytest.approx((2 - 3) / 5)
    assert 0.0 <= figures["coverage"] <= 1.0 and figures["p50_s"] > 0
    again = subprocess.run(
        [sys.executable, "-m", "honestsql", "bench", "ask", "--run", str(run), "--report-only"]
        + ["--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["oracle_ex"] == figures["oracle_ex"]
    # Two runs compared on the questions both answered.
    common = subprocess.run(
        [sys.executable, "-m", "honestsql", "bench", "ask", "--run", str(run), "--report-only"]
        + ["--common-with", str(tmp_path / "first-two.jsonl"), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert common.returncode == 0, common.stderr
    assert json.loads(common.stdout)["n"] == 2
    assert json.loads(common.stdout)["bare_ex"] == partial["bare_ex"]
    # The same questions of the same run, paired: every first query agrees with itself.
    paired = json.loads(common.stdout)["paired_first_query"]
    right = round(partial["bare_ex"] * 2)
    assert paired == {
        "with": str(tmp_path / "first-two.jsonl"),
        "items": 2,
        "both": right,
        "only_this": 0,
        "only_other": 0,
        "neither": 2 - right,
        "p_mcnemar": 1.0,
    }


def test_a_run_file_replaced_under_a_running_bench_keeps_every_record(tmp_path: Path) -> None:
    """``git stash`` or a checkout replaces a file by a new one of the same content: the run
    goes on appending to the file that is there, not to the one replaced (a session lost 44
    records of a 1.5B run so, written to a deleted file)."""
    _build(tmp_path / "data")
    run = tmp_path / "run.jsonl"
    replaced: list[int] = []

    def reply(request: dict[str, Any]) -> list[str]:
        if not replaced and run.is_file() and len(run.read_text().splitlines()) >= 3:
            copy = tmp_path / "copy.jsonl"
            copy.write_bytes(run.read_bytes())
            os.replace(copy, run)  # as git writes a file: a new one in its place
            replaced.append(len(run.read_text().splitlines()))
        return _reply(request)

    with ChatServer(reply) as server:
        figures = _bench(tmp_path / "data", server, run)
    assert replaced and figures["n"] == 5
    assert len(bench.load_run(run)[1]) == 5


def test_bench_ask_refuses_a_run_of_other_settings(tmp_path: Path) -> None:
    _build(tmp_path / "data")
    run = tmp_path / "run.jsonl"
    with ChatServer(_reply) as server:
        _bench(tmp_path / "data", server, run, "--limit", "1")

        def resume(candidates: str, **env: str) -> str:
            proc = subprocess.run(
                [sys.executable, "-m", "honestsql", "bench", "ask", "--suite", "spider"]
                + ["--data", str(tmp_path / "data"), "--llm", "openai", "--base-url"]
                + [server.base_url, "--model", "scripted", "--candidates", candidates]
                + ["--run", str(run), "--json"],
                capture_output=True,
                text=True,
                timeout=60,
                env={**os.environ, **env},
            )
            assert proc.returncode != 0
            return str(json.loads(proc.stdout)["errors"][0]["message"])

        assert "other settings" in resume("5")
        # Early stop changes what the candidates are: a run made without it is not resumed with it.
        assert "other settings" in resume("3", HONESTSQL_EARLY_STOP="2")


def near(value: float) -> Any:
    return pytest.approx(value, abs=1e-4)  # figures are rounded to 4 decimals


def _record(
    i: int, db: str, *, answerable: bool, top: float, right: bool, rule: str | None = None
) -> dict[str, Any]:
    return {
        "id": f"s:{i}",
        "suite": "s",
        "db_id": db,
        "answerable": answerable,
        "rule": rule,
        "chosen": None if rule else 0,
        "chosen_correct": right and answerable,
        "signals": {"top_share": top, "margin": top, "greedy_agrees": 1.0},
        "candidates": [
            {
                "sql": "SELECT 1",
                "status": "ok",
                "correct": right and answerable,
                "first_correct": right and answerable,
            },
            {"sql": "SELECT 2", "status": "ok", "correct": answerable and i % 3 == 0},
        ],
        "seconds": float(i % 7 + 1),
        "usage": {"prompt_tokens": 100, "completion_tokens": 10},
    }


DECLINED = "unanswerable_with_schema"


def test_summary_figures_by_hand() -> None:
    records = []
    for i in range(60):
        db = f"db{i % 4}"
        strong = (i // 4) % 2 == 0  # each database has both kinds
        records.append(_record(i, db, answerable=True, top=1.0 if strong else 0.4, right=strong))
    for i in range(60, 70):
        records.append(_record(i, f"db{i % 4}", answerable=False, top=0.4, right=False, rule=None))
    records.append(
        _record(70, "db0", answerable=False, top=0.0, right=False, rule="not_about_this_database")
    )
    declined = _record(71, "db1", answerable=True, top=0.0, right=False, rule=DECLINED)
    for candidate in declined["candidates"]:  # both decline as first written: a refusal
        candidate.update(status="abstain", repairs=0)
    records.append(declined)
    gave_up = _record(72, "db2", answerable=True, top=0.0, right=False, rule=DECLINED)
    for candidate in gave_up["candidates"]:  # both decline in a repair round: failures
        candidate.update(status="abstain", repairs=1, correct=False)
    # Answerable with an empty gold result: set apart from everything but ``empty_gold``.
    empty = [_record(i, f"db{i % 4}", answerable=True, top=1.0, right=True) for i in range(73, 76)]
    for record in empty:
        record["gold_empty"] = True
    figures = ask_figures.summarize([*records, gave_up, *empty], model="m")
    assert figures["empty_gold"] == {
        "questions": 3,
        "by_suite": {"s": 3},
        "bare_matched": 3,
        "oracle_matched": 3,
    }
    assert figures["false_refusals"] == near(1 / 62)
    assert figures["gave_up_repairs"] == near(1 / 62)
    figures = ask_figures.summarize(records, model="m")
    assert figures["n"] == 72 and figures["answerable"] == 61 and figures["unanswerable"] == 11
    # Greedy right on the 32 strong questions; any candidate right adds i % 3 == 0 among the rest.
    assert figures["bare_ex"] == near(32 / 61)
    oracle = sum(1 for i in range(60) if (i // 4) % 2 == 0 or i % 3 == 0)
    assert figures["oracle_ex"] == near(oracle / 61)
    # Agreement separates right from wrong perfectly here: every strong question answered and
    # right, nothing else answered, whichever database was held out.
    assert figures["precision"] == 1.0 and figures["coverage"] == near(32 / 72)
    # 32 of 32 answers right: the Wilson interval still reaches down to 0.893.
    assert figures["precision_interval"] == [0.8928, 1.0]
    low, high = figures["answered_right_interval"]
    assert low < 32 / 61 < high and high - low < 0.26
    assert figures["s"]["0.75"] == near(32 / 72)
    assert figures["s_answerable"]["0.75"] == near(32 / 61)
    assert figures["idk_refused"] == 1.0
    assert figures["false_refusals"] == near(1 / 61)
    assert figures["auroc"] == 1.0 and figures["auroc_answerable"] == 1.0
    assert figures["answered_right"] == figures["ex"] == near(32 / 61)
    assert figures["s_all"] == figures["s"]
    assert figures["suites"]["s"]["bare_ex"] == near(32 / 61)
    assert figures["suites"]["s"]["first_query_ran"] == near(120 / 122)
    assert figures["p50_s"] == statistics.median(float(i % 7 + 1) for i in range(72))
    assert figures["tokens_per_question"] == 110


def test_the_decisions_as_the_run_made_them_by_hand() -> None:
    """``as_run``: the confidence and decision each record holds (the calibrator shipped when it
    was asked), not the one cross-validated on the run."""
    records = []
    for i in range(20):  # answered at 0.9: 18 right, 2 wrong
        records.append(_record(i, f"db{i % 2}", answerable=True, top=1.0, right=i >= 2))
        records[-1].update(decision="answer", confidence=0.9)
    for i in range(20, 30):  # abstained at 0.2, 5 of them right
        records.append(_record(i, f"db{i % 2}", answerable=True, top=0.4, right=i < 25))
        records[-1].update(decision="abstain", confidence=0.2)
    for i in range(30, 35):  # unanswerable, refused
        records.append(_record(i, "db0", answerable=False, top=0.4, right=False))
        records[-1].update(decision="abstain", confidence=0.1)
    got = ask_figures.summarize(records, model="m")["as_run"]
    assert got["answered_right"] == near(18 / 30) and got["precision"] == near(18 / 20)
    assert got["s_0.75"] == near((18 - 3 * 2) / 35)  # a wrong answer costs t / (1 - t) = 3
    # Bins: 0.9 holds 18 of 20 right (gap 0), 0.2 holds 5 of 10 (gap 0.3), 0.1 holds 0 of 5.
    assert got["ece_answerable"] == near(10 / 30 * 0.3)
    assert got["ece"] == near((10 * 0.3 + 5 * 0.1) / 35)
    # 23 right, 7 wrong: 18 x 5 pairs ordered, 18 x 2 and 5 x 5 tied (half each), 5 x 2 reversed.
    assert got["auroc_answerable"] == near((18 * 5 + (18 * 2 + 5 * 5) / 2) / (23 * 7))


def _signalled(n: int, self_check: Any) -> list[dict[str, Any]]:
    """``n`` answerable questions over four databases, half right; agreement says nothing (every
    one at 0.5), ``likelihood`` is a constant, ``self_check(i, right)`` the signal measured."""
    records = []
    for i in range(n):
        right = (i // 4) % 2 == 0  # each of the four databases holds both kinds
        record = _record(i, f"db{i % 4}", answerable=True, top=0.5, right=right)
        record["signals"].update(self_check=float(self_check(i, right)), likelihood=0.5)
        records.append(record)
    return records


def test_what_a_recorded_signal_adds_by_hand() -> None:
    """``--ablation``: a signal helps when the AUROC on answerable questions rises by 0.005 and
    their ECE by no more than 0.01."""
    extra = ("self_check", "likelihood", "least_likely")
    # self_check agrees with the truth on 4 of 5 questions: AUROC 0.8, calibrated at 0.8.
    got = ask_ablation.ablation(
        _signalled(80, lambda i, r: r != (i % 5 == 0)), model="m", extra=extra
    )
    rows = {row["signals"]: row for row in got["rows"]}
    assert got["questions"] == 80 and got["helped"] == ["self_check"]
    assert rows["baseline"]["auroc_answerable"] == 0.5  # every confidence tied
    assert rows["baseline"]["precision"] is None  # nothing answered at 0.5 < 0.75
    assert rows["+ self_check"]["auroc_answerable"] == near(0.8)
    assert rows["+ self_check"]["precision"] == near(0.8)
    assert rows["+ likelihood"]["auroc_answerable"] == 0.5
    assert rows["+ least_likely"] == {"signals": "+ least_likely", "not_recorded": True}
    assert len(rows) == 4  # one signal helped: no row of them together
    # A perfect separator on 48 questions: the regularized fit stops short of 0 and 1, its ECE
    # rises past the constant's 0 by more than 0.01, and the rule does not take it.
    got = ask_ablation.ablation(_signalled(48, lambda i, r: r), model="m", extra=extra)
    added = next(row for row in got["rows"] if row["signals"] == "+ self_check")
    assert added["auroc_answerable"] == 1.0 and added["ece_answerable"] > 0.01
    assert got["helped"] == []


def test_schema_size_is_read_from_each_questions_database(tmp_path: Path) -> None:
    """``schema_columns`` (rule 6): ln(columns of the whole database) / 5, one value a database,
    added to the signals; a question whose database is not here keeps its signals as they are.
    A database-level signal that tells the databases apart lets the ablation see it."""
    import math

    import honestsql

    paths = {}
    for name, columns in (("small", 2), ("large", 12)):
        paths[name] = tmp_path / f"{name}.sqlite"
        with sqlite3.connect(paths[name]) as conn:
            conn.execute(f"CREATE TABLE a ({', '.join(f'c{i} INT' for i in range(columns - 1))})")
            conn.execute("CREATE TABLE b (x INT)")
    opened = {name: honestsql.connect(str(path)) for name, path in paths.items()}
    # Four databases: two small ones where most answers are right, two large where most are not.
    records = []
    for i in range(96):
        db = f"db{i % 4}"
        right = (i % 8 < 6) if i % 4 < 2 else (i % 8 < 2)
        records.append(_record(i, db, answerable=True, top=0.5, right=right))
    records.append(_record(96, "elsewhere", answerable=True, top=0.5, right=True))

    def database(record: dict[str, Any]) -> Any:
        db = record["db_id"]
        return None if db == "elsewhere" else opened["small" if db in ("db0", "db1") else "large"]

    questions = {r["id"]: "Which rows?" for r in records}
    sized = ask_ablation.with_later_signals(records, database, questions)
    assert sized[0]["signals"]["schema_columns"] == near(math.log(2) / 5)
    assert sized[2]["signals"]["schema_columns"] == near(math.log(12) / 5)
    assert (
        "schema_columns" not in sized[-1]["signals"]
        and "schema_columns" not in records[0]["signals"]
    )
    got = ask_ablation.ablation(sized, model="m", extra=("schema_columns",))
    rows = {row["signals"]: row for row in got["rows"]}
    assert got["baseline_signals"] == list(calibration.SIGNALS)
    # Held out by database, a constant confidence ranks the held-out database by the others'
    # share right, backwards; the schema's size ranks them the right way round.
    assert rows["baseline"]["auroc_answerable"] < 0.5
    assert rows["+ schema_columns"]["auroc_answerable"] > 0.7 and got["helped"] == [
        "schema_columns"
    ]
    # A schema larger than any seen in a fit reads as the largest, 1 (signals lie in [0, 1]).
    from honestsql.catalog import Catalog, Column, Table

    wide = [Table(name=f"t{i}", columns=[Column(name="c", type="INT")] * 50) for i in range(4)]
    assert (
        calibration.schema_columns(Catalog(dialect="sqlite", fingerprint="x", tables=wide)) == 1.0
    )
    assert calibration.schema_columns(
        Catalog(dialect="sqlite", fingerprint="x", tables=wide[:2])
    ) == near(math.log(100) / 5)
    # A record the pipeline gave the signal keeps it; databases are not read for it.
    recorded = {**records[0], "signals": {**records[0]["signals"], "schema_columns": 0.9}}
    assert ask_ablation.with_later_signals([recorded], lambda _: None, questions)[0] == recorded
    # The 0.5B's confidence reads the signal (rule 6 passed on its run); the 1.5B's does not.
    small = ask_fit.fit(sized, "qwen2.5-coder-0.5b")
    assert "schema_columns" in small.weights and small.weights["schema_columns"] < 0
    assert "schema_columns" not in ask_fit.fit(sized, "qwen2.5-coder-1.5b").weights
    read = ask_figures.summarize(sized, model="qwen2.5-coder-0.5b")
    assert read["auroc_answerable"] > 0.7 and "schema_columns" not in read["absent_signals"]
    # A run recorded before the pipeline recorded it says so rather than reading it silently
    # (these hand-made records carry few of the other signals either).
    unsized = ask_figures.summarize(records, model="qwen2.5-coder-0.5b")
    assert "schema_columns" in unsized["absent_signals"]


def test_logistic_calibrator_fit_apply_and_ship(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [{"top_share": k / 10, "margin": k / 10} for k in range(11) for _ in range(8)]
    labels = [i % 8 < k * 0.8 for k in range(11) for i in range(8)]
    model = fitting.fit_logistic(rows, labels, fitted_on="synthetic")
    ps = [model.probability({"top_share": k / 10, "margin": k / 10}) for k in range(11)]
    assert ps == sorted(ps) and ps[0] < 0.3 and ps[-1] > 0.7
    assert all(calibration.FLOOR <= p <= calibration.CEILING for p in ps)
    again = calibration.Calibrator.from_json(model.to_json())
    assert again.probability(rows[40]) == model.probability(rows[40])
    groups = [f"g{i % 3}" for i in range(len(rows))]
    held = fitting.grouped_cross_validated(rows, labels, groups)
    assert len(held) == len(rows) and held != [model.probability(r) for r in rows]
    with pytest.raises(ValueError):
        calibration.Calibrator.from_json(
            json.dumps({"kind": "logistic", "weights": {"shoe_size": 1}, "intercept": 0})
        )
    # Shipped: one per named model; another model gets the default model's; a file overrides.
    own = calibration.load_default("qwen2.5-coder-1.5b")
    assert isinstance(own, calibration.LogisticCalibrator)
    assert "qwen2.5-coder-1.5b" in own.fitted_on
    assert calibration.load_default("some-server-model") is not None
    # Per grammar: the model's own under that grammar, else its own under another (it knows how
    # often that model is right), else the default model's under that grammar.
    full = calibration.load_default("qwen2.5-coder-1.5b", "full")
    assert full is not None and full.fitted_on.startswith("qwen2.5-coder-1.5b, full grammar:")
    assert full.fitted_on != own.fitted_on
    assert own.fitted_on == calibration.load_default("qwen2.5-coder-1.5b", "qualified").fitted_on  # type: ignore[union-attr]
    small = calibration.load_default("qwen2.5-coder-0.5b", "full")
    assert small is not None and small.fitted_on.startswith("qwen2.5-coder-0.5b, full grammar:")
    unfitted = calibration.load_default("qwen2.5-coder-0.5b", "none")
    assert unfitted is not None and unfitted.fitted_on.startswith("qwen2.5-coder-0.5b, qualified")
    other = calibration.load_default("some-server-model", "full")
    assert other is not None and other.fitted_on == full.fitted_on
    spider = calibration.shipped(calibration.SPIDER_ENSEMBLE)
    assert isinstance(spider, calibration.Calibrator) and "Spider" in spider.fitted_on
    path = tmp_path / "mine.json"
    path.write_text(model.to_json())
    monkeypatch.setenv("HONESTSQL_CALIBRATION", str(path))
    assert calibration.load_default("qwen2.5-coder-1.5b").fitted_on == "synthetic"  # type: ignore[union-attr]


def _ok(key: str, rows: list[list[Any]], repairs: int = 0) -> Candidate:
    result = QueryResult(columns=[], rows=rows, truncated=False, elapsed_ms=0.0)
    return Candidate(
        text="", sql="SELECT 1", status="ok", result=result, result_hash=key, repairs=repairs
    )


@pytest.mark.parametrize(
    ("rows", "empty"),
    [
        ([], 1.0),
        ([[None, None]], 1.0),
        ([[0]], 1.0),  # a count over no rows: a filter may match nothing
        ([[0.0, None], [Decimal(0), 0]], 1.0),
        ([[0, 3]], 0.0),
        ([[False]], 0.0),  # "no" is an answer, not nothing
        ([["0"]], 0.0),  # a text "0" is a value
    ],
)
def test_a_result_that_holds_nothing_is_read_as_empty(rows: list[list[Any]], empty: float) -> None:
    decision = decide([_ok("a", rows), _ok("a", rows)], target=0.5, relevance=1.0)
    assert decision.signals["empty"] == empty
    assert (say("empty", "en") in decision.notes) is bool(empty)


def test_decide_applies_the_calibrator_as_it_is() -> None:
    model = calibration.LogisticCalibrator({"top_share": 4.0, "empty": -2.0}, -1.0, "t")
    candidates = [_ok("a", []), _ok("a", []), _ok("a", []), _ok("b", [[1]])]
    decision = decide(candidates, target=0.5, relevance=1.0, calibrator=model)
    # No hand-set factor on top: the confidence is the calibrated probability itself.
    assert decision.confidence == pytest.approx(model.probability(decision.signals))
    assert decision.signals["empty"] == 1.0 and decision.signals["top_share"] == 0.75
    assert decision.answer is (decision.confidence > 0.5)
    tie = decide(
        [_ok("a", [[1]]), _ok("a", [[1]]), _ok("b", [[2]]), _ok("b", [[2]])],
        target=0.01,
        relevance=1.0,
        calibrator=model,
    )
    assert not tie.answer and tie.reasons[0].code == "ambiguous"
    declined = [Candidate(text="ABSTAIN: no", status="abstain", abstain_reason="no")] * 3
    assert decide(declined + [_ok("a", [[1]])], target=0.0, relevance=1.0).answer is False


def test_calibrate_fit_from_bench_runs(tmp_path: Path) -> None:
    header = {"kind": "header", "version": bench.RUN_VERSION, "model": "m", "grammar": "qualified"}
    records = [
        _record(
            i,
            f"db{i % 4}",
            answerable=True,
            top=1.0 if (i // 4) % 2 == 0 else 0.4,
            right=(i // 4) % 2 == 0,
        )
        for i in range(40)
    ]
    run = tmp_path / "run.jsonl"
    run.write_text("\n".join(json.dumps(r) for r in [header, *records]) + "\n")
    out = tmp_path / "cal.json"

    def fit(*runs: Path, as_json: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "honestsql", "calibrate", "fit", *map(str, runs)]
            + ["--out", str(out)]
            + (["--json"] if as_json else []),
            capture_output=True,
            text=True,
            timeout=60,
        )

    proc = fit(run)
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)
    assert figures["questions"] == 40 and figures["leave_one_database_out"]["auroc"] == 1.0
    assert 0 < figures["leave_one_database_out"]["ece_chance"] < 0.2
    # The records carry three signals: the others are named, not silently read as 0.
    carried = {"top_share", "margin", "greedy_agrees"}
    assert figures["absent_signals"] == [s for s in calibration.SIGNALS if s not in carried]
    plain = fit(run, as_json=False)
    assert plain.returncode == 0, plain.stderr
    said = " ".join(plain.stdout.split())
    assert "No record carries" in said and "per_group_flat" in said and "--rejudge" in said
    fitted = calibration.Calibrator.from_json(out.read_text())
    assert isinstance(fitted, calibration.LogisticCalibrator)
    assert fitted.probability(records[0]["signals"]) > fitted.probability(records[4]["signals"])
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({**header, "model": "n"}) + "\n")
    proc = fit(run, other)
    assert proc.returncode != 0 and "differ in their model" in proc.stdout
    # A run written by `bench what-if --change merge-in-order --write` counts agreement with
    # a wider result: the calibrator fitted on it says so, and decide counts as it learned.
    merged = tmp_path / "merged.jsonl"
    merged_header = {**header, "agreement": "merge-in-order", "what_if": "merge-in-order"}
    merged.write_text("\n".join(json.dumps(r) for r in [merged_header, *records]) + "\n")
    proc = fit(merged)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["agreement"] == "merge-in-order"
    assert calibration.merges_in_order(calibration.Calibrator.from_json(out.read_text()))
    mixed = fit(run, merged)
    assert mixed.returncode != 0 and "agreement" in mixed.stdout


def test_plan_covers_every_database_early() -> None:
    from honestsql.evaluation.datasets import Dataset, Example

    def dataset(name: str, dbs: dict[str, int], available: set[str]) -> Dataset:
        examples = [
            Example(id=f"{db}-{i}", index=i, question="q", db_id=db, gold=("SELECT 1",))
            for db, count in dbs.items()
            for i in range(count)
        ]
        return Dataset(name, "sqlite", examples, lambda db: db if db in available else None)

    suites = {
        "sqleval-sqlite": dataset("sqleval", {"a": 20, "b": 3, "gone": 4}, {"a", "b"}),
        "spider": dataset("spider", {"s": 10}, {"s"}),
        "sqleval-postgres": dataset("sqleval", {"a": 5}, {"a"}),
    }
    order, missing = bench.plan(suites)
    assert missing == ["sqleval-sqlite:gone"]
    assert len(order) == 20 + 3 + 10 + 5 and len({i.id for i in order}) == len(order)
    first = [(i.suite, i.example.db_id) for i in order[: 2 * bench.BLOCK + 3]]
    # Every database of the first tier within the first round, in blocks of BLOCK.
    assert {db for _, db in first} == {"a", "b", "s"}
    assert all(i.suite == "sqleval-postgres" for i in order[-5:])  # the second tier comes last


def test_bench_ask_records_the_self_check() -> None:
    """The self-check costs a prompt, so questions ask for it only when the calibrator reads
    it; ``bench ask`` asks for it always, so that runs record it for later fits."""
    from honestsql.settings import Settings

    assert Settings().self_check is False
    source = (Path(__file__).parents[1] / "src/honestsql/cli/bench_ask.py").read_text()
    settings = re.search(r"settings=Settings\((.*?)\),", source, re.S)
    assert settings and "self_check=True" in settings.group(1)


def test_the_early_stop_estimate_counts_what_three_agreeing_candidates_would_save() -> None:
    def record(hashes: str, statuses: str = "", chosen: int = 0) -> dict[str, Any]:
        candidates = [
            {"status": "ok" if s == "o" else "error", "result_hash": h, "correct": h == "a"}
            for h, s in zip(hashes, statuses or "o" * len(hashes), strict=True)
        ]
        return {"candidates": candidates, "chosen": chosen, "answerable": True}

    records = [
        record("aaaaa"),  # stops: 2 saved, the run chose the same result, right
        record("bbbaa", chosen=3),  # stops on b, but the run chose a: wrong, and not the run's
        record("abaaa"),  # disagree: asks for the rest
        record("aaaaa", statuses="oofoo"),  # one of the first three failed: asks for the rest
        record("aa"),  # fewer candidates than it asks for first: not counted
    ]
    estimate = ask_figures.early_stop(records)
    assert estimate["questions"] == 4 and estimate["stopped"] == 0.5
    assert estimate["candidates_saved"] == near(4 / 20)
    assert estimate["same_result_as_run"] == 0.5 and estimate["stopped_right"] == 0.5


def test_one_early_stop_setting_for_every_door(monkeypatch: pytest.MonkeyPatch) -> None:
    from honestsql.errors import InvalidInput
    from honestsql.settings import Settings

    monkeypatch.delenv("HONESTSQL_EARLY_STOP", raising=False)
    assert Settings().early_stop == 0
    monkeypatch.setenv("HONESTSQL_EARLY_STOP", "3")
    assert Settings().early_stop == 3
    monkeypatch.setenv("HONESTSQL_EARLY_STOP", "three")
    with pytest.raises(InvalidInput, match="HONESTSQL_EARLY_STOP"):
        Settings()


def test_the_calibrator_follows_the_grammar_the_backend_decodes() -> None:
    """``full`` asked of a backend that takes Lark grammars reads the calibrator fitted under
    ``full``; asked of one that takes only GBNF it decodes (and is calibrated) as ``qualified``."""
    from honestsql.settings import Settings

    from .scripted_backend import ScriptedBackend

    backend = ScriptedBackend(lambda request: [])
    backend.model_name = "qwen2.5-coder-1.5b"
    backend.supports_grammar = True
    backend.supports_lark = True
    full = calibration.for_backend(backend, Settings(grammar="full"))
    assert full is not None and full.fitted_on.startswith("qwen2.5-coder-1.5b, full grammar:")
    backend.supports_lark = False
    gbnf = calibration.for_backend(backend, Settings(grammar="full"))
    assert gbnf is not None and gbnf.fitted_on.startswith("qwen2.5-coder-1.5b, qualified grammar:")
    assert calibration.for_backend(backend, Settings(grammar="full", calibrated=False)) is None


@pytest.mark.parametrize(
    "option, shows",
    [
        ("--dialect-notes", lambda system, user: "julianday(a) - julianday(b)" in system),
        ("--inline-samples", lambda system, user: "example: [" in user and "<data>" not in user),
    ],
)
def test_bench_ask_prompt_options_are_runs_of_their_own(
    tmp_path: Path, option: str, shows: Callable[[str, str], bool]
) -> None:
    _build(tmp_path / "data")
    run = tmp_path / "noted.jsonl"
    with ChatServer(_reply) as server:
        _bench(tmp_path / "data", server, run, "--limit", "1", option)
        prompts = [[m["content"] for m in r["messages"]] for r in server.requests]
    assert bench.load_run(run)[0][option.removeprefix("--").replace("-", "_")] is True
    assert prompts and all(shows(system, user) for system, user in prompts)
    with ChatServer(_reply) as server:  # the same file without the option: another run
        refused = subprocess.run(
            [sys.executable, "-m", "honestsql", "bench", "ask", "--suite", "spider", "--data"]
            + [str(tmp_path / "data"), "--llm", "openai", "--base-url", server.base_url]
            + ["--model", "scripted", "--candidates", "3", "--run", str(run), "--json"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert not server.requests
    assert refused.returncode != 0 and "other settings" in refused.stdout + refused.stderr
