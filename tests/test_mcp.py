"""The MCP server driven over stdio by the official SDK's client, as an agent would."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

import honestsql
from honestsql.memory import Memory


async def _session(
    url: str, calls: list[tuple[str, dict[str, Any]]], *options: str
) -> tuple[list[str], list[Any]]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "honestsql", "mcp", "--db", url, *options],
        # The SDK passes on only a few variables by default; the test's own data directory
        # (HONESTSQL_DATA_DIR, where the memory lives) must reach the server.
        env=dict(os.environ),
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = sorted(t.name for t in (await session.list_tools()).tools)
        results = []
        for name, arguments in calls:
            result = await session.call_tool(name, arguments=arguments)
            failed = result.is_error
            payload = (
                result.structured_content
                if result.structured_content is not None
                else json.loads(result.content[0].text)
            )
            payload = payload.get("result", payload) if isinstance(payload, dict) else payload
            if isinstance(payload, dict):
                payload["is_error"] = failed
            results.append(payload)
        return tools, results


GERMANS = "SELECT name FROM customers WHERE country_code = 'DE'"


def test_mcp_tools_over_stdio(test_databases) -> None:  # type: ignore[no-untyped-def]
    db = test_databases["sqlite"]
    before = db.checksum()
    tools, (tables, described, missing, ok, refused, asked, kept, again, wrong, blank) = (
        asyncio.run(
            _session(
                db.url,
                [
                    ("list_tables", {}),
                    ("describe_table", {"table": "customers"}),
                    ("describe_table", {"table": "custmers"}),
                    ("check_sql", {"sql": GERMANS + " ORDER BY name"}),
                    ("check_sql", {"sql": "DELETE FROM customers"}),
                    ("ask", {"question": "How many customers?"}),
                    ("remember", {"question": "Customers in Germany?", "sql": GERMANS}),
                    ("remember", {"question": "Customers in Germany?", "sql": GERMANS}),
                    (
                        "remember",
                        {"question": "Their cities?", "sql": "SELECT city FROM customers"},
                    ),
                    ("remember", {"question": " ", "sql": GERMANS}),
                ],
                "--llm",
                "none",
            )
        )
    )
    assert tools == ["ask", "check_sql", "describe_table", "list_tables", "remember"]
    assert {t["name"] for t in tables} >= {"customers", "orders"}
    assert described["ok"] and described["primary_key"] == ["id"]
    assert not missing["ok"] and "customers" in missing["error"]["message"]
    assert ok["ok"] and ok["rows"] == [["Anna"], ["Emil"]]
    assert not refused["ok"] and refused["errors"][0]["kind"] == "not_read_only"
    assert not asked["ok"] and "--base-url" in asked["error"]["message"]  # no model configured
    assert missing["status"] == 404 and asked["error"]["kind"] == "llm"
    # A failed call is marked as one (an agent tells it from an answer); a refused query is an
    # answer of check_sql.
    assert missing["is_error"] and asked["is_error"]
    assert not ok["is_error"] and not refused["is_error"] and not described["is_error"]
    assert db.checksum() == before
    # A confirmed pair is kept in the memory every door shares, once; SQL that does not verify is
    # a failed call whose message says why.
    assert kept["ok"] and kept["stored"] == "verified" and again["id"] == kept["id"]
    assert wrong["is_error"] and wrong["error"]["kind"] == "invalid_input"
    assert "city" in wrong["error"]["message"] and "not remembered" in wrong["error"]["message"]
    assert blank["is_error"] and "needs a question" in blank["error"]["message"]
    pairs = Memory().pairs(honestsql.connect(db.url).display_url)
    assert [(p.question, p.sql) for p in pairs] == [("Customers in Germany?", GERMANS)]


def test_mcp_uses_the_embedded_model_by_default_and_says_at_start_up_when_it_cannot(
    test_databases, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """The same default as ``ask``: without --llm the embedded model; a model file that is not
    there is said on stderr at start-up, and asking fails as an error."""
    import subprocess

    missing = str(tmp_path / "nowhere.gguf")
    started = subprocess.run(
        [sys.executable, "-m", "honestsql", "mcp", "--db", test_databases["sqlite"].url,
         "--model", missing],
        input="", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "No questions can be answered here" in started.stderr and missing in started.stderr
    _, (asked,) = asyncio.run(
        _session(
            test_databases["sqlite"].url,
            [("ask", {"question": "How many customers?"})],
            "--model",
            missing,
        )
    )
    assert asked["is_error"] and asked["error"]["kind"] == "llm"
