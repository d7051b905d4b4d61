"""Signals beyond agreement (``honestsql.clues``): clause agreement and the result's shape, and
their way into the recorded signals, live (``decide``) and for old runs (``reclue``)."""

from __future__ import annotations

import sqlite3
from math import log as ln
from pathlib import Path

import pytest

import honestsql
from honestsql.candidates import Candidate
from honestsql.clues import (
    CLUES,
    asked_unknown,
    clause_agreement,
    clues,
    contained_share,
    expected_rows,
    named_unread,
    result_shape,
)
from honestsql.decide import decide
from honestsql.evaluation.records import reclue
from honestsql.llm import Likelihood


@pytest.mark.parametrize(
    ("question", "rows"),
    [
        ("How many orders were cancelled?", 1),
        ("how much did Ada spend?", 1),
        ("What is the average price of a product?", 1),
        ("Count the singers.", 1),
        ("How many orders does each customer have?", None),
        ("How many singers are there per country?", None),
        ("List the top 3 customers by revenue.", 3),
        ("Which are the five largest orders?", 5),
        ("Show the 2 oldest singers.", 2),
        ("List all customers in Germany.", None),
        ("Which customers ordered in 2024?", None),
    ],
)
def test_the_rows_a_question_asks_for(question: str, rows: int | None) -> None:
    assert expected_rows(question) == rows


def test_clauses_agree_whatever_the_aliases_and_order() -> None:
    sqls = [
        "SELECT COUNT(*) FROM orders WHERE status = 'cancelled'",
        "SELECT count(o.id) FROM orders AS o WHERE o.status = 'cancelled'",
        "SELECT COUNT(*) FROM orders JOIN customers ON customers.id = orders.customer_id "
        "WHERE customers.country = 'DE'",
        None,  # a candidate that did not run
        "SELECT status, COUNT(*) FROM orders GROUP BY status",
    ]
    agree = clause_agreement(sqls, 0)
    assert agree["tables_agree"] == pytest.approx(3 / 5)  # 0, 1 and 4 read only orders
    assert agree["filters_agree"] == pytest.approx(2 / 5)  # 0 and 1 filter on status
    assert agree["grouping_agree"] == pytest.approx(3 / 5)  # 0, 1, 2 group by nothing
    assert agree["select_agree"] == pytest.approx(3 / 5)  # one COUNT: 0, 1, 2
    assert clause_agreement(sqls, None) == dict.fromkeys(CLUES[:4], 0.0)
    assert clause_agreement(["SELECT FROM WHERE ((("], 0) == dict.fromkeys(CLUES[:4], 0.0)


def test_the_result_s_shape_against_the_question() -> None:
    many = result_shape("How many orders were cancelled?", [(1,), (2,)])
    assert many["many_rows_for_one"] == 1.0 and many["count_mismatch"] == 0.0
    assert result_shape("How many orders were cancelled?", [(12,)])["many_rows_for_one"] == 0.0
    top = result_shape("List the top 3 customers.", [("a",), ("b",)])
    assert top["count_mismatch"] == 1.0 and top["many_rows_for_one"] == 0.0
    assert result_shape("List the top 2 customers.", [("a",), ("b",)])["count_mismatch"] == 0.0
    fanned = result_shape("List the customers.", [("a", 1), ("a", 1), ("a", 1), ("b", None)])
    assert fanned["repeated_rows"] == pytest.approx(2 / 4)
    assert fanned["null_share"] == pytest.approx(1 / 8)
    assert result_shape("Anything", None) == dict.fromkeys(CLUES[4:9], 0.0)
    assert result_shape("List the customers.", [])["repeated_rows"] == 0.0


def test_a_value_for_each_group_without_its_group_is_flat() -> None:
    def flat(question: str, rows: list[tuple[object, ...]]) -> float:
        return result_shape(question, rows)["per_group_flat"]

    per_city = "How many restaurants are there in each city?"
    assert flat(per_city, [("Berlin", 3), ("Paris", 5)]) == 0.0
    assert flat(per_city, [(3,), (5,)]) == 1.0  # counts, but of which city?
    assert flat(per_city, [(8,)]) == 1.0  # one count for all cities
    assert flat(per_city, []) == 1.0
    assert flat("What is the average cost per airport pair?", [(12.5,)]) == 1.0
    assert flat("How many restaurants are there?", [(8,)]) == 0.0  # one value was asked for
    assert flat("List the cities.", [("Berlin",), ("Paris",)]) == 0.0


