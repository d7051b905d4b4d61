"""The systems ``bench peers`` runs, each behind the same small interface: ``open`` a scratch
database, ``ask`` a question, get back a ``Reply`` (the SQL it ran, the words it wrote, whether it
declined or failed).

Each peer is set up the way its documentation shows, with its default prompt and settings, on
the bench's one llama-cpp-python server. The settings the bench does choose are the ones a user
must choose to use a local server at all (its URL and model name, the context window it has) and
are the same for every system. Peer packages are imported only here, and only when their system
runs: they come from the ``[peers]`` extra.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import honestsql
from honestsql.benchmarks.scratch import Scratch
from honestsql.db import Database
from honestsql.llm import Backend
from honestsql.pipeline import Settings
from honestsql.prompts import unfenced
from honestsql.service import Service

API_KEY = "not-needed"  # the local server checks none; the SDKs insist on one


@dataclass
class Reply:
    #: The last SQL the system ran (or, for honestsql, the SQL it answered with).
    sql: str | None = None
    #: Words the system wrote for the user (not the rows themselves).
    text: str | None = None
    #: The system declined in so many words (honestsql's abstention, a model's "I can't").
    abstained: bool = False
    #: The system failed: its SQL raised, or the system did.
    error: str | None = None
    confidence: float | None = None
    #: (prompt, completion) tokens, when the system reports them itself (the embedded model).
    tokens: tuple[int, int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 300 else text[:297] + "..."


class System:
    name = ""

    def open(self, scratch: Scratch) -> None:
        self.scratch = scratch

    def ask(self, question: str) -> Reply:
        raise NotImplementedError

    def close(self) -> None:
        pass


class HonestSQL(System):
    """honestsql itself: ``backend`` is the embedded model or the shared server."""

    def __init__(self, name: str, backend: Backend, settings: Settings, target: float) -> None:
        self.name = name
        self.service = Service({}, backend=backend, settings=settings)
        self.target = target
        self.db: Database | None = None

    def open(self, scratch: Scratch) -> None:
        self.close()
        self.db = honestsql.connect(scratch.url, allow_privileged=True)

    def ask(self, question: str) -> Reply:
        answer = self.service.ask(question, db=self.db, target=self.target, audited=False)
        usage = answer.usage
        tokens = (int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)))
        answered = answer.decision == "answer"
        return Reply(
            sql=answer.sql if answered else None,
            abstained=not answered,
            confidence=answer.confidence,
            tokens=tokens,
            extra={"reason": answer.reasons[0]["code"] if answer.reasons else None},
        )

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None


class Bare(System):
    """The model alone: honestsql's prompt over the whole schema, one greedy completion, and
    whatever it wrote executed as it is, the way a plain text-to-SQL script would."""

    name = "bare"

    def __init__(self, base_url: str, model: str) -> None:
        import openai

        self.client = openai.OpenAI(base_url=base_url, api_key=API_KEY, timeout=900)
        self.model = model

    def open(self, scratch: Scratch) -> None:
        from honestsql import prompts

        super().open(scratch)
        db = honestsql.connect(scratch.url, allow_privileged=True)
        try:
            self.dialect = db.sql_dialect
            self.schema = prompts.render_schema(db.catalog(), self.dialect)
        finally:
            db.close()

    def ask(self, question: str) -> Reply:
        from honestsql import prompts

        messages: Any = prompts.messages(question, self.schema, self.dialect)
        reply = self.client.chat.completions.create(
            model=self.model, messages=messages, temperature=0.0, max_tokens=512
        )
        text = (reply.choices[0].message.content or "").strip()
        if text.upper().startswith(prompts.ABSTAIN_PREFIX):
            return Reply(text=text, abstained=True)
        sql = prompts.unfenced(text).rstrip(";").strip()
        return execute(self.scratch.sqlalchemy_url, sql)


def execute(sqlalchemy_url: str, sql: str) -> Reply:
    """Run ``sql`` on the scratch copy as a plain tool does (committed), catching its error."""
    engine = sa.create_engine(sqlalchemy_url, poolclass=sa.NullPool)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(sql)
    except Exception as exc:  # a peer's SQL may fail in any way a driver can
        return Reply(sql=sql, error=short(exc))
    finally:
        engine.dispose()
    return Reply(sql=sql)


class LangChain(System):
    """``create_sql_query_chain`` over ``SQLDatabase`` (langchain-community), the SQL then
    executed with ``SQLDatabase.run``, as LangChain's SQL question-answering guide shows."""

    name = "langchain"

    def __init__(self, base_url: str, model: str) -> None:
        from langchain_openai import ChatOpenAI
        from pydantic import SecretStr

        self.llm = ChatOpenAI(
            model=model, base_url=base_url, api_key=SecretStr(API_KEY), temperature=0
        )

    def open(self, scratch: Scratch) -> None:
        from langchain_community.utilities import SQLDatabase

        super().open(scratch)
        self.db = SQLDatabase.from_uri(scratch.sqlalchemy_url)
        self.runnable = self._make()

    def _make(self) -> Any:
        from langchain_classic.chains import create_sql_query_chain

        return create_sql_query_chain(self.llm, self.db)

    def ask(self, question: str) -> Reply:
        written = str(self.runnable.invoke({"question": question})).strip()
        # A chat model may echo the prompt's format ("Question: ... SQLQuery: SELECT ..."); take
        # what follows the last "SQLQuery:", as users of the chain do (a kindness to LangChain).
        sql = unfenced(written.rsplit("SQLQuery:", 1)[-1])
        try:
            self.db.run(sql)
        except Exception as exc:
            return Reply(sql=sql, error=short(exc))
        return Reply(sql=sql, extra={"written": written} if written != sql else {})

    def close(self) -> None:
        db = getattr(self, "db", None)
        if db is not None:
            db._engine.dispose()


