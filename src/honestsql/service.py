"""The one front door: named databases, the model, the calibrator, the audit log and the memory.

The CLI, the HTTP API, the MCP tools and ``eval run`` / ``bench ask`` all ask through a
``Service``, so every door gets the same settings, the same memory and the same audit. The
service builds the pipeline; nothing else does.

- Databases are opened on first use and kept open (one ``Database`` per name).
- The backend is built on first use. A backend that does not declare itself ``thread_safe`` is
  asked one question at a time.
- The calibrator for the backend's model is loaded once, when the backend is; a calibration file
  named by ``$HONESTSQL_CALIBRATION`` that cannot be read is an error, never a silent fallback.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import honestsql
from honestsql import calibration, wording
from honestsql import conversation as conversation_module
from honestsql import glossary as glossary_module
from honestsql import policy as policy_module
from honestsql.audit import AuditLog
from honestsql.check import CheckResult, check
from honestsql.conversation import Conversations
from honestsql.db import Database
from honestsql.db import url as urls
from honestsql.errors import HonestSQLError, InvalidInput, NotFound
from honestsql.glossary import Glossary
from honestsql.llm import Backend, NoBackend
from honestsql.memory import Memory
from honestsql.pipeline import Answer, OnStage, Pipeline, Settings
from honestsql.policy import Policy

NO_MODEL = (
    "No language model is configured: give --llm llama-cpp (the embedded model) or --base-url URL "
    "--model NAME (an OpenAI-compatible server)."
)


class Service:
    """Answers questions and checks SQL over the databases it was given.

    ``databases`` maps names to what ``--db`` takes (``demo``, a path, a URL) or to an open
    ``Database``; the first is the default (none: every question names its open ``Database``,
    as the benchmarks do). ``backend`` is a backend or a function that builds
    one (called once, on the first question).
    """

    def __init__(
        self,
        databases: Mapping[str, str | Database] | str | Database,
        *,
        backend: Backend | Callable[[], Backend] | None = None,
        settings: Settings | None = None,
        audit: AuditLog | None = None,
        memory: Memory | None = None,
        descriptions: str | Path | None = None,
        schemas: list[str] | None = None,
        allow_privileged: bool | None = None,
        conversations: Conversations | None = None,
        policy: str | Path | Policy | None = None,
        glossary: str | Path | Glossary | None = None,
    ) -> None:
        if isinstance(databases, str | Database):
            # One database: named by its URL, so that conversations and lists show which.
            databases = {_name_of(databases): databases}
        self.targets = dict(databases)
        self.settings = settings or Settings()
        self.audit = audit
        self.memory = memory
        #: Where follow-up questions find the conversation so far (``None``: no follow-ups).
        self.conversations = conversations
        self._connect_options: dict[str, Any] = {
            "descriptions": descriptions,
            "schemas": schemas,
            "allow_privileged": allow_privileged,
            "policy": policy_module.load(policy),
        }
        self._opened: dict[str, Database] = {
            name: target for name, target in self.targets.items() if isinstance(target, Database)
        }
        #: Business terms (``honestsql.glossary``), verified against each database on its first use.
        self.glossary = glossary_module.load(glossary)
        #: The databases the glossary was verified against (held weakly: an id could be reused).
        self._verified: weakref.WeakSet[Database] = weakref.WeakSet()
        self._factory = backend
        self._backend: Backend | None = None
        self._calibrators: dict[str, Any] = {}
        self._lock = threading.Lock()  # opening databases, building the backend
        self._asking = threading.Lock()  # one question at a time for backends that need it

    @property
    def names(self) -> list[str]:
        return list(self.targets)

    def database(self, name: str | None = None) -> tuple[str, Database]:
        """The named database (the default one for ``None``), opened on first use."""
        if not self.targets:
            raise InvalidInput("Give at least one database (--db).")
        key = name or next(iter(self.targets))
        if key not in self.targets:
            raise NotFound(f"No database named {key!r}; served: {', '.join(self.targets)}.")
        with self._lock:
            if key not in self._opened:
                target = self.targets[key]
                assert isinstance(target, str)
                self._opened[key] = honestsql.connect(target, **self._connect_options)
            return key, self._opened[key]

    @property
    def has_backend(self) -> bool:
        return self._factory is not None

    def backend(self) -> Backend:
        """The backend, built on first use."""
        with self._lock:
            if self._backend is None:
                if self._factory is None:
                    raise NoBackend(NO_MODEL)
                self._backend = (
                    self._factory if isinstance(self._factory, Backend) else self._factory()
                )
            return self._backend

    def _calibrator_for(self, backend: Backend, settings: Settings) -> Any:
        """The calibrator of the backend's model under the question's grammar, loaded on the
        first calibrated question that uses it; ``None`` for one asked with ``calibrated=False``."""
        if not settings.calibrated:
            return None
        with self._lock:
            if settings.grammar not in self._calibrators:
                self._calibrators[settings.grammar] = calibration.for_backend(backend, settings)
            return self._calibrators[settings.grammar]

    def pipeline(
        self, database: Database, settings: Settings | None = None, *, audited: bool = True
    ) -> Pipeline:
        backend = self.backend()
        settings = settings or self.settings
        glossary = self.glossary
        if glossary is not None and database not in self._verified:
            glossary.verify(database)
            self._verified.add(database)
        return Pipeline(
            database,
            backend,
            settings,
            self.audit if audited else None,
            self.memory,
            calibrator=self._calibrator_for(backend, settings),
            glossary=glossary,
        )

    def ask(
        self,
        question: str,
        *,
        db: str | Database | None = None,
        target: float = 0.75,
        evidence: str = "",
        audited: bool = True,
        on_stage: OnStage | None = None,
        conversation: str | None = None,
        standalone: str | None = None,
        **changes: Any,
    ) -> Answer:
        """Answer ``question`` on the named (or given) database; ``changes`` override settings
        for this question only (``candidates=1``, ``timeout=5``, ...); ``on_stage(stage,
        message)`` hears each stage as it starts.

        With a conversation store, the question joins ``conversation`` (a new one when
        ``None``): a follow-up is first rewritten into a standalone question by the model, or
        taken as ``standalone`` when the user edited that rewrite."""
        if not question.strip():
            raise InvalidInput("The question is empty.")
        if self.conversations is None:
            if conversation is not None or standalone is not None:
                raise InvalidInput("Follow-up questions need a conversation store.")
            return self._ask(question, db, target, evidence, audited, on_stage, changes)
        if conversation is not None and db is None:
            db = self.conversations.database(conversation)
        key = db.display_url if isinstance(db, Database) else self.database(db)[0]
        history = self.conversations.turns(conversation) if conversation else []
        usage = {"prompt_tokens": 0, "completion_tokens": 0}
        if standalone is None or not standalone.strip():
            if history and on_stage is not None:
                on_stage("rewriting", "Reading the follow-up in the light of the conversation")
            with self._one_at_a_time():
                standalone, usage = conversation_module.standalone(
                    self.backend(), history, question
                )
        hint = conversation_module.context_hint(history)
        # The answer is worded in the language the follow-up was asked in, whatever the rewrite's.
        language = wording.language_of(question)
        answer = self._ask(
            standalone, db, target, evidence, audited, on_stage, changes, hint, language
        )
        conversation = conversation or self.conversations.start(key, question)
        self.conversations.add(conversation, question, standalone, answer)
        answer.conversation = conversation
        answer.standalone_question = standalone
        for part, tokens in usage.items():
            answer.usage[part] = answer.usage.get(part, 0) + tokens
        if standalone != question and answer.decision == "abstain" and answer.reasons:
            language = answer.prose["language"] if answer.prose else "en"
            said = wording.say("read_as", language, question=repr(standalone))
            answer.reasons[0]["message"] += " " + said
        return answer

    def _one_at_a_time(self) -> Any:
        return contextlib.nullcontext() if self.backend().thread_safe else self._asking

    def _ask(
        self,
        question: str,
        db: str | Database | None,
        target: float,
        evidence: str,
        audited: bool,
        on_stage: OnStage | None,
        changes: dict[str, Any],
        context: str = "",
        language: str | None = None,
    ) -> Answer:
        database = db if isinstance(db, Database) else self.database(db)[1]
        settings = replace(self.settings, **changes) if changes else self.settings
        pipeline = self.pipeline(database, settings, audited=audited)
        with self._one_at_a_time():
            reading, usage = "", dict[str, int]()
            if wording.language_of(question) != "en":
                if on_stage is not None:
                    on_stage("reading", "Reading the question in English")
                words = [table.name for table in database.catalog().tables]
                reading, usage = conversation_module.in_english(pipeline.backend, question, words)
            answer = pipeline.ask(
                reading or question,
                target=target,
                evidence=evidence,
                on_stage=on_stage,
                context=context,
                language=language or wording.language_of(question),
            )
        for part, tokens in usage.items():
            answer.usage[part] = answer.usage.get(part, 0) + tokens
        answer.reading = reading or None
        return answer

    def check(
        self,
        sql: str,
        *,
        db: str | None = None,
        timeout: float | None = None,
        max_rows: int | None = None,
        execute: bool = True,
    ) -> CheckResult:
        """Verify ``sql`` against the named database's schema and, if it passes, run it."""
        _, database = self.database(db)
        return check(
            database,
            sql,
            timeout=self.settings.timeout if timeout is None else timeout,
            max_rows=self.settings.max_rows if max_rows is None else max_rows,
            execute=execute,
        )

    def close(self) -> None:
        for name, database in self._opened.items():
            if not isinstance(self.targets.get(name), Database):
                database.close()
        self._opened = {n: t for n, t in self.targets.items() if isinstance(t, Database)}

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


__all__ = ["Service"]


def _name_of(database: str | Database) -> str:
    """A database's display URL (no password), or its ``--db`` text when that does not parse."""
    if isinstance(database, Database):
        return database.display_url
    if database.strip() == honestsql.demo.NAME:
        return honestsql.demo.NAME
    try:
        return urls.display(urls.parse(database))
    except HonestSQLError:
        return database