def test_a_result_with_more_columns_holds_the_chosen_one() -> None:
    names = [("Robot Kit",), ("E-Reader",)]
    with_revenue = [("E-Reader", 3649.0), ("Robot Kit", 4477.5)]  # other order, one more column
    others = [("Robot Kit",), ("Lamp",)]
    results = [names, with_revenue, others, None, names]
    assert contained_share(results, 0) == pytest.approx(3 / 5)
    assert contained_share(results, 1) == pytest.approx(1 / 5)  # names alone lack the revenue
    assert contained_share(results, None) == 0.0 and contained_share(results, 3) == 0.0
    assert contained_share([[(1,), (1,)], [(1,)]], 0) == pytest.approx(1 / 2)  # row counts differ


def _shop(tmp_path: Path) -> str:
    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT)")
        con.executemany(
            "INSERT INTO orders VALUES (?, ?)",
            [(1, "cancelled"), (2, "shipped"), (3, "cancelled")],
        )
    return str(path)


def test_decide_records_the_clues_and_the_likelihood(tmp_path: Path) -> None:
    db = honestsql.connect(_shop(tmp_path))
    sqls = [
        "SELECT status FROM orders WHERE status = 'cancelled'",
        "SELECT status FROM orders WHERE status = 'cancelled'",
        "SELECT COUNT(*) FROM orders WHERE status = 'cancelled'",
    ]
    candidates = []
    for i, sql in enumerate(sqls):
        result = db.execute(sql)
        candidates.append(
            Candidate(
                text=sql,
                sql=sql,
                status="ok",
                result=result,
                result_hash=result.key,
                likelihood=Likelihood(-0.1 * (i + 1), -1.0 * (i + 1)),
            )
        )
    decision = decide(
        candidates, target=0.5, relevance=1.0, question="How many orders were cancelled?"
    )
    seen = decision.signals
    assert seen["many_rows_for_one"] == 1.0  # two rows where one count was asked
    assert seen["repeated_rows"] == pytest.approx(1 / 2)
    assert seen["tables_agree"] == 1.0 and seen["select_agree"] == pytest.approx(2 / 3)
    # The agreeing group (candidates 0 and 1): mean probability, and its most likely least token.
    assert seen["likelihood"] == pytest.approx((2.718281828**-0.1 + 2.718281828**-0.2) / 2)
    assert seen["least_likely"] == pytest.approx(2.718281828**-1.0)
    without = decide(
        [Candidate(text=c.text, sql=c.sql, status="ok", result=c.result,
                   result_hash=c.result_hash) for c in candidates],
        target=0.5,
        relevance=1.0,
    )  # fmt: skip
    assert "likelihood" not in without.signals  # a backend that cannot read probabilities


def test_an_old_run_record_gets_the_clues_by_running_the_chosen_query_again(
    tmp_path: Path,
) -> None:
    db = honestsql.connect(_shop(tmp_path))
    record = {
        "chosen": 1,
        "candidates": [
            {"sql": "SELECT id FROM orders", "status": "ok"},
            {"sql": "SELECT status FROM orders", "status": "ok"},
            {"sql": "SELECT nope FROM orders", "status": "rejected"},
        ],
    }
    got = reclue(record, db, "How many orders are there?")
    live = clues(
        "How many orders are there?",
        ["SELECT id FROM orders", "SELECT status FROM orders", None],
        1,
        [db.execute(sql).rows for sql in ("SELECT id FROM orders", "SELECT status FROM orders")]
        + [None],
        db.sql_dialect,
    )
    columns = sum(len(t.columns) for t in db.catalog().tables)  # the schema's size, as live
    assert got == {
        **live,
        "empty": 0.0,
        "type_mismatch": 0.0,
        "schema_columns": ln(columns) / 5,
        "named_unread": 0.0,  # "orders" names the table, not a column left out
        "asked_unknown": 0.0,  # it asks for no attribute
    }
    assert got["contained_share"] == pytest.approx(1 / 3)
    assert got["many_rows_for_one"] == 1.0 and got["repeated_rows"] == pytest.approx(1 / 3)
    assert reclue(record, None, "How many orders are there?")["many_rows_for_one"] == 0.0
    # A question a rule abstained on has no chosen query in its record; live, its clues were
    # read on the leading one (the shortest of the largest agreeing group), and so again.
    agreeing = [{**c, "result_hash": "same"} for c in record["candidates"][:2]]
    ruled = {"chosen": None, "candidates": [*agreeing, record["candidates"][2]]}
    assert reclue(ruled, db, "How many orders are there?") == reclue(
        {**ruled, "chosen": 0}, db, "How many orders are there?"
    )
    # The verifier's warnings on the chosen query, as the pipeline reads them now.
    record["candidates"][1]["sql"] = "SELECT AVG(id) FROM orders"
    assert reclue(record, db, "What is the average customer?")["type_mismatch"] == 1.0
    # A count over no rows holds nothing, as the pipeline reads a result now.
    record["candidates"][1]["sql"] = "SELECT COUNT(*) FROM orders WHERE status = 'lost'"
    assert reclue(record, db, "How many orders were lost?")["empty"] == 1.0


