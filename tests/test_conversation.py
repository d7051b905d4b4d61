"""Follow-up questions: rewritten into standalone questions from the conversation, answered by the
normal pipeline, stored, listed and deleted; from the service, the CLI and the HTTP API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from honestsql.conversation import Conversations
from honestsql.errors import NotFound
from honestsql.llm import GenerationRequest
from honestsql.server import ServerConfig, create_app
from honestsql.service import Service
from honestsql.settings import Settings

from .chat_server import ChatServer
from .scripted_backend import ScriptedBackend

READINGS = {
    "and in France?": "How many customers live in France?",
    "only those older than 40?": "How many customers live in France and are older than 40?",
    "and what is dark matter?": "What is dark matter made of?",
}
SQL = {
    "How many customers live in Germany?": "SELECT COUNT(*) FROM customers WHERE country_code = 'DE'",
    "How many customers live in France?": "SELECT COUNT(*) FROM customers WHERE country_code = 'FR'",
    "How many customers live in France and are older than 40?": (
        "SELECT COUNT(*) FROM customers WHERE country_code = 'FR' AND age > 40"
    ),
    "How many customers live in Germany or France?": (
        "SELECT COUNT(*) FROM customers WHERE country_code IN ('DE', 'FR')"
    ),
}


def is_rewrite(messages: list[dict[str, str]]) -> bool:
    return messages[0]["content"].startswith("You rewrite the last question")


def conversational(messages: list[dict[str, str]], n: int) -> list[str]:
    """A scripted model: rewrites follow-ups from READINGS, answers questions from SQL."""
    last = messages[-1]["content"]
    if is_rewrite(messages):
        follow_up = last.rsplit("Follow-up: ", 1)[1].split("\n", 1)[0]
        return [READINGS.get(follow_up, follow_up)]
    question = last.rsplit("Question: ", 1)[-1].split("\n", 1)[0].strip()
    return [SQL.get(question, "ABSTAIN: not in the data")] * n


def backend() -> ScriptedBackend:
    return ScriptedBackend(lambda request: conversational(request.messages, request.n))


def test_follow_ups_are_read_in_the_light_of_the_conversation(
    test_databases: Any, tmp_path: Path
) -> None:
    model = backend()
    store = Conversations(tmp_path / "conversations.sqlite")
    with Service(
        test_databases["sqlite"].url,
        backend=model,
        settings=Settings(candidates=2, calibrated=False),
        conversations=store,
    ) as service:
        first = service.ask("How many customers live in Germany?")
        assert first.rows == [[2]] and first.conversation
        assert first.standalone_question == "How many customers live in Germany?"
        assert not any(is_rewrite(r.messages) for r in model.requests)  # nothing to rewrite yet
        second = service.ask("and in France?", conversation=first.conversation)
        rewrite = [r for r in model.requests if is_rewrite(r.messages)][0].messages[-1]["content"]
        # The model saw the earlier question, its SQL and the shape of its result.
        assert "Previous: How many customers live in Germany?" in rewrite
        assert SQL["How many customers live in Germany?"] in rewrite and "1 row(s)" in rewrite
        assert second.standalone_question == "How many customers live in France?"
        assert second.rows == [[1]] and second.conversation == first.conversation
        # The previous turn's SQL is offered to the pipeline as a hint.
        hint = model.requests[-1].messages[-1]["content"]
        assert "was answered with: SELECT COUNT(*)" in hint
        third = service.ask("only those older than 40?", conversation=first.conversation)
        assert third.rows == [[1]] and "older than 40" in (third.standalone_question or "")
        # The user edits the reading: taken as written, no rewrite asked.
        before = len(model.requests)
        fixed = service.ask(
            "only those older than 40?",
            conversation=first.conversation,
            standalone="How many customers live in Germany or France?",
        )
        assert fixed.rows == [[3]]
        assert not any(is_rewrite(r.messages) for r in model.requests[before:])
        # An abstention in a thread says what the follow-up was read as.
        lost = service.ask("and what is dark matter?", conversation=first.conversation)
        assert lost.decision == "abstain"
        assert "read as: 'What is dark matter made of?'" in lost.reasons[0]["message"]
    turns = store.turns(first.conversation)
    assert [t.question for t in turns] == [
        "How many customers live in Germany?",
        "and in France?",
        "only those older than 40?",
        "only those older than 40?",
        "and what is dark matter?",
    ]
    assert turns[1].standalone == "How many customers live in France?" and turns[1].columns
    assert store.list()[0]["turns"] == 5
    store.delete(first.conversation)
    assert store.list() == []
    with pytest.raises(NotFound):
        store.turns(first.conversation)


def test_chat_and_ask_follow_up_on_the_command_line(test_databases: Any) -> None:
    def reply(request: dict[str, Any]) -> list[str]:
        return conversational(request["messages"], max(1, request.get("n") or 1))

    url = test_databases["sqlite"].url
    with ChatServer(reply) as server:
        common = ["--db", url, "--base-url", server.base_url, "--model", "scripted"]
        run = subprocess.run(
            [sys.executable, "-m", "honestsql", "chat", *common, "--json"],
            input="How many customers live in Germany?\nand in France?\n",
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        answers = [json.loads(line) for line in run.stdout.splitlines()]
        assert [a["rows"] for a in answers] == [[[2]], [[1]]]
        assert answers[1]["standalone_question"] == "How many customers live in France?"
        conversation = answers[0]["conversation"]
        assert answers[1]["conversation"] == conversation
        ask = [sys.executable, "-m", "honestsql", "ask", "only those older than 40?", *common]
        run = subprocess.run(
            [*ask, "--follow-up", conversation], capture_output=True, text=True, timeout=120
        )
        assert run.returncode == 0, run.stderr
        assert "Read as:" in run.stdout and "older than 40" in run.stdout
        shown = subprocess.run(
            [sys.executable, "-m", "honestsql", "conversations", "show", conversation, "--json"],
            capture_output=True,
            text=True,
        )
        assert len(json.loads(shown.stdout)["turns"]) == 3
        missing = subprocess.run(
            [*ask, "--follow-up", "nope", "--json"], capture_output=True, text=True, timeout=60
        )
        assert missing.returncode == 1
        assert json.loads(missing.stdout)["error"]["kind"] == "not_found"


def test_conversations_over_http(test_databases: Any, tmp_path: Path) -> None:
    config = ServerConfig(
        {"shop": test_databases["sqlite"].url},
        backend_factory=backend,
        audit=False,
        memory_path=tmp_path / "memory.sqlite",
        conversations_path=tmp_path / "conversations.sqlite",
    )
    client = TestClient(create_app(config), base_url="http://localhost")
    first = client.post("/api/ask", json={"question": "How many customers live in Germany?"})
    conversation = first.json()["conversation"]
    second = client.post(
        "/api/ask", json={"question": "and in France?", "conversation": conversation}
    ).json()
    assert second["rows"] == [[1]] and second["standalone_question"].endswith("France?")
    listed = client.get("/api/conversations").json()["conversations"]
    assert listed[0]["id"] == conversation and listed[0]["turns"] == 2
    turns = client.get(f"/api/conversations/{conversation}").json()["turns"]
    assert [t["standalone"] for t in turns][1] == "How many customers live in France?"
    assert client.delete(f"/api/conversations/{conversation}").json()["ok"]
    gone = client.get(f"/api/conversations/{conversation}")
    assert gone.status_code == 404 and gone.json()["error"]["kind"] == "not_found"
    unknown = client.post("/api/ask", json={"question": "and?", "conversation": "nope"})
    assert unknown.status_code == 404


def test_generation_request_for_the_rewrite_is_plain() -> None:
    from honestsql.conversation import Turn, rewrite_messages

    history = [Turn(1, "q1", "q1", "abstain", None, [], 0)]
    messages = rewrite_messages(history, "and q2?")
    assert "Previous SQL: none (it was not answered)" in messages[-1]["content"]
    assert "Follow-up: and q2?" in messages[-1]["content"]
    assert GenerationRequest(messages).grammar is None


def test_a_follow_up_in_german_is_answered_in_german_whatever_the_rewrite(
    test_databases: Any, tmp_path: Path
) -> None:
    """The rewrite of "und in Frankreich?" comes back in English; the answer's words follow the
    language the follow-up was asked in."""
    READINGS["und wie viele in Frankreich?"] = "How many customers live in France?"
    try:
        with Service(
            test_databases["sqlite"].url,
            backend=backend(),
            settings=Settings(candidates=2, calibrated=False),
            conversations=Conversations(tmp_path / "conversations.sqlite"),
        ) as service:
            first = service.ask("How many customers live in Germany?")
            second = service.ask("und wie viele in Frankreich?", conversation=first.conversation)
    finally:
        del READINGS["und wie viele in Frankreich?"]
    assert first.prose is not None and first.prose["language"] == "en"
    assert second.standalone_question == "How many customers live in France?"
    assert second.prose is not None and second.prose["language"] == "de"
    assert second.prose["sentence"] == f"Die Antwort ist {second.rows[0][0]}."
    assert second.reading is None  # the rewrite is English already: nothing to restate
