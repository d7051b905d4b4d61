"""honestsql as an MCP tool server (stdio): agents get a safe database tool.

Tools: ``list_tables``, ``describe_table``, ``check_sql`` (the agent's own SQL, verified against
the schema and run read-only), ``ask`` (the whole pipeline, when a model is configured) and
``remember`` (a question with the SQL the user confirmed, kept in the memory every door shares and
shown to the model as an example for similar questions).
"""

from __future__ import annotations

import json
from typing import Any, cast

from honestsql.errors import HonestSQLError, InvalidInput, NotFound, body_of
from honestsql.memory import remember as remember_pair
from honestsql.service import Service


def build_server(service: Service) -> Any:
    """The MCP server over the default database of ``service``; failures answer the one error
    body of ``honestsql.errors``, marked as errors (``isError``)."""
    from mcp.server.mcpserver import MCPServer

    _, db = service.database()

    server = MCPServer(
        "honestsql",
        instructions=(
            "Read-only access to one SQL database. Use list_tables and describe_table to learn the "
            "schema, check_sql to run your own SELECT (it is verified and refused if it writes or "
            "names a missing table or column), ask for a question in plain language (it "
            "answers with SQL and a confidence, or abstains and says why), and remember to keep "
            "a question with SQL the user confirmed, so that similar questions are answered "
            "better."
        ),
    )

    @server.tool()
    def list_tables() -> list[dict[str, Any]]:
        """Every table and view with its row count and description."""
        return [
            {
                "name": t.name,
                "rows": t.row_count,
                "view": t.is_view,
                "description": t.description or t.comment,
            }
            for t in db.catalog().tables
        ]

    @server.tool()
    def describe_table(table: str) -> dict[str, Any]:
        """Columns (type, key, description, sample values) and foreign keys of one table."""
        found = db.catalog().table(table)
        if found is None:
            names = ", ".join(t.name for t in db.catalog().tables)
            return _failure(NotFound(f"No table {table!r}. Tables: {names}."))
        return {"ok": True, **found.model_dump(mode="json")}

    @server.tool()
    def check_sql(sql: str, max_rows: int = 100) -> dict[str, Any]:
        """Verify SQL against the schema and, if it passes, run it read-only."""
        try:
            return service.check(sql, max_rows=max(0, min(max_rows, 1000))).to_dict()
        except HonestSQLError as exc:
            return _failure(exc)

    @server.tool()
    def ask(question: str, target: float = 0.75) -> dict[str, Any]:
        """Answer a question with verified SQL and a confidence, or abstain with the reason.
        The question may be in English, German, French, Spanish, Italian, Portuguese, Chinese or
        Japanese; ``prose`` words the answer in that language."""
        try:
            answer = service.ask(question, target=min(max(target, 0.0), 0.99))
        except HonestSQLError as exc:
            return _failure(exc)
        return answer.to_dict()

    @server.tool()
    def remember(question: str, sql: str) -> dict[str, Any]:
        """Keep a question with the SQL that answers it, as a verified example the model is shown
        for similar questions later (as a thumbs-up on the page does). Call it only when the user
        has confirmed the answer is right. The SQL is verified against the schema, not run; a
        pair that does not verify is refused with the reasons."""
        try:
            if service.memory is None:
                raise InvalidInput("This server keeps no memory.")
            pair_id = remember_pair(service.memory, db, question, sql)
        except HonestSQLError as exc:
            return _failure(exc)
        return {"ok": True, "stored": "verified", "id": pair_id}

    return server


def _failure(exc: HonestSQLError) -> dict[str, Any]:
    """A tool call that failed: ``isError: true``, with the error body (kind, message, hint) as
    the structured content and as JSON text, so that an agent can tell a failure from an answer.
    """
    from mcp.types import CallToolResult, TextContent

    body = body_of(exc)
    result = CallToolResult(
        content=[TextContent(type="text", text=json.dumps(body))],
        structured_content=body,
        is_error=True,
    )
    # The SDK passes a returned CallToolResult through as it is, whatever the annotation.
    return cast(dict[str, Any], result)