def _states(tmp_path: Path) -> str:
    path = tmp_path / "geo.sqlite"
    with sqlite3.connect(path) as con:
        con.execute(
            "CREATE TABLE state (state_name TEXT, population INT, density REAL, area_sq_km REAL)"
        )
        con.execute("CREATE TABLE highlow (state_name TEXT, highest_point TEXT)")
        con.execute("CREATE TABLE mountain (mountain_name TEXT, mountain_altitude INT)")
    return str(path)


@pytest.mark.parametrize(
    ("question", "sql", "unread"),
    [
        # "density" names state.density; the query reads population instead (rule 9's example).
        (
            "What is the highest point in each state and what is the population density?",
            "SELECT h.highest_point, s.population FROM highlow AS h JOIN state AS s "
            "ON h.state_name = s.state_name",
            1.0,
        ),
        (
            "What is the highest point in each state and what is its density?",
            "SELECT h.highest_point, s.density FROM highlow AS h JOIN state AS s "
            "ON h.state_name = s.state_name",
            0.0,
        ),
        # Each word on its own: "population density" read as density alone leaves out the
        # column "population" names (a limit of reading words, kept as rule 9 wrote it).
        (
            "What is the population density of each state?",
            "SELECT state_name, density FROM state",
            1.0,
        ),
        # A named column read anywhere counts: in ORDER BY, in a filter, through any alias.
        (
            "Which states have the largest areas?",
            "SELECT state_name FROM state ORDER BY area_sq_km DESC",
            0.0,
        ),
        (
            "Which states have the largest areas?",
            "SELECT state_name FROM state ORDER BY population DESC",
            1.0,
        ),
        # Words of the table's own name ("mountain", "state") and stop words ("name") name no
        # column; neither does a word of a table the query does not read.
        ("List the mountains by name.", "SELECT mountain_altitude FROM mountain", 0.0),
        ("Which states border the highest point?", "SELECT state_name FROM state", 0.0),
        # "altitude" names mountain_altitude, left out; a query over every column leaves none out.
        ("Which mountain has the highest altitude?", "SELECT mountain_name FROM mountain", 1.0),
        ("Which mountain has the highest altitude?", "SELECT * FROM mountain", 0.0),
        ("Which mountain has the highest altitude?", "SELECT COUNT(*) FROM mountain", 1.0),
        # No query, or one that does not parse: nothing is said.
        ("Which mountain has the highest altitude?", None, 0.0),
        ("Which mountain has the highest altitude?", "SELECT FROM WHERE (", 0.0),
    ],
)
def test_a_column_the_question_names_and_the_query_never_reads(
    tmp_path: Path, question: str, sql: str | None, unread: float
) -> None:
    db = honestsql.connect(_states(tmp_path))
    assert named_unread(question, sql, db.catalog(), db.sql_dialect) == unread


@pytest.mark.parametrize(
    ("signal", "question", "sql"),
    [
        (
            "named_unread",
            "What is the population density of each state?",
            "SELECT population FROM state",
        ),
        (
            "asked_unknown",
            "What is the phone number of each state?",
            "SELECT state_name FROM state",
        ),
    ],
)
def test_decide_and_an_old_record_read_the_schema_signals_alike(
    tmp_path: Path, signal: str, question: str, sql: str
) -> None:
    """The pipeline records each signal read from the schema (given the catalog), and a run
    recorded before it gets the same from ``reclue``."""
    db = honestsql.connect(_states(tmp_path))
    result = db.execute(sql)
    chosen = Candidate(text=sql, sql=sql, status="ok", result=result, result_hash=result.key)
    live = decide([chosen], target=0.5, relevance=1.0, question=question, catalog=db.catalog())
    assert live.signals[signal] == 1.0
    assert signal not in decide([chosen], target=0.5, relevance=1.0).signals
    record = {"chosen": 0, "candidates": [{"sql": sql, "status": "ok"}]}
    assert reclue(record, db, question)[signal] == 1.0
    assert reclue(record, db, "How many states are there?")[signal] == 0.0


