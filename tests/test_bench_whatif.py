"""`bench what-if`: each change applied to records over a real SQLite database, and the command end
to end on a run that `bench ask` wrote through a scripted chat server."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import honestsql
from honestsql.benchmarks import ask as bench
from honestsql.benchmarks import ask_whatif
from honestsql.errors import InvalidInput
from honestsql.merging import holds_in_order

from .chat_server import ChatServer

SHOP = (
    "CREATE TABLE product (id INTEGER PRIMARY KEY, name TEXT, price REAL);"
    "INSERT INTO product VALUES (1,'pen',2),(2,'ink',9),(3,'pad',5);"
    "CREATE TABLE store (id INTEGER PRIMARY KEY, name TEXT, city TEXT);"
    "INSERT INTO store VALUES (1,'North','Oslo'),(2,'Harbour','Oslo'),(3,'Old town','Rome');"
    "CREATE TABLE visit (store_id INT, city TEXT);"
    "INSERT INTO visit VALUES (1,'Oslo'),(2,'Oslo'),(3,'Rome'),(3,'Rome');"
)
TOP_TWO = "SELECT name FROM product ORDER BY price DESC LIMIT 2"
TOP_TWO_WIDE = "SELECT name, price FROM product ORDER BY price DESC LIMIT 2"


@pytest.fixture
def runner(tmp_path: Path) -> ask_whatif.Runner:
    path = tmp_path / "shop.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(SHOP)
    conn.close()
    return ask_whatif.Runner(honestsql.connect(f"sqlite:///{path}"))


def _record(sqls: list[str], hashes: str, correct: list[bool], **signals: float) -> dict[str, Any]:
    """A record as `bench ask` writes it: candidate i ran ``sqls[i]`` with result ``hashes[i]``;
    the leading group is the first most frequent hash."""
    lead = max(hashes, key=hashes.count)
    return {
        "id": "s:1",
        "db_id": "shop",
        "answerable": True,
        "rule": None,
        "chosen": hashes.index(lead),
        "chosen_correct": correct[hashes.index(lead)],
        "signals": {"top_share": hashes.count(lead) / len(hashes), **signals},
        "candidates": [
            {"sql": sql, "status": "ok", "result_hash": h, "repairs": 0, "correct": right}
            for sql, h, right in zip(sqls, hashes, correct, strict=True)
        ],
    }


@pytest.mark.parametrize(
    ("narrow", "wide", "held"),
    [
        ([("ink",), ("pad",)], [("ink", 9.0), ("pad", 5.0)], True),
        ([("ink",), ("pad",)], [(9.0, "ink"), (5.0, "pad")], True),  # any column of the wider
        ([("ink",), ("pad",)], [("pad", 5.0), ("ink", 9.0)], False),  # another order
        ([("ink",), ("pad",)], [("ink",), ("pad",)], False),  # not wider
        ([("ink", "ink")], [("ink", 9.0, 1)], False),  # one column cannot stand for two
        ([], [], False),
    ],
)
def test_a_result_held_in_order_by_a_wider_one(
    narrow: list[tuple[Any, ...]], wide: list[tuple[Any, ...]], held: bool
) -> None:
    assert holds_in_order(narrow, wide) is held


def test_the_names_and_the_names_with_their_price_agree_when_merged(
    runner: ask_whatif.Runner,
) -> None:
    record = _record(
        [TOP_TWO, TOP_TWO_WIDE, TOP_TWO, TOP_TWO_WIDE, TOP_TWO],
        "ababa",
        [True, False, True, False, True],
        margin=0.2,
        distinct_share=0.4,
        greedy_agrees=1.0,
    )
    assert ask_whatif.merge_in_order(record, runner) is True
    signals = record["signals"]
    assert signals["top_share"] == 1.0 and signals["margin"] == 1.0
    assert signals["distinct_share"] == 0.2 and signals["greedy_agrees"] == 1.0
    # The wider query is shown, and judged as it was.
    assert record["chosen"] == 1 and record["chosen_correct"] is False


def test_a_wider_result_in_another_order_is_not_merged(runner: ask_whatif.Runner) -> None:
    other = "SELECT name, price FROM product ORDER BY price ASC LIMIT 2"
    record = _record([TOP_TWO, other, TOP_TWO], "aba", [True, False, True])
    before = json.dumps(record, sort_keys=True)
    assert ask_whatif.merge_in_order(record, runner) is False
    assert json.dumps(record, sort_keys=True) == before


def test_rows_a_join_repeats_agree_with_them_once_under_merge_repeats_only(
    runner: ask_whatif.Runner,
) -> None:
    repeated = "SELECT s.city FROM store AS s JOIN visit AS v ON v.store_id = s.id"
    once = "SELECT DISTINCT s.city FROM store AS s JOIN visit AS v ON v.store_id = s.id"
    record = _record([repeated, once, repeated], "aba", [False, True, False], margin=0.33)
    plain = json.loads(json.dumps(record))
    assert ask_whatif.APPLY["merge-in-order"](plain, runner) is False
    assert ask_whatif.APPLY["merge-repeats"](record, runner) is True
    assert record["signals"]["top_share"] == 1.0 and record["signals"]["margin"] == 1.0
    # The rows once each are shown, and judged as they were.
    assert record["chosen"] == 1 and record["chosen_correct"] is True


def test_a_count_of_zero_was_a_value_before(runner: ask_whatif.Runner) -> None:
    zero = _record(["SELECT COUNT(*) FROM product WHERE price > 100"], "a", [False], empty=1.0)
    assert ask_whatif.old_empty(zero, runner) is True and zero["signals"]["empty"] == 0.0
    nothing = _record(["SELECT name FROM product WHERE price > 100"], "a", [False], empty=1.0)
    assert ask_whatif.old_empty(nothing, runner) is False and nothing["signals"]["empty"] == 1.0


def test_without_the_identifier_warning(runner: ask_whatif.Runner) -> None:
    warned = _record(["SELECT AVG(id) FROM product"], "a", [False], type_mismatch=1.0)
    assert ask_whatif.no_identifier_warning(warned, runner) is True
    assert warned["signals"]["type_mismatch"] == 0.0
    plain = _record(["SELECT AVG(price) FROM product"], "a", [True], type_mismatch=0.0)
    assert ask_whatif.no_identifier_warning(plain, runner) is False


@pytest.mark.parametrize(
    ("sql", "fans"),
    [
        # city is held twice on both sides: each Oslo store meets both Oslo visits.
        (
            "SELECT s.city, COUNT(s.id) FROM store AS s JOIN visit AS v ON s.city = v.city "
            "GROUP BY s.city",
            True,
        ),
        # store.id is unique: a visit meets one store.
        (
            "SELECT s.name, COUNT(*) FROM store AS s JOIN visit AS v ON s.id = v.store_id "
            "GROUP BY s.name",
            False,
        ),
        ("SELECT COUNT(DISTINCT s.id) FROM store AS s JOIN visit AS v ON s.city = v.city", False),
        ("SELECT s.name FROM store AS s JOIN visit AS v ON s.city = v.city", False),  # no total
    ],
)
def test_an_aggregate_over_a_join_of_two_repeated_columns_warns(
    runner: ask_whatif.Runner, sql: str, fans: bool
) -> None:
    record = _record([sql], "a", [False], type_mismatch=0.0)
    assert ask_whatif.fan_out_warning(record, runner) is fans
    assert record["signals"]["type_mismatch"] == (1.0 if fans else 0.0)


def test_an_unknown_change_is_refused() -> None:
    with pytest.raises(InvalidInput, match="merge-in-order"):
        ask_whatif.what_if([], "guess", lambda record: None)


QUESTIONS = {  # question -> (gold, the greedy reply and the sampled ones)
    "Which two products cost the most?": (TOP_TWO, [TOP_TWO, TOP_TWO_WIDE, TOP_TWO_WIDE]),
    "How many products cost over 4?": (
        "SELECT COUNT(*) FROM product WHERE price > 4",
        ["SELECT COUNT(*) FROM product WHERE price > 400"] * 3,
    ),
    "What do products cost on average?": (
        "SELECT AVG(price) FROM product",
        ["SELECT AVG(price) FROM product"] * 3,
    ),
}


def test_bench_what_if_on_a_run_bench_ask_wrote(tmp_path: Path) -> None:
    data = tmp_path / "data"
    folder = data / "spider" / "databases" / "shop"
    folder.mkdir(parents=True)
    conn = sqlite3.connect(folder / "shop.sqlite")
    conn.executescript(SHOP)
    conn.close()
    (data / "spider" / "dev.json").write_text(
        json.dumps(
            [{"db_id": "shop", "question": q, "query": g} for q, (g, _) in QUESTIONS.items()]
        )
    )

    def reply(request: dict[str, Any]) -> list[str]:
        user = request["messages"][-1]["content"]
        for question, (_, replies) in QUESTIONS.items():
            if f"Question: {question}" in user:
                return replies[:1] if request.get("temperature", 0) == 0 else replies[1:]
        raise AssertionError(user)

    run = tmp_path / "run.jsonl"
    common = [sys.executable, "-m", "honestsql", "bench"]
    with ChatServer(reply) as server:
        asked = subprocess.run(
            [*common, "ask", "--suite", "spider", "--data", str(data), "--llm", "openai"]
            + ["--base-url", server.base_url, "--model", "scripted", "--candidates", "3"]
            + ["--run", str(run), "--json"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert asked.returncode == 0, asked.stderr
    written = run.read_bytes()

    def what_if(change: str, *extra: str) -> dict[str, Any]:
        proc = subprocess.run(
            [*common, "what-if", str(run), "--change", change, "--data", str(data)]
            + ["--suite", "spider", "--json", *extra],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    records = {r["id"]: r for r in bench.load_run(run)[1]}
    top_two = next(i for i, r in records.items() if r["candidates"][0]["sql"] == TOP_TWO)
    zero = next(i for i, r in records.items() if "400" in r["candidates"][0]["sql"])
    changed = tmp_path / "merged.jsonl"
    merged = what_if("merge-in-order", "--write", str(changed))
    assert merged["touched_ids"] == [top_two] and merged["questions"] == 3
    # The run as changed is a run file of its own: its header says how agreement was counted
    # (a calibrator fitted on it decides so), its records hold the changed signals.
    header, rewritten = bench.load_run(changed)
    assert header["agreement"] == "merge-in-order" and header["what_if"] == "merge-in-order"
    assert header["model"] == bench.load_run(run)[0]["model"]
    again = {r["id"]: r for r in rewritten}
    assert again[top_two]["signals"]["top_share"] == 1.0
    assert records[top_two]["signals"]["top_share"] < 1.0
    # Its chosen queries changed but its decisions are the run's own: no `as_run` to report.
    rewritten_report = subprocess.run(
        [*common, "ask", "--run", str(changed), "--report-only", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert rewritten_report.returncode == 0, rewritten_report.stderr
    assert json.loads(rewritten_report.stdout)["as_run"] is None
    # The names alone are the gold; shown with their price, the answer is judged wrong.
    assert merged["touched_right_before"] == 0 and merged["touched_right_after"] == 0
    before = what_if("old-empty")
    assert before["touched_ids"] == [zero]
    assert set(before["as_run"]) == set(ask_whatif.FIGURES)
    report = subprocess.run(
        [*common, "ask", "--run", str(run), "--report-only", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(report.stdout)["answered_right"] == before["as_run"]["answered_right"]
    assert run.read_bytes() == written  # read, never written
    refused = subprocess.run(
        [*common, "what-if", str(run), "--change", "guess", "--data", str(data), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0 and "merge-in-order" in refused.stdout + refused.stderr


@pytest.mark.parametrize(
    ("sql", "bare"),
    [
        ("SELECT name, MAX(price) FROM product", True),  # SQLite: one arbitrary row
        (
            "SELECT store.name, COUNT(visit.city) FROM store JOIN visit ON visit.store_id = store.id",
            True,
        ),
        ("SELECT name, MAX(price) FROM product GROUP BY name", False),
        ("SELECT MAX(price) - MIN(price) FROM product", False),
        ("SELECT SUM(CASE WHEN price > 3 THEN price END) FROM product", False),
        ("SELECT name, RANK() OVER (ORDER BY price) FROM product", False),  # a window
        ("SELECT name FROM product WHERE price = (SELECT MAX(price) FROM product)", False),
        ("SELECT name, (SELECT COUNT(*) FROM store) FROM product", False),
    ],
)
def test_a_column_beside_an_aggregate_without_group_by(
    runner: ask_whatif.Runner, sql: str, bare: bool
) -> None:
    assert ask_whatif.bare_column(sql, "sqlite") is bare
    record = _record([sql], "a", [False], type_mismatch=0.0)
    assert ask_whatif.bare_column_warning(record, runner) is bare
    assert record["signals"]["type_mismatch"] == (1.0 if bare else 0.0)


@pytest.mark.parametrize(
    ("sql", "leaf"),
    [
        # visit is read only where it is joined: it keeps stores with visits and repeats them.
        (
            "SELECT s.name FROM store AS s JOIN visit AS v ON s.id = v.store_id WHERE s.city = 'Oslo'",
            True,
        ),
        ("SELECT S.name FROM store AS s JOIN visit AS V ON s.id = v.store_id", True),  # any case
        (
            "SELECT s.name FROM store AS s JOIN visit AS v ON s.id = v.store_id WHERE v.day = 1",
            False,
        ),
        ("SELECT COUNT(*) FROM store AS s JOIN visit AS v ON s.id = v.store_id", False),  # rows
        ("SELECT name FROM store AS s JOIN visit AS v ON s.id = v.store_id", False),  # whose name?
        # A table read by a correlated subquery is not idle.
        (
            "SELECT s.name FROM store AS s JOIN visit AS v ON s.id = v.store_id "
            "WHERE EXISTS (SELECT 1 FROM store AS t WHERE t.city = v.city)",
            False,
        ),
        ("SELECT s.name FROM store AS s", False),
    ],
)
def test_a_table_joined_for_nothing_warns(runner: ask_whatif.Runner, sql: str, leaf: bool) -> None:
    assert ask_whatif.leaf_join(sql, "sqlite") is leaf
    record = _record([sql], "a", [False], type_mismatch=0.0)
    assert ask_whatif.leaf_join_warning(record, runner) is leaf
    assert record["signals"]["type_mismatch"] == (1.0 if leaf else 0.0)