class LangChainAgent(LangChain):
    """``create_sql_agent`` (langchain-community) with its default agent type, ReAct in plain
    text (it needs no tool calls from the server); the bench reads the last ``sql_db_query``
    the agent ran from its intermediate steps."""

    name = "langchain-agent"

    def _make(self) -> Any:
        from langchain_community.agent_toolkits import create_sql_agent

        return create_sql_agent(
            self.llm, db=self.db, agent_executor_kwargs={"return_intermediate_steps": True}
        )

    def ask(self, question: str) -> Reply:
        result = self.runnable.invoke({"input": question})
        text = str(result.get("output") or "")
        queries = [
            (str(action.tool_input), str(observation))
            for action, observation in result.get("intermediate_steps", [])
            if getattr(action, "tool", "") == "sql_db_query"
        ]
        if not queries:  # judged by its words: declining, or answering with nothing behind it
            return Reply(text=text, extra={"no_sql": True})
        sql, observation = queries[-1]
        error = observation[:300] if observation.startswith("Error") else None
        return Reply(sql=sql.strip(), text=text, error=error)


class LlamaIndex(System):
    """``NLSQLTableQueryEngine`` over all tables with ``OpenAILike`` (llama-index-llms-openai-like),
    its default response synthesis on; the model's own tokenizer counts tokens (LlamaIndex's
    default, tiktoken, downloads its tables from the internet on first use) and no embedder is
    set (none is used: every table goes to the prompt)."""

    name = "llamaindex"

    def __init__(self, base_url: str, model: str, model_path: Path, n_ctx: int) -> None:
        import llama_cpp
        from llama_index.core import Settings as LlamaSettings
        from llama_index.llms.openai_like import OpenAILike

        vocab = llama_cpp.Llama(str(model_path), vocab_only=True, verbose=False)
        LlamaSettings.tokenizer = lambda text: vocab.tokenize(text.encode(), add_bos=False)
        # Nothing here embeds text, but LlamaIndex resolves its default embedder (OpenAI's)
        # eagerly; None is its documented way to say "no embeddings".
        LlamaSettings.embed_model = None  # type: ignore[assignment]
        self.llm = OpenAILike(
            model=model,
            api_base=base_url,
            api_key=API_KEY,
            is_chat_model=True,
            context_window=n_ctx,
            timeout=900,
        )

    def open(self, scratch: Scratch) -> None:
        from llama_index.core import SQLDatabase
        from llama_index.core.query_engine import NLSQLTableQueryEngine

        super().open(scratch)
        self.engine = sa.create_engine(scratch.sqlalchemy_url, poolclass=sa.NullPool)
        self.query_engine = NLSQLTableQueryEngine(
            sql_database=SQLDatabase(self.engine), llm=self.llm
        )

    def ask(self, question: str) -> Reply:
        response: Any = self.query_engine.query(question)
        metadata = response.metadata or {}
        sql = metadata.get("sql_query")
        text = str(response.response or "")
        if "result" not in metadata:  # the retriever returned the error text instead of rows
            return Reply(sql=sql, text=text, error=text[:300] or "no result")
        return Reply(sql=sql, text=text)

    def close(self) -> None:
        engine = getattr(self, "engine", None)
        if engine is not None:
            engine.dispose()
