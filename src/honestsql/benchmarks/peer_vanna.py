"""Vanna 2 for ``bench peers``: its ``Agent`` as its README builds it, and the check that the
server can give it what it needs (OpenAI tool calls)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from honestsql.benchmarks.peer_systems import API_KEY, Reply, System, short
from honestsql.benchmarks.scratch import Scratch
from honestsql.llm import BackendError


class Vanna(System):
    """Vanna 2's ``Agent`` as its README builds it: ``OpenAILlmService`` (with the server's URL),
    ``RunSqlTool`` over the engine's runner, the in-memory ``DemoAgentMemory`` and its memory
    tools. The agent finds the schema itself by running SQL (Vanna 2 has no schema in its
    prompt); the bench records the last statement it ran."""

    name = "vanna"

    def __init__(self, base_url: str, models: Sequence[str]) -> None:
        from vanna.integrations.openai import OpenAILlmService

        self.llm = OpenAILlmService(
            model=_tool_calling_model(base_url, models), api_key=API_KEY, base_url=base_url
        )

    def open(self, scratch: Scratch) -> None:
        from vanna import Agent, AgentConfig
        from vanna.core.registry import ToolRegistry
        from vanna.core.user import User, UserResolver
        from vanna.integrations.local.agent_memory import DemoAgentMemory
        from vanna.tools import RunSqlTool
        from vanna.tools.agent_memory import (
            SaveQuestionToolArgsTool,
            SearchSavedCorrectToolUsesTool,
        )

        super().open(scratch)
        ran: list[tuple[str, str | None]] = []
        self.ran = ran
        runner = _recording_runner(scratch, ran)

        class OneUser(UserResolver):
            async def resolve_user(self, request_context: Any) -> Any:
                return User(id="bench", email="bench@example.com", group_memberships=["admin"])

        tools = ToolRegistry()
        tools.register_local_tool(RunSqlTool(sql_runner=runner), access_groups=["admin"])
        tools.register_local_tool(SaveQuestionToolArgsTool(), access_groups=["admin"])
        tools.register_local_tool(SearchSavedCorrectToolUsesTool(), access_groups=["admin"])
        self.agent = Agent(
            llm_service=self.llm,
            tool_registry=tools,
            user_resolver=OneUser(),
            agent_memory=DemoAgentMemory(max_items=1000),
            # as Vanna's OpenAI quickstart sets it: whole replies, not a stream
            config=AgentConfig(stream_responses=False),
        )

    def ask(self, question: str) -> Reply:
        from vanna.core.user import RequestContext

        self.ran.clear()

        async def talk() -> list[str]:
            said = []
            async for component in self.agent.send_message(RequestContext(), question):
                simple = getattr(component, "simple_component", None)
                text = getattr(simple, "text", None)
                if text:
                    said.append(str(text))
            return said

        text = "\n".join(asyncio.run(talk()))
        if not self.ran:  # judged by its words: declining, or answering with nothing behind it
            return Reply(text=text, extra={"no_sql": True})
        sql, error = self.ran[-1]
        return Reply(sql=sql, text=text, error=error)


def _tool_calling_model(base_url: str, models: Sequence[str]) -> str:
    """The first of ``models`` (served names) that answers a tool request with an OpenAI tool
    call, as Vanna needs; a clear error saying what came back when none does."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=API_KEY, timeout=900)
    tool: Any = {
        "type": "function",
        "function": {
            "name": "run_sql",
            "description": "Run a SQL query on the database.",
            "parameters": {
                "type": "object",
                "properties": {"sql": {"type": "string"}},
                "required": ["sql"],
            },
        },
    }
    messages: Any = [
        {"role": "system", "content": "Answer questions about the database by calling run_sql."},
        {"role": "user", "content": "How many rows does the customers table have?"},
    ]
    got = []
    for model in models:
        reply = client.chat.completions.create(
            model=model, messages=messages, tools=[tool], tool_choice="auto", max_tokens=128
        )
        message = reply.choices[0].message
        if message.tool_calls:
            return model
        got.append(f"{model}: {message.content!r}")
    raise BackendError(
        "Vanna 2 works only through OpenAI tool calls, and the server returned none to a tool "
        "request (tool_choice auto) under any of its names; it replied with text instead ("
        + "; ".join(got)
        + "). llama-cpp-python's server does not turn this model's <tool_call> text into tool "
        "calls with the model's own template, and its chatml-function-calling handler returns "
        "an empty message or the bare function name."
    )


def _recording_runner(scratch: Scratch, ran: list[tuple[str, str | None]]) -> Any:
    """The engine's Vanna runner, noting each statement and whether it failed."""
    runner: Any
    if scratch.is_sqlite:
        from vanna.integrations.sqlite import SqliteRunner

        runner, options = SqliteRunner, {"database_path": scratch.url}
    else:
        from vanna.integrations.postgres import PostgresRunner

        runner, options = PostgresRunner, {"connection_string": scratch.url}

    class Recording(runner):  # type: ignore[misc]
        async def run_sql(self, args: Any, context: Any) -> Any:
            try:
                result = await super().run_sql(args, context)
            except Exception as exc:
                ran.append((args.sql, short(exc)))
                raise
            ran.append((args.sql, None))
            return result

    return Recording(**options)
