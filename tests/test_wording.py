"""Answers worded in the question's language (issue 29): the language told apart, every message
in every language with the same blanks, the answer sentence from the result only, and a German
question answered and refused in German through the pipeline, the CLI and the HTTP API."""

from __future__ import annotations

import string
from typing import Any

import pytest

import honestsql
from honestsql import wording
from honestsql.benchmarks import multilingual
from honestsql.conversation import ENGLISH

from .chat_server import ChatServer
from .test_first_hour import GOOD, run

GERMAN = "Wie viele Kunden wohnen in Deutschland?"


def test_the_language_of_every_question_of_the_multilingual_suite() -> None:
    data = multilingual.questions()
    wrong = [
        (language, q[language])
        for q in data["questions"]
        for language in data["languages"]
        if wording.language_of(q[language]) != language
    ]
    assert not wrong
    assert wording.language_of("Quanti ordini sono stati annullati?") == "it"
    assert wording.language_of("Quantos pedidos foram cancelados?") == "pt"
    # Short English questions, and text it cannot place, stay English.
    for english in ("List singers", "Count airlines", "Top 5 products by revenue", "42?", ""):
        assert wording.language_of(english) == "en", english


def _blanks(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_in_every_language_with_the_blanks_of_the_english() -> None:
    messages = wording._messages()
    assert {"off_topic", "low_agreement", "one_value", "chance", "next"} <= set(messages)
    for key, wordings in messages.items():
        assert set(wordings) == set(wording.LANGUAGES), key
        for language, text in wordings.items():
            assert text.strip() and _blanks(text) == _blanks(wordings["en"]), (key, language)
        others = [text for language, text in wordings.items() if language != "en"]
        assert all(text != wordings["en"] for text in others), key  # really translated


def test_the_sentence_says_only_what_the_result_holds() -> None:
    one = [{"name": "n", "type": "INTEGER"}]
    pair = [{"name": "city", "type": "TEXT"}, {"name": "people", "type": "INTEGER"}]
    assert wording.sentence(one, [[12]], False) == "The answer is 12."
    assert wording.sentence(one, [[12]], False, "de") == "Die Antwort ist 12."
    assert wording.sentence(one, [[None]], False, "ja") == "答えは NULL です。"
    assert wording.sentence(one, [], False, "fr") == "Aucune ligne ne correspond."
    assert wording.sentence(pair, [["Bonn", 3]], False, "es") == "Una fila: city Bonn, people 3."
    rows = [["a", 1], ["b", 2], ["c", 3], ["d", 4]]
    assert wording.sentence(pair, rows, False) == "4 rows; the first: a, b, c, …."
    assert wording.sentence(pair, rows, True, "zh") == "至少 4 行；前几行：a, b, c, …。"
    assert wording.verdict(True, 0.93, "de") == "Sehr wahrscheinlich richtig (93% Konfidenz)."
    assert wording.verdict(False, 0.46) == "I don't know: confidence 46% is not enough."
    assert wording.chance(0.46, 0.75, "fr").endswith("au-dessus de 75%.")
    # A language it has no words for falls back to English.
    assert wording.say("no_rows", "nl") == "No row matches."


def _pipeline(db: Any, server: ChatServer, candidates: int = 2) -> Any:
    from honestsql.llm.openai_compat import OpenAICompatible
    from honestsql.pipeline import Pipeline, Settings

    backend = OpenAICompatible(base_url=server.base_url, model="scripted", max_retries=0)
    return Pipeline(db, backend, Settings(candidates=candidates), calibrator=None)


def test_a_german_question_is_answered_and_refused_in_german(test_databases: Any) -> None:
    with honestsql.connect(test_databases["sqlite"].url) as db:
        with ChatServer(lambda request: [GOOD] * request.get("n", 1)) as server:
            answered = _pipeline(db, server).ask(GERMAN)
            english = _pipeline(db, server).ask("How many customers live in Germany?")
        assert answered.decision == "answer"
        value = answered.rows[0][0]
        assert answered.prose == {
            "language": "de",
            "verdict": "Sehr wahrscheinlich richtig (100% Konfidenz).",
            "sentence": f"Die Antwort ist {value}.",
            "chance": "Geschätzte Wahrscheinlichkeit, dass dies richtig ist: 100%; "
            "geantwortet wird erst über 75%.",
        }
        assert answered.notes[0] == "alle 2 geschriebenen Abfragen liefern dieses Ergebnis"
        assert english.prose is not None and english.prose["language"] == "en"
        assert english.prose["sentence"] == f"The answer is {value}."
        assert english.notes[0] == "all 2 queries it wrote give this result"

        declined = "ABSTAIN: es gibt keine Spalte für Wohnorte"
        with ChatServer(lambda request: [declined] * request.get("n", 1)) as server:
            refused = _pipeline(db, server).ask(GERMAN)
        assert refused.decision == "abstain" and refused.prose is not None
        reason = refused.reasons[0]
        assert reason["code"] == "unanswerable_with_schema"  # codes stay as they are
        assert reason["message"].startswith("Laut Modell enthält diese Datenbank nicht")
        assert "es gibt keine Spalte für Wohnorte" in reason["message"]
        assert reason["next_steps"][0].startswith("Fragen Sie mit den Wörtern")
        assert refused.prose["verdict"].startswith("Ich weiß es nicht")
        assert refused.prose["sentence"] == ""

        bad = "SELECT nothing FROM nowhere"
        with ChatServer(lambda request: [bad] * request.get("n", 1)) as server:
            failed = _pipeline(db, server, candidates=1).ask("顧客は何人いますか？")
        assert failed.reasons[0]["code"] == "all_candidates_failed"
        assert failed.reasons[0]["message"].startswith("作成したクエリはすべて失敗しました")


def _reply(request: dict[str, Any]) -> list[str]:
    if request["messages"][0]["content"] == ENGLISH:  # restating the German question
        return ["How many customers live in Germany?"]
    return [GOOD] * request.get("n", 1)


def _ask(server: ChatServer, db: str, *args: str) -> Any:
    """``honestsql ask --db DB ARGS`` through the CLI, against the scripted ``server``."""
    return run(
        "ask",
        "--db",
        db,
        "--no-audit",
        *args,
        HONESTSQL_BASE_URL=server.base_url,
        HONESTSQL_MODEL="scripted",
    )


@pytest.mark.parametrize(
    ("question", "said"),
    [
        (GERMAN, "Die Antwort ist"),
        ("How many customers live in Germany?", "The answer is"),
    ],
)
def test_the_cli_words_its_answer_in_the_question_language(
    test_databases: Any, question: str, said: str
) -> None:
    with ChatServer(_reply) as server:
        proc = _ask(server, test_databases["sqlite"].url, question)
    assert proc.returncode == 0, proc.stderr
    assert said in proc.stdout
    assert ("Beantwortet mit Konfidenz" in proc.stdout) == (question == GERMAN)
    # The German question was read in English once, that reading answered, and it says so.
    read = "Auf Englisch gelesen als: How many customers live in Germany?"
    assert (read in proc.stdout) == (question == GERMAN)
    restated = [r for r in server.requests if r["messages"][0]["content"] == ENGLISH]
    assert len(restated) == (question == GERMAN)
    if restated:
        assert GERMAN in restated[0]["messages"][-1]["content"]
        # The database's table names are offered, so that the reading uses its words.
        offered = restated[0]["messages"][-1]["content"].split("Question:")[0]
        assert offered.startswith("The database's words:") and "customers" in offered
        asked = [r for r in server.requests if r not in restated]
        assert all("live in Germany" in r["messages"][-1]["content"] for r in asked)


def test_the_cli_shows_what_the_candidates_found_in_the_question_language(
    test_databases: Any,
) -> None:
    with ChatServer(_reply) as server:
        db = test_databases["sqlite"].url
        proc = _ask(server, db, "--show-candidates", "--target", "0.99", GERMAN)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Ich weiß es nicht" in proc.stdout
    assert "Was die Abfragen gefunden haben" in proc.stdout
    assert "(ungeprüft: honestsql bürgt nicht dafür)" in proc.stdout
    assert "5 von 5 Abfragen:" in proc.stdout
    assert "Ist eine davon richtig, speichern Sie sie als geprüftes Beispiel:" in proc.stdout
    assert "What the candidates found" not in proc.stdout


def test_a_loose_english_reading_is_not_refused_as_unrelated(test_databases: Any) -> None:
    """The relevance gate judges questions asked in English: a reading that drifted from the
    database's words ("¿Qué cantante tiene el mayor patrimonio?" read as "Who has the largest
    fortune?") still reaches the model, as the English question itself would not."""
    from honestsql.service import Service

    def reply(request: dict[str, Any]) -> list[str]:
        if request["messages"][0]["content"] == ENGLISH:
            return ["Who has the largest fortune?"]
        return [GOOD] * request.get("n", 1)

    with honestsql.connect(test_databases["sqlite"].url) as db, ChatServer(reply) as server:
        from honestsql.llm.openai_compat import OpenAICompatible

        backend = OpenAICompatible(base_url=server.base_url, model="scripted", max_retries=0)
        service = Service(db, backend=backend, audit=None)
        spanish = service.ask("¿Qué cliente tiene la mayor fortuna?", audited=False)
        english = service.ask("Who has the largest fortune?", audited=False)
    assert spanish.reading == "Who has the largest fortune?" and spanish.candidates
    assert spanish.prose is not None and spanish.prose["language"] == "es"
    assert english.reasons[0]["code"] == "not_about_this_database" and not english.candidates
