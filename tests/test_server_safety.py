"""A server that binds and reads safely: loopback unless keyed, Host checked, bodies capped while
read, worker limit, and no 5xx for anything a client can send (a fuzz run)."""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from honestsql.server import ServerConfig, create_app

from .scripted_backend import ScriptedBackend
from .server_fixtures import running

GOOD = "SELECT COUNT(*) FROM customers WHERE country_code = 'DE'"


@pytest.fixture
def config(test_databases, tmp_path: Path) -> ServerConfig:  # type: ignore[no-untyped-def]
    backend = ScriptedBackend(lambda request: [GOOD] * request.n)
    return ServerConfig(
        {"shop": test_databases["sqlite"].url},
        backend_factory=lambda: backend,
        memory_path=tmp_path / "memory.sqlite",
        audit_path=tmp_path / "audit.sqlite",
    )


@pytest.mark.parametrize("host", ["::", "", "0", "0.0.0.0", "0:0:0:0:0:0:0:0", "example.invalid"])
def test_binding_beyond_loopback_needs_a_key(host: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "honestsql", "serve", "--db", "demo", "--host", host],
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 2 and b"--server-key" in proc.stderr, proc.stderr


def test_host_header_must_be_loopback_or_allowed(config: ServerConfig) -> None:
    for base in ("http://localhost", "http://127.0.0.1:8000", "http://[::1]:8000"):
        assert TestClient(create_app(config), base_url=base).get("/api/health").status_code == 200
    rebound = TestClient(create_app(config), base_url="http://attacker.example")
    response = rebound.post("/api/check", json={"sql": "SELECT 1"})
    assert response.status_code == 403 and response.json()["error"]["kind"] == "forbidden_host"
    config.allowed_hosts = ["honestsql.lan"]
    allowed = TestClient(create_app(config), base_url="http://honestsql.lan:8000")
    assert allowed.get("/api/health").status_code == 200
    config.api_key = "k"
    keyed = TestClient(create_app(config), base_url="http://attacker.example")
    assert keyed.get("/api/schema", headers={"X-API-Key": "k"}).status_code == 200


def test_chunked_bodies_are_capped_while_read(config: ServerConfig) -> None:
    def chunks(total: int):  # type: ignore[no-untyped-def]
        sent = 0
        while sent < total:
            yield b" " * 65536
            sent += 65536

    with running(create_app(config)) as base:
        big = httpx.post(f"{base}/api/check", content=chunks(50 << 20), timeout=30)
        assert big.status_code == 413 and big.json()["error"]["kind"] == "too_large"
        small = httpx.post(
            f"{base}/api/check",
            content=iter([b'{"sql": "SELECT', b' 1 AS one"}']),
            headers={"content-type": "application/json"},
            timeout=30,
        )
        assert small.status_code == 200 and small.json()["rows"] == [[1]]


@pytest.mark.parametrize(
    "rows",
    [
        [["a", "x"]],
        [[]],
        [["a", 1, 2]],
        [[{"a": 1}, 1]],
        [["a", True]],
        [["a", [1]]],
        [["a", "nan"]],
    ],
)
def test_chart_input_errors_are_422(config: ServerConfig, rows: list[list[object]]) -> None:
    client = TestClient(create_app(config), base_url="http://localhost")
    columns = [{"name": "k", "type": "text"}, {"name": "v", "type": "integer"}]
    response = client.post("/api/chart", json={"columns": columns, "rows": rows})
    assert response.status_code == 422, response.text
    assert client.post("/api/chart", json={"columns": columns, "rows": {"a": 1}}).status_code == 422


# --- fuzz -------------------------------------------------------------------------------------

PATHS = [
    "/api/ask",
    "/api/check",
    "/api/schema",
    "/api/feedback",
    "/api/chart",
    "/api/health",
    "/",
    "/docs",
    "/openapi.json",
    "/static/app.js",
    "/static/../../etc/passwd",
    "/api/",
    "/api/ask/x",
    "/%00",
    "/api/check?db=nope",
    "/api/schema?db=%ff",
    "/api/schema?db=shop",
]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]
FIELDS = [
    "sql",
    "question",
    "db",
    "timeout",
    "max_rows",
    "target",
    "candidates",
    "evidence",
    "vote",
    "comment",
    "columns",
    "rows",
]
SQL = [
    "SELECT 1",
    GOOD,
    "SELECT * FROM customers",
    "DROP TABLE customers",
    "SELECT pg_sleep(1)",
    "SELECT 1; SELECT 2",
    "SELEC",
    "",
    "\x00",
    "'" * 50,
]


