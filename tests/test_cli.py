"""The command line, run as a user runs it: a real process, real exit codes, real output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CHECK_KEYS = {"ok", "status", "errors", "columns", "rows", "truncated", "elapsed_ms"}


def run(*args: str | bytes, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "honestsql", *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "120"},
        timeout=60,
    )


def as_json(proc: subprocess.CompletedProcess[bytes]) -> dict:  # type: ignore[type-arg]
    lines = proc.stdout.decode().strip().splitlines()
    assert len(lines) == 1, proc.stdout
    return json.loads(lines[0])  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def shop(test_databases) -> str:  # type: ignore[no-untyped-def]
    return str(test_databases["sqlite"].path)


def test_check_ok_json(shop: str) -> None:
    proc = run(
        "check",
        "--db",
        shop,
        "--json",
        "SELECT name, age FROM customers WHERE age > 40 ORDER BY age",
    )
    assert proc.returncode == 0, proc.stderr
    data = as_json(proc)
    assert set(data) >= CHECK_KEYS
    assert data["ok"] is True and data["status"] == "ok" and data["errors"] == []
    assert data["columns"] == [{"name": "name", "type": "text"}, {"name": "age", "type": "integer"}]
    assert data["rows"] == [["Ben", 41], ["Emil", 55]]
    assert data["truncated"] is False and data["elapsed_ms"] > 0


def test_check_rejected_json(shop: str) -> None:
    proc = run("check", "--db", shop, "--json", "SELECT custmer_name FROM customers")
    assert proc.returncode == 1
    data = as_json(proc)
    assert data["ok"] is False and data["status"] == "rejected"
    assert data["errors"][0]["kind"] == "unknown_column"
    assert "customers.name" in data["errors"][0]["suggestions"]
    assert data["rows"] == []


def test_check_plain_output(shop: str) -> None:
    proc = run("check", "--db", shop, "SELECT code, name FROM countries ORDER BY code")
    assert proc.returncode == 0
    text = proc.stdout.decode()
    assert "Germany" in text and "4 rows" in text
    bad = run("check", "--db", shop, "DELETE FROM customers")
    assert bad.returncode == 1 and "not_read_only" in bad.stdout.decode()


def test_truncation_and_timeout_options(shop: str) -> None:
    data = as_json(run("check", "--db", shop, "--json", "--max-rows", "2", "SELECT id FROM orders"))
    assert data["rows"] == [[1], [2]] and data["truncated"] is True
    slow = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT COUNT(*) FROM r"
    proc = run("check", "--db", shop, "--json", "--timeout", "0.3", slow)
    assert proc.returncode == 1
    data = as_json(proc)
    assert data["status"] == "error" and data["errors"][0]["kind"] == "timeout"


def test_sql_from_stdin_and_file(shop: str, tmp_path: Path) -> None:
    data = as_json(
        run("check", "--db", shop, "--json", "-", stdin=b"SELECT COUNT(*) AS n FROM customers")
    )
    assert data["rows"] == [[5]]
    query = tmp_path / "q.sql"
    query.write_text("SELECT COUNT(*) AS n FROM countries\n")
    data = as_json(run("check", "--db", shop, "--json", "--file", str(query)))
    assert data["rows"] == [[4]]


@pytest.mark.parametrize(
    "args",
    [
        ("check", "SELECT 1"),  # no --db
        ("check", "--db", "x.db", "--timeout", "abc", "SELECT 1"),
        ("check", "--db", "x.db", "--timeout", "-1", "SELECT 1"),
        ("check", "--db", "x.db", "--max-rows", "-5", "SELECT 1"),
        ("check", "--db", "x.db", "--file", "/no/such.sql"),
        ("nonsense",),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    env_free = {k: v for k, v in os.environ.items() if k != "HONESTSQL_DB"}
    proc = subprocess.run(
        [sys.executable, "-m", "honestsql", *args], capture_output=True, env=env_free, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    assert b"Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "kind"),
    [
        (("--db", "/no/such/file.db", "SELECT 1"), None, "connection"),
        (("--db", "postgresql://postgres:s3cret-pw@127.0.0.1:1/x", "SELECT 1"), None, "connection"),
        (("--db", "foo://bar", "SELECT 1"), None, "connection"),
        (("-",), b"SELECT 1 -- " + b"x" * 1_000_000, "invalid_input"),
        (("-",), b"SELECT '\xff'", "invalid_input"),
        ((b"SELECT '\xff'",), None, "invalid_input"),
        (("-",), b"", "invalid_input"),
    ],
    ids=[
        "missing-file",
        "refused-password",
        "bad-scheme",
        "1mb-stdin",
        "latin1-stdin",
        "latin1-argv",
        "empty",
    ],
)
def test_bad_input_never_shows_a_traceback(
    shop: str, args: tuple[str | bytes, ...], stdin: bytes | None, kind: str
) -> None:
    db_args: tuple[str | bytes, ...] = ("--db", shop) if "--db" not in args else ()
    proc = run("check", "--json", *db_args, *args, stdin=stdin)
    assert proc.returncode == 1, proc.stderr
    assert b"Traceback" not in proc.stderr
    data = as_json(proc)
    assert data["ok"] is False and data["errors"][0]["kind"] == kind
    assert b"s3cret-pw" not in proc.stdout + proc.stderr


def test_schema_json_and_plain(shop: str) -> None:
    data = as_json(run("schema", "--db", shop, "--json"))
    assert data["ok"] is True and data["dialect"] == "sqlite"
    customers = next(t for t in data["tables"] if t["name"] == "customers")
    assert customers["primary_key"] == ["id"] and customers["row_count"] == 5
    text = run("schema", "--db", shop).stdout.decode()
    assert "customers" in text and "→ countries.code" in text


def test_schema_of_a_missing_database_fails_cleanly() -> None:
    proc = run("schema", "--db", "/no/such.db", "--json")
    assert proc.returncode == 1 and as_json(proc)["errors"][0]["kind"] == "connection"
    # The error object every door's failure carries (HTTP and MCP answer it too).
    assert as_json(proc)["error"]["kind"] == "connection" and as_json(proc)["error"]["message"]


def test_demo_and_version() -> None:
    data = as_json(run("demo", "--json"))
    assert Path(data["path"]).is_file()
    proc = run("check", "--db", "demo", "--json", "SELECT COUNT(*) FROM customers")
    assert as_json(proc)["rows"] == [[40]]
    assert as_json(run("version", "--json"))["version"]
