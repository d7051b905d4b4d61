"""The multilingual suite (issue 29): its questions, and its figures per language beside
English, through ``bench ask`` with a scripted model."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from honestsql import demo
from honestsql.benchmarks import ask as bench
from honestsql.benchmarks import ask_figures, multilingual
from honestsql.conversation import ENGLISH
from honestsql.pipeline import Settings

from .scripted_backend import ScriptedBackend


def test_every_question_in_six_languages_with_a_gold_query_that_answers() -> None:
    data = multilingual.questions()
    assert data["languages"] == ["en", "de", "fr", "es", "zh", "ja"]
    assert len(data["questions"]) >= 40
    assert {q["db"] for q in data["questions"]} == {"demo", "singer", "flight_2"}
    shop = sqlite3.connect(demo.ensure())
    for q in data["questions"]:
        assert all(q[language].strip() for language in data["languages"])
        assert len({q[language] for language in data["languages"]}) == 6  # really translated
        if q["db"] == "demo":
            for sql in (q["sql"], *q.get("alternatives", [])):
                assert shop.execute(sql).fetchall(), sql


def _spider(root: Path) -> Path:
    """Small stand-ins for Spider's singer and flight_2, enough for the gold queries."""
    tables = {
        "singer": [
            "CREATE TABLE singer (Singer_ID int PRIMARY KEY, Name text, Birth_Year real, "
            "Net_Worth_Millions real, Citizenship text)",
            "INSERT INTO singer VALUES (1, 'Ada', 1940, 30, 'France'), (2, 'Bo', 1950, 20, 'Chile')",
            "CREATE TABLE song (Song_ID int PRIMARY KEY, Title text, Singer_ID int, Sales real, "
            "Highest_Position real)",
            "INSERT INTO song VALUES (1, 'Hey', 1, 100, 1), (2, 'Ho', 2, 50, 3), (3, 'Hi', 1, 7, 9)",
        ],
        "flight_2": [
            "CREATE TABLE airlines (uid INTEGER PRIMARY KEY, Airline TEXT, Abbreviation TEXT, "
            "Country TEXT)",
            "INSERT INTO airlines VALUES (1, 'JetBlue Airways', 'JetBlue', 'USA'), "
            "(2, 'Air Canada', 'AC', 'Canada')",
            "CREATE TABLE airports (City TEXT, AirportCode TEXT PRIMARY KEY, AirportName TEXT, "
            "Country TEXT, CountryAbbrev TEXT)",
            "INSERT INTO airports VALUES ('Aberdeen', 'APG', 'Phillips', 'United States', 'US')",
            "CREATE TABLE flights (Airline INTEGER, FlightNo INTEGER, SourceAirport TEXT, "
            "DestAirport TEXT, PRIMARY KEY (Airline, FlightNo))",
            "INSERT INTO flights VALUES (1, 28, 'APG', 'APG'), (2, 29, 'APG', 'APG')",
        ],
    }
    for name, statements in tables.items():
        folder = root / "spider" / "databases" / name
        folder.mkdir(parents=True)
        with sqlite3.connect(folder / f"{name}.sqlite") as con:
            for statement in statements:
                con.execute(statement)
    return root


def test_figures_per_language_beside_english(tmp_path: Path) -> None:
    """A scripted model that reads German in English rightly and French wrongly, and answers
    the English with the gold query: the figures say so per language (the confidence
    cross-validated by database, as every bench ask figure)."""
    assert multilingual.load(None).locate("singer") is None  # Spider's come from the data folder
    dataset = multilingual.load(_spider(tmp_path / "data"))
    gold = {e.question: e.gold[0] for e in dataset.examples if e.gold}
    language = {e.question: e.category for e in dataset.examples}
    by_id = {e.id: e.question for e in dataset.examples}
    english = {e.question: by_id[e.id.rsplit("-", 1)[0] + "-en"] for e in dataset.examples}

    def reply(request):  # type: ignore[no-untyped-def]
        asked = request.messages[-1]["content"].rsplit("Question: ", 1)[-1].split("\n")[0]
        if request.messages[0]["content"] == ENGLISH:  # restating a question in English
            return [("Misread: " if language[asked] == "fr" else "") + english[asked]]
        if asked.startswith("Misread: "):
            return ["SELECT COUNT(*) FROM categories WHERE id = 1"] * request.n
        if language.get(asked) == "en":
            return [gold[asked]] * request.n
        return ["ABSTAIN: no idea"] * request.n

    items, missing = bench.plan({"multilingual": dataset})
    assert missing == []
    chosen = [i.example for i in items if i.example.category in ("en", "de", "fr")]
    subset = {"multilingual": type(dataset)(dataset.name, dataset.dialect, chosen, dataset.locate)}
    records = bench.run(
        subset,
        ScriptedBackend(reply),
        run_path=tmp_path / "run.jsonl",
        settings=Settings(candidates=2, calibrated=False),
        target=0.5,
    )
    figures = ask_figures.summarize(records, model="scripted", target=0.5)
    languages = figures["languages"]
    assert set(languages) == {"en", "de", "fr"} and list(languages)[0] == "en"
    assert languages["en"]["answered_right"] > 0.5
    assert languages["de"]["right_vs_english"] >= 0.8  # German as well answered as English
    assert languages["fr"]["answered_right"] == 0 and languages["fr"]["answered_wrong"] > 0.5
    assert languages["en"]["tokens_vs_english"] == 1.0
    # As the run decided (no calibrator here: the share of agreeing candidates against 0.5).
    assert languages["en"]["shipped_answered_right"] == languages["en"]["answered_right"]
    assert languages["fr"]["shipped_answered_right"] == 0
    assert languages["fr"]["shipped_answered_wrong"] > 0.5
    assert languages["de"]["tokens_vs_english"] > 1.0  # the cost of reading it in English
    assert languages["de"]["unrelated_where_english_is_not"] == []
    # Each record keeps how a question in another language was read.
    read = {r["id"].split(":", 1)[1]: r.get("reading") for r in records}
    assert all(read[e.id] == english[e.question] for e in chosen if e.category == "de")
    assert not any(read[e.id] for e in chosen if e.category == "en")
