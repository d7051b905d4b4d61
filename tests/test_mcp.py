"""The MCP server driven over stdio by the official SDK's client, as an agent would."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


async def _session(
    url: str, calls: list[tuple[str, dict[str, Any]]]
) -> tuple[list[str], list[Any]]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "honestsql", "mcp", "--db", url]
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = sorted(t.name for t in (await session.list_tools()).tools)
        results = []
        for name, arguments in calls:
            result = await session.call_tool(name, arguments=arguments)
            payload = (
                result.structured_content
                if result.structured_content is not None
                else json.loads(result.content[0].text)
            )
            results.append(payload.get("result", payload) if isinstance(payload, dict) else payload)
        return tools, results


def test_mcp_tools_over_stdio(test_databases) -> None:  # type: ignore[no-untyped-def]
    db = test_databases["sqlite"]
    before = db.checksum()
    tools, (tables, described, missing, ok, refused, asked) = asyncio.run(
        _session(
            db.url,
            [
                ("list_tables", {}),
                ("describe_table", {"table": "customers"}),
                ("describe_table", {"table": "custmers"}),
                (
                    "check_sql",
                    {"sql": "SELECT name FROM customers WHERE country_code = 'DE' ORDER BY name"},
                ),
                ("check_sql", {"sql": "DELETE FROM customers"}),
                ("ask", {"question": "How many customers?"}),
            ],
        )
    )
    assert tools == ["ask", "check_sql", "describe_table", "list_tables"]
    assert {t["name"] for t in tables} >= {"customers", "orders"}
    assert described["ok"] and described["primary_key"] == ["id"]
    assert not missing["ok"] and "customers" in missing["error"]["message"]
    assert ok["ok"] and ok["rows"] == [["Anna"], ["Emil"]]
    assert not refused["ok"] and refused["errors"][0]["kind"] == "not_read_only"
    assert not asked["ok"] and "--base-url" in asked["error"]["message"]  # no model configured
    assert missing["status"] == 404 and asked["error"]["kind"] == "llm"
    assert db.checksum() == before