@pytest.mark.parametrize(
    ("question", "unknown"),
    [
        # sql-eval's cat_c kind (rule 18): an attribute no name of the schema is about.
        ("Which mountain has the highest difficulty level for climbing?", 1.0),
        ("What is the average volume of the lakes in each state?", 1.0),
        ("What is the phone number of each state?", 1.0),
        # The same shapes over attributes it has: a name, its plural, a word of a longer name.
        ("Which mountain has the highest altitude?", 0.0),
        ("What is the population density of each state?", 0.0),
        ("Which states have the largest areas?", 0.0),
        # Generic words name no attribute; a question may ask for none at all.
        ("What is the number of states?", 0.0),
        ("What is the name of the tallest mountain?", 0.0),
        ("How many states are there?", 0.0),
        # A stem shared with a column ("rated", "rating"); a word found in the sample values.
        ("Which film has the highest rated reviews?", 0.0),
        ("What is the average fantasy score?", 0.0),
        ("What is the average budget of the films?", 1.0),
    ],
)
def test_an_attribute_the_question_asks_for_and_the_database_does_not_hold(
    tmp_path: Path, question: str, unknown: float
) -> None:
    path = Path(_states(tmp_path))
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE film (title TEXT, genre TEXT, rating REAL, length INT)")
        con.execute("INSERT INTO film VALUES ('Mort', 'fantasy', 4.5, 95)")
    db = honestsql.connect(str(path))
    assert asked_unknown(question, db.catalog()) == unknown


def test_a_tie_is_broken_by_the_model_s_likelihood_and_weighed_not_answered_blindly(
    tmp_path: Path,
) -> None:
    db = honestsql.connect(_shop(tmp_path))

    def ran(sql: str, mean: float | None) -> Candidate:
        result = db.execute(sql)
        likelihood = None if mean is None else Likelihood(mean, mean - 1)
        return Candidate(
            text=sql,
            sql=sql,
            status="ok",
            result=result,
            result_hash=result.key,
            likelihood=likelihood,
        )

    count = "SELECT COUNT(*) FROM orders WHERE status = 'cancelled'"
    total = "SELECT COUNT(*) FROM orders"
    weighed = decide(
        [ran(total, -0.9), ran(count, -0.1), ran(total, -0.8), ran(count, -0.2)],
        target=0.4,
        relevance=1.0,
    )
    assert weighed.chosen is not None and weighed.chosen.sql == count  # the likelier reading
    assert weighed.signals["margin"] == 0.0 and weighed.reasons == [] and weighed.answer
    blind = decide(
        [ran(total, None), ran(count, None), ran(total, None), ran(count, None)],
        target=0.4,
        relevance=1.0,
    )
    assert not blind.answer and blind.reasons[0].code == "ambiguous"


def test_a_table_joined_for_nothing_is_recorded_live_and_read_again_alike(tmp_path: Path) -> None:
    """``leaf_join`` (rule 13): the chosen query joins a table it reads nowhere but in the
    condition that joins it. The pipeline records it; ``reclue`` (``bench ask --rejudge``) and
    ``--ablation`` compute the same for a run recorded before it."""
    from honestsql.benchmarks import ask_ablation

    path = tmp_path / "music.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE singer (id INTEGER PRIMARY KEY, name TEXT, born INT)")
        con.execute("CREATE TABLE song (singer_id INT, title TEXT)")
        con.executemany("INSERT INTO singer VALUES (?, ?, ?)", [(1, "Ann", 1948), (2, "Bo", 1949)])
        con.executemany("INSERT INTO song VALUES (?, ?)", [(1, "a"), (1, "b")])
    db = honestsql.connect(str(path))
    question = "Which singers were born in 1948 or 1949?"
    idle = "SELECT s.name FROM singer AS s JOIN song AS t ON s.id = t.singer_id WHERE s.born < 1950"
    plain = "SELECT s.name FROM singer AS s WHERE s.born < 1950"
    for sql, expected in ((idle, 1.0), (plain, 0.0)):
        result = db.execute(sql)
        chosen = Candidate(text=sql, sql=sql, status="ok", result=result, result_hash=result.key)
        live = decide([chosen], target=0.5, relevance=1.0, question=question, catalog=db.catalog())
        assert live.signals["leaf_join"] == expected
        record = {"chosen": 0, "candidates": [{"sql": sql, "status": "ok"}]}
        assert reclue(record, db, question)["leaf_join"] == expected
        old = {
            "id": "q",
            "candidates": [{"sql": sql, "status": "ok"}],
            "chosen": 0,
            "signals": {"top_share": 1.0},  # recorded before the signal existed
        }
        again = ask_ablation.with_later_signals([old], lambda _: db, {"q": question})[0]
        assert again["signals"]["leaf_join"] == expected