def _value(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(12 if depth < 3 else 8)
    if kind == 0:
        return rng.choice(SQL)
    if kind == 1:
        return rng.randint(-(2**70), 2**70)
    if kind == 2:
        return rng.choice([0, 1, -1, 0.5, 1e308, -1e-308, 10**6])
    if kind == 3:
        return rng.choice([None, True, False])
    if kind == 4:
        return "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(rng.randrange(40)))
    if kind == 5:
        return rng.choice(["shop", "nope", "", "up", "down", "text", "integer", "How many?"])
    if kind == 6:
        return "x" * rng.choice([1, 2_001, 4_001, 100_001])
    if kind == 7:
        return rng.choice(["NaN", "Infinity", "-0", "1e999"])
    if kind in (8, 9):
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {rng.choice(FIELDS): _value(rng, depth + 1) for _ in range(rng.randrange(4))}


def _request(rng: random.Random) -> tuple[str, str, bytes, dict[str, str]]:
    method = rng.choice(METHODS) if rng.random() < 0.3 else "POST"
    path = rng.choice(PATHS)
    kind = rng.randrange(6)
    headers = {"content-type": "application/json"}
    if kind == 0:
        body = bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
    elif kind == 1:
        body = b'{"sql": "SELECT 1"' + b"]" * rng.randrange(3)
    elif kind == 2:
        body = json.dumps(_value(rng), allow_nan=True).encode()
    elif kind == 3:
        body = b"[" * 5_000 + b"]" * 5_000
    else:
        fields = {f: _value(rng) for f in rng.sample(FIELDS, rng.randrange(1, 5))}
        if rng.random() < 0.5:
            fields["sql" if path == "/api/check" else "question"] = rng.choice(SQL)
        body = json.dumps(fields, allow_nan=True).encode()
    if rng.random() < 0.1:
        headers["content-type"] = rng.choice(["text/plain", "multipart/form-data", "x/y"])
    return method, path, body, headers


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_fuzz_never_answers_5xx_and_memory_stays_bounded(config: ServerConfig) -> None:
    rng = random.Random(20261123)
    statuses: dict[int, int] = {}
    with running(create_app(config)) as base, httpx.Client(base_url=base, timeout=30) as client:
        for _ in range(200):  # warm up: the first requests load the catalog and the model
            method, path, body, headers = _request(rng)
            client.request(method, path, content=body, headers=headers)
        before = _rss_mb()
        for index in range(10_000):
            method, path, body, headers = _request(rng)
            response = client.request(method, path, content=body, headers=headers)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            assert response.status_code < 500, (index, method, path, body[:300], response.text)
        grown = _rss_mb() - before
    assert sum(statuses.values()) == 10_000
    assert len([s for s in statuses if 400 <= s < 500]) >= 3, statuses  # it did reach the checks
    assert statuses.get(200, 0) > 100, statuses  # and valid requests got through
    assert grown < 150, f"RSS grew by {grown:.0f} MB over the fuzz run"


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("localhost", "localhost"),
        ("127.0.0.1:8000", "127.0.0.1"),
        ("[::1]:8000", "::1"),
        ("[::1]", "::1"),
        ("[::1]evil.example", ""),
        ("localhost:80@evil", ""),
        ("localhost:80:81", ""),
        ("localhost evil", ""),
        ("", ""),
    ],
)
def test_host_headers_are_parsed_strictly(header: str, host: str) -> None:
    from honestsql.server.gate import _host_name

    assert _host_name(header) == host


def test_health_in_key_mode_says_nothing_without_the_key(config: ServerConfig) -> None:
    config.api_key = "k"
    client = TestClient(create_app(config), base_url="http://localhost")
    assert client.get("/api/health").json() == {"ok": True, "status": "ok"}
    full = client.get("/api/health", headers={"X-API-Key": "k"}).json()
    assert full["databases"] and full["version"]
