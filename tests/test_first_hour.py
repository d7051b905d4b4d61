"""The command-line defects a new user met in their first hour (issue 29), each as it was met:
``--version``, prose off stdout with ``--csv``, one key per database whatever its spelling, the
conversation list and its hint, whole names on an 80-column terminal, plain syntax errors, no
``null`` types over an empty result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import honestsql
from honestsql.service import Service

from .chat_server import ChatServer

GOOD = "SELECT COUNT(*) FROM customers WHERE country_code = 'DE'"


def run(
    *args: str, columns: int = 120, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "honestsql", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": str(columns), **env},
        cwd=cwd,
        timeout=120,
    )


def test_version_is_an_option_too() -> None:
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"honestsql {honestsql.__version__}"


def test_help_on_an_80_column_terminal_keeps_every_option_whole() -> None:
    proc = run("ask", "--help", columns=80)
    assert proc.returncode == 0 and "…" not in proc.stdout
    for option in ("--show-candidates", "--allow-privileged", "--redact-values", "--embeddings"):
        assert option in proc.stdout
    # Square brackets in help texts are text, not markup.
    assert "honestsql[embeddings]" in " ".join(proc.stdout.split())


def test_models_shows_whole_names_on_an_80_column_terminal() -> None:
    proc = run("models", columns=80)
    assert proc.returncode == 0 and "qwen2.5-coder-1.5b" in proc.stdout
    assert "qwen2.5-coder-0.5b" in proc.stdout


def test_an_abstention_with_csv_keeps_stdout_for_rows(test_databases: Any) -> None:
    with ChatServer(lambda request: [GOOD] * request.get("n", 1)) as server:
        proc = run(
            "ask",
            "--db",
            test_databases["sqlite"].url,
            "--csv",
            "--no-audit",
            "What is dark matter made of?",
            HONESTSQL_BASE_URL=server.base_url,
            HONESTSQL_MODEL="scripted",
        )
    assert proc.returncode == 1 and proc.stdout == ""
    assert "I don't know" in proc.stderr


def test_one_database_whatever_spelling(tmp_path: Path) -> None:
    """A relative path, an absolute path and a sqlite:/// URL name one database: its memory
    pairs are found whichever spelling is typed."""
    path = tmp_path / "library.sqlite"
    import sqlite3

    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE books (id INTEGER PRIMARY KEY, title TEXT)")
        con.execute("INSERT INTO books VALUES (1, 'Dune')")
    data = {"HONESTSQL_DATA_DIR": str(tmp_path / "data")}
    added = run(
        "memory", "add", "--db", "library.sqlite", "How many books?",
        "SELECT COUNT(*) FROM books", cwd=tmp_path, **data,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    spellings = [str(path), f"sqlite:///{path}", "library.sqlite", "./library.sqlite"]
    for spelling in spellings:
        listed = run("memory", "list", "--db", spelling, "--json", cwd=tmp_path, **data)
        pairs = json.loads(listed.stdout)["pairs"]
        assert [p["question"] for p in pairs] == ["How many books?"], spelling
    keys = {honestsql.connect(s).display_url for s in spellings[:2]}
    assert keys == {f"sqlite:///{path}"}


def test_a_single_database_service_is_named_by_its_url(test_databases: Any) -> None:
    url = test_databases["sqlite"].url
    assert Service(url).names == [honestsql.connect(url).display_url]
    assert Service("demo").names == ["demo"]


def test_an_unknown_conversation_names_the_command_that_lists_them(test_databases: Any) -> None:
    proc = run("ask", "--db", test_databases["sqlite"].url, "--follow-up", "nosuchid", "--json",
               "How many?", HONESTSQL_BASE_URL="http://127.0.0.1:9/v1")  # fmt: skip
    message = json.loads(proc.stdout)["error"]["message"]
    assert "honestsql conversations list" in message and "chat --list" not in message


def test_a_syntax_error_in_plain_words() -> None:
    proc = run("check", "--db", "demo", "--json", "SELECT * FROM orders WHERE (")
    message = json.loads(proc.stdout)["errors"][0]["message"]
    assert "class" not in message and "sqlglot" not in message
    assert "parenthesis" in message


def test_an_empty_result_shows_no_null_types() -> None:
    proc = run("check", "--db", "demo", "SELECT id, status FROM orders WHERE id < 0")
    assert proc.returncode == 0 and "null" not in proc.stdout and "status" in proc.stdout
    full = run("check", "--db", "demo", "SELECT id, status FROM orders WHERE id = 1")
    assert "integer" in full.stdout and "text" in full.stdout


def test_with_json_what_a_library_prints_goes_to_stderr(capsys: Any) -> None:
    """``bench peers --json`` printed LlamaIndex's "Embeddings have been explicitly disabled"
    before its JSON; the work now runs inside ``json_stdout``."""
    from honestsql.cli.common import json_stdout

    with json_stdout(True):
        print("Embeddings have been explicitly disabled. Using MockEmbedding.")
    with json_stdout(False):
        print("shown")
    captured = capsys.readouterr()
    assert captured.out == "shown\n" and "MockEmbedding" in captured.err
    source = (Path(__file__).parents[1] / "src/honestsql/cli/peers.py").read_text()
    assert "with json_stdout(as_json):" in source


def test_a_question_in_another_language_reaches_the_model(test_databases: Any) -> None:
    """The relevance gate counts the schema's English words, so it judges English questions
    only: "Wie viele Bestellungen wurden storniert?" was refused before the model."""
    from honestsql.linking import is_english
    from honestsql.llm.openai_compat import OpenAICompatible
    from honestsql.pipeline import Pipeline, Settings

    others = [
        "Wie viele Bestellungen wurden storniert?",
        "Combien de clients habitent en France ?",
        "¿Cuántos clientes viven en Alemania?",
        "Quanti clienti vivono in Germania?",
        "Quantos clientes moram na Alemanha?",
        "有多少客户住在德国？",
        "ドイツに住んでいる顧客は何人ですか？",
    ]
    assert not any(map(is_english, others))
    assert is_english("How many customers live in Germany?")
    with (
        honestsql.connect(test_databases["sqlite"].url) as db,
        ChatServer(lambda request: [GOOD] * request.get("n", 1)) as server,
    ):
        backend = OpenAICompatible(base_url=server.base_url, model="scripted", max_retries=0)
        pipeline = Pipeline(db, backend, Settings(candidates=2))
        gated = pipeline.ask("What is dark matter made of?")
        assert gated.reasons[0]["code"] == "not_about_this_database" and not server.requests
        german = pipeline.ask(others[0])
        assert server.requests and german.reasons[:1] != gated.reasons[:1]
        assert german.candidates and german.candidates[0]["sql"] == GOOD


def test_a_verified_example_that_was_shown_is_mentioned(
    test_databases: Any, tmp_path: Path
) -> None:
    from honestsql.llm.openai_compat import OpenAICompatible
    from honestsql.memory import Memory
    from honestsql.pipeline import Pipeline, Settings

    memory = Memory(tmp_path / "memory.sqlite")
    with (
        honestsql.connect(test_databases["sqlite"].url) as db,
        ChatServer(lambda request: [GOOD] * request.get("n", 1)) as server,
    ):
        backend = OpenAICompatible(base_url=server.base_url, model="scripted", max_retries=0)
        pipeline = Pipeline(db, backend, Settings(candidates=2), memory=memory)
        before = pipeline.ask("How many customers live in Germany?")
        assert not any("verified example" in note for note in before.notes)
        memory.add(db.display_url, "How many customers live in France?", GOOD)
        after = pipeline.ask("How many customers live in Germany?")
    assert 'shown a verified example: "How many customers live in France?"' in after.notes
