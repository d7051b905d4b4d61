"""The one front door: every door gets the same settings, memory and audit; a backend that is not
thread-safe answers one question at a time; nothing of one question reaches the next."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import honestsql
from honestsql.audit import AuditLog
from honestsql.calibration import CalibrationError
from honestsql.errors import NotFound
from honestsql.llm import BackendError, GenerationRequest, NoBackend
from honestsql.memory import Memory
from honestsql.pipeline import Settings
from honestsql.server import ServerConfig, create_app
from honestsql.service import Service

from .scripted_backend import ScriptedBackend

QUESTION = "How many customers live in Germany?"
GOOD = "SELECT COUNT(*) FROM customers WHERE country_code = 'DE'"


def _always(sql: str):  # type: ignore[no-untyped-def]
    return lambda request: [sql] * request.n


@pytest.fixture
def shop_url(test_databases) -> str:  # type: ignore[no-untyped-def]
    return str(test_databases["sqlite"].url)


def test_every_door_gets_the_memory(shop_url: str, tmp_path: Path) -> None:
    memory = Memory(tmp_path / "memory.sqlite")
    backend = ScriptedBackend(_always(GOOD))
    with Service({"shop": shop_url}, backend=backend, memory=memory) as service:
        _, db = service.database("shop")
        memory.add(db.display_url, "How many customers live in France?", GOOD.replace("DE", "FR"))
        # Three agreeing candidates: the calibrators were fitted on five, and two that agree
        # sit right at the default target.
        answer = service.ask(QUESTION, candidates=3)
    assert answer.decision == "answer" and answer.rows == [[2]]
    prompt = backend.requests[0].messages[-1]["content"]
    assert '{"question": "How many customers live in France?"' in prompt


def test_settings_change_for_one_question_only(shop_url: str) -> None:
    backend = ScriptedBackend(_always(GOOD))
    service = Service(shop_url, backend=backend, settings=Settings(candidates=4))
    assert len(service.ask(QUESTION, candidates=1).candidates) == 1
    assert len(service.ask(QUESTION).candidates) == 4
    assert service.settings.candidates == 4


def test_the_audit_log_records_each_question_once(shop_url: str, tmp_path: Path) -> None:
    import sqlite3

    audit = AuditLog(tmp_path / "audit.sqlite")
    service = Service(shop_url, backend=ScriptedBackend(_always(GOOD)), audit=audit)
    service.ask(QUESTION, candidates=2)
    service.ask(QUESTION, candidates=2, audited=False)
    with sqlite3.connect(audit.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM asks").fetchone()[0] == 1
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1


class _Counting(ScriptedBackend):
    """Records how many calls overlap; sleeps so that overlapping calls would be seen."""

    def __init__(self, thread_safe: bool) -> None:
        super().__init__(_always(GOOD))
        self.thread_safe = thread_safe
        self.inside = 0
        self.most = 0
        self.lock = threading.Lock()

    def generate(self, request: GenerationRequest):  # type: ignore[no-untyped-def]
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        time.sleep(0.05)
        with self.lock:
            self.inside -= 1
        return super().generate(request)


@pytest.mark.parametrize("thread_safe", [False, True])
def test_a_backend_that_is_not_thread_safe_answers_one_question_at_a_time(
    shop_url: str, thread_safe: bool
) -> None:
    backend = _Counting(thread_safe)
    service = Service(shop_url, backend=backend)
    service.database()  # opened once, before the threads
    threads = [
        threading.Thread(target=service.ask, args=(QUESTION,), kwargs={"candidates": 1})
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(backend.requests) == 4
    assert (backend.most == 1) is not thread_safe


def test_nothing_of_a_failed_question_reaches_the_next(shop_url: str) -> None:
    calls = {"n": 0}

    def flaky(request: GenerationRequest) -> list[str]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise BackendError("the server went away")
        return [GOOD] * request.n

    service = Service(shop_url, backend=ScriptedBackend(flaky))
    with pytest.raises(BackendError):
        service.ask(QUESTION, candidates=1)
    answer = service.ask(QUESTION, candidates=1)
    # ScriptedBackend reports 10 prompt tokens per request: one request, this question's own.
    assert answer.usage == {"prompt_tokens": 10, "completion_tokens": 5}


def test_clear_errors_at_the_door(
    shop_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = Service({"shop": shop_url})
    with pytest.raises(NotFound, match="served: shop"):
        service.database("other")
    with pytest.raises(NoBackend, match="--llm llama-cpp"):
        service.ask(QUESTION)
    broken = tmp_path / "broken.json"
    broken.write_text("[]")
    monkeypatch.setenv("HONESTSQL_CALIBRATION", str(broken))
    loud = Service(shop_url, backend=ScriptedBackend(_always(GOOD)))
    with pytest.raises(CalibrationError, match="not a honestsql calibration file"):
        loud.ask(QUESTION)


def test_http_answers_carry_everything_the_service_returned(shop_url: str, tmp_path: Path) -> None:
    """The API's response model drops nothing: same keys, same candidates, as the service."""
    ungrounded = "SELECT COUNT(*) FROM customers WHERE country_code = 'Atlantis'"
    backend = ScriptedBackend(lambda r: [GOOD] if r.temperature == 0 else [ungrounded] * r.n)
    config = ServerConfig(
        {"shop": shop_url},
        backend_factory=lambda: backend,
        audit=False,
        memory_path=tmp_path / "m.sqlite",
    )
    body = TestClient(create_app(config), base_url="http://127.0.0.1").post(
        "/api/ask", json={"question": QUESTION, "candidates": 3}
    )
    expected = (
        Service(shop_url, backend=backend, settings=Settings(timeout=30.0, candidates=3))
        .ask(QUESTION)
        .to_dict()
    )
    got = body.json()
    assert set(got) == set(expected)
    assert got["candidates"] == expected["candidates"]
    assert any("ungrounded" in c for c in got["candidates"])
    assert got["reasons"] == expected["reasons"] and got["signals"] == expected["signals"]


def test_the_public_connect_still_opens_what_the_service_opens(shop_url: str) -> None:
    with honestsql.connect(shop_url) as db:
        _, opened = Service(shop_url).database()
        assert opened.display_url == db.display_url


def test_a_question_asked_uncalibrated_loads_no_calibrator(
    shop_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("[]")
    monkeypatch.setenv("HONESTSQL_CALIBRATION", str(broken))
    service = Service(shop_url, backend=ScriptedBackend(_always(GOOD)))
    plain = service.ask(QUESTION, candidates=2, calibrated=False)
    assert plain.confidence == 1.0  # the share of agreeing candidates, no calibrator involved
    with pytest.raises(CalibrationError):
        service.ask(QUESTION, candidates=2)
