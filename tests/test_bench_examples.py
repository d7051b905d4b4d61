"""`bench ask --examples`: each question shown the verified pairs a memory would, held out (a
real HTTP chat server with scripted replies, a real SQLite database in Spider's layout)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from honestsql.benchmarks import ask as bench
from honestsql.benchmarks import ask_figures
from honestsql.benchmarks.ask_examples import shape

from .chat_server import ChatServer, is_repair, user_prompt

# question -> gold (the scripted model answers with the gold)
SHOP = {
    "How many customers are there?": "SELECT COUNT(*) FROM customer",
    "How many customers live in Berlin?": "SELECT COUNT(*) FROM customer WHERE city = 'Berlin'",
    # The same query but for its value: never shown to the Berlin question, nor it to this one.
    "How many customers live in Paris?": "SELECT COUNT(*) FROM customer WHERE city = 'Paris'",
    "How many customers are older than 30?": "SELECT COUNT(*) FROM customer WHERE age > 30",
    "What is the oldest age of the customers?": "SELECT MAX(age) FROM customer",
}


def _build(root: Path) -> None:
    folder = root / "spider" / "databases" / "shop"
    folder.mkdir(parents=True)
    conn = sqlite3.connect(folder / "shop.sqlite")
    conn.executescript(
        "CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT, city TEXT, age INT);"
        "INSERT INTO customer VALUES (1,'Ann','Berlin',30),(2,'Bo','Paris',41),(3,'Cy','Berlin',25);"
    )
    conn.close()
    questions = [{"db_id": "shop", "question": q, "query": gold} for q, gold in SHOP.items()]
    (root / "spider" / "dev.json").write_text(json.dumps(questions))


def _asked(request: dict[str, Any]) -> str:
    return user_prompt(request).rsplit("Question: ", 1)[1].split("\n")[0]


def _reply(request: dict[str, Any]) -> list[str]:
    return [SHOP[_asked(request)]] * request.get("n", 1)


def _shown(request: dict[str, Any]) -> list[dict[str, str]]:
    """The verified pairs in a prompt's examples block."""
    text = user_prompt(request)
    if "Verified examples" not in text:
        return []
    block = text.split("Verified examples", 1)[1].split("<data>\n", 1)[1].split("\n</data>")[0]
    return [json.loads(line) for line in block.splitlines()]


def _bench(root: Path, server: ChatServer, run: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "honestsql", "bench", "ask", "--suite", "spider"]
        + ["--data", str(root), "--llm", "openai", "--base-url", server.base_url]
        + ["--model", "scripted", "--candidates", "2", "--run", str(run), "--json", *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_each_question_is_shown_other_questions_never_its_own_shape(tmp_path: Path) -> None:
    _build(tmp_path / "data")
    run = tmp_path / "run.jsonl"
    with ChatServer(_reply) as server:
        proc = _bench(tmp_path / "data", server, run, "--examples")
        assert proc.returncode == 0, proc.stderr + proc.stdout
        requests = [r for r in server.requests if not is_repair(r)]
        # Without --examples the run file of another setting is not resumed.
        refused = _bench(tmp_path / "data", server, run)
        assert refused.returncode != 0 and "other settings" in refused.stdout
    header, records = bench.load_run(run)
    assert header["examples"] == "held-out-gold" and len(records) == len(SHOP)
    # One database: no calibrator can be fitted without it, and the figure says so.
    with_examples = json.loads(proc.stdout)["calibrators_with_examples"]
    assert with_examples["questions_with_examples"] == sum(bool(r["examples"]) for r in records)
    assert "other than shop" in with_examples["own"]["unavailable"]
    ids = {f"spider:spider-dev-{i}": q for i, q in enumerate(SHOP)}
    shown_anywhere = 0
    for request in requests:
        question = _asked(request)
        pairs = _shown(request)
        shown_anywhere += len(pairs)
        for pair in pairs:
            assert pair["question"] != question
            assert SHOP[pair["question"]] == pair["sql"]  # the other question's gold, as is
            assert shape(pair["sql"]) != shape(SHOP[question])
    assert shown_anywhere > 0
    for record in records:
        question = ids[record["id"]]
        prompts = [r for r in requests if _asked(r) == question]
        assert prompts and all(_shown(r) == _shown(prompts[0]) for r in prompts)
        # The record names the pairs shown, in the order shown.
        assert [ids[i] for i in record["examples"]] == [p["question"] for p in _shown(prompts[0])]
    berlin = next(r for r in records if ids[r["id"]] == "How many customers live in Berlin?")
    assert "How many customers live in Paris?" not in [ids[i] for i in berlin["examples"]]
    assert berlin["examples"]  # the count of all customers and of the older ones are alike


def test_the_shape_of_a_query_masks_its_values() -> None:
    assert shape("SELECT a FROM t WHERE c = 'Berlin' AND n > 3;") == shape(
        "select a  from t where c = 'O''Hare' and n > 4.5"
    )
    assert shape("SELECT a FROM t WHERE c = 'x'") != shape("SELECT a FROM t WHERE d = 'x'")


def _record(i: int, db: str, *, right: bool, shown: bool) -> dict[str, Any]:
    """An answerable question whose signals tell right from wrong (``top_share``), which the run
    abstained on at 0.5 (a calibrator fitted without examples, under-confident with them)."""
    return {
        "id": f"s:{i}",
        "suite": "s",
        "db_id": db,
        "answerable": True,
        "rule": None,
        "chosen": 0,
        "chosen_correct": right,
        "decision": "abstain",
        "confidence": 0.5,
        "signals": {"top_share": 1.0 if right else 0.4, "margin": 1.0 if right else 0.4},
        "candidates": [{"sql": "SELECT 1", "status": "ok", "correct": right}],
        "examples": ["s:x"] if shown else [],
    }


def test_prompts_with_examples_get_a_calibrator_of_their_own_held_out_by_database() -> None:
    from honestsql.benchmarks.ask_examples import calibrators_with_examples

    records = [_record(i, f"db{i % 4}", right=(i // 4) % 2 == 0, shown=i < 40) for i in range(60)]
    # A run without examples where full agreement is right only every other time.
    plain = [_record(i, f"db{i % 4}", right=(i // 4) % 2 == 0, shown=False) for i in range(80)]
    for record in plain:
        record["signals"] = {"top_share": 1.0, "margin": 1.0}
    figures = calibrators_with_examples(records, plain=plain)
    assert figures["questions_with_examples"] == 40 and figures["databases"] == 4
    own, default = figures["own"], figures["default"]
    # Fitted on the other databases' prompts with examples, each strong one is answered, right;
    # the 20 without examples keep the run's decision (abstained).
    assert own["precision"] == 1.0 and own["answered_right"] == pytest.approx(20 / 60, abs=1e-4)
    assert own["with_examples"]["auroc_answerable"] == 1.0
    # Fitted on the other run, agreement is worth a coin: nothing clears 0.75.
    assert default["answered_right"] == 0.0 and default["precision"] is None
    # What the run recorded, for comparison: nothing answered either.
    assert ask_figures.as_run(records)["answered_right"] == 0.0
