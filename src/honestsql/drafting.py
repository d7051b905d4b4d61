"""Candidates for one question: ask the model, check every reply, repair the failing ones.

A ``Drafter`` holds what does not change between questions (the database, the model, the
settings, the glossary); what one question accumulates (tokens, prompts, checked queries,
timings) lives in the ``Question`` made for it alone, so nothing of one question reaches the
next. ``honestsql.pipeline`` wires this between linking and deciding.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from honestsql import prompts
from honestsql.candidates import Candidate
from honestsql.check import CheckResult, check
from honestsql.db import Database
from honestsql.glossary import Glossary
from honestsql.llm import Backend, GenerationRequest, Likelihood
from honestsql.settings import Settings

#: Candidates to ask for: the conversation, how many, the temperature, the seed's offset.
Asked = tuple[list[dict[str, str]], int, float, int]

#: Hears a stage as it starts: its name and a sentence for people.
OnStage = Callable[[str, str], None]


def quiet(stage: str, message: str) -> None:
    """The default ``on_stage``: nobody listens."""


@dataclass
class Question:
    """What one question accumulates on its way through the pipeline."""

    usage: dict[str, int] = field(
        default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0}
    )
    prompts: list[tuple[list[dict[str, str]], list[str]]] = field(default_factory=list)
    #: Each distinct SQL text is checked (verified, run, grounded) once per question.
    checked: dict[str, CheckResult] = field(default_factory=dict)
    #: The question asked, and the language its answer is worded in.
    text: str = ""
    language: str = "en"
    #: Hears each stage as it starts (``Pipeline.ask(on_stage=...)``).
    stage: OnStage = quiet
    #: The decoding grammar, the prompt's stable prefix and the milliseconds each phase took.
    grammar: str | None = None
    stable: str = ""
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Drafter:
    db: Database
    backend: Backend
    settings: Settings
    #: Business terms, already verified against ``db``: a candidate that contradicts one is
    #: rejected (``honestsql.glossary``).
    glossary: Glossary | None = None

    def round(self, state: Question, asked: list[Asked]) -> list[Candidate]:
        """The candidates ``asked`` for, checked and repaired."""
        timings, phase = state.timings, time.perf_counter()
        replies = self._generate_many(state, [self._request(state, one) for one in asked])
        texts = [(r, one[0]) for rs, one in zip(replies, asked, strict=True) for r in rs]
        timings["generate"] = timings.get("generate", 0.0) + ms(phase)
        phase = time.perf_counter()
        candidates = self._candidates(state, texts)
        timings["verify_execute_repair"] = timings.get("verify_execute_repair", 0.0) + ms(phase)
        return candidates

    def _request(self, state: Question, asked: Asked, stable: bool = True) -> GenerationRequest:
        messages, n, temperature, seed_offset = asked
        seed = None if self.settings.seed is None else self.settings.seed + seed_offset
        prefix = state.stable if stable else ""
        max_tokens = self.settings.max_tokens
        return GenerationRequest(messages, n, temperature, max_tokens, state.grammar, seed, prefix)

    def _generate_many(
        self, state: Question, requests: list[GenerationRequest]
    ) -> list[list[tuple[str, Likelihood | None]]]:
        """Each request's replies, with the model's likelihood of each where the backend reads
        it."""
        completions = self.backend.generate_many(requests)
        for request, completion in zip(requests, completions, strict=True):
            state.usage["prompt_tokens"] += completion.prompt_tokens
            state.usage["completion_tokens"] += completion.completion_tokens
            state.prompts.append((request.messages, completion.texts))
        return [completion.replies() for completion in completions]

    def _check(self, state: Question, candidate: Candidate) -> None:
        assert candidate.sql is not None
        result = state.checked.get(candidate.sql)
        if result is None:
            result = state.checked[candidate.sql] = check(
                self.db,
                candidate.sql,
                timeout=self.settings.timeout,
                max_rows=self.settings.max_rows,
                ground=True,
                quoted_strings=True,
            )
        candidate.findings = result.errors
        candidate.warnings = result.warnings
        candidate.sql = result.sql or candidate.sql
        if result.ok and self.glossary is not None:
            candidate.findings = self.glossary.contradictions(
                candidate.sql, state.text, self.db.sql_dialect
            )
            if candidate.findings:
                candidate.status = "rejected"
                return
        if result.ok and result.result is not None:
            candidate.status = "ok"
            candidate.result = result.result
            candidate.result_hash = result.result.key
            candidate.ungrounded = result.ungrounded
        else:
            candidate.status = result.status

    def _candidates(
        self,
        state: Question,
        texts: list[tuple[tuple[str, Likelihood | None], list[dict[str, str]]]],
    ) -> list[Candidate]:
        """Check every reply; repair the failing ones in rounds, each round's repairs asked
        together (identical repair conversations asked once)."""
        candidates: list[Candidate] = []
        conversations: list[list[dict[str, str]]] = []
        for index, ((text, likelihood), messages) in enumerate(texts, 1):
            state.stage("verifying", f"Checking and running candidate {index} of {len(texts)}")
            sql, reason = prompts.extract_sql(text)
            candidate = Candidate(text=text, sql=sql, first_sql=sql, likelihood=likelihood)
            if sql is None:
                candidate.status = "abstain"
                candidate.abstain_reason = reason or "empty reply"
            else:
                self._check(state, candidate)
            candidates.append(candidate)
            conversations.append(messages)
        for round_ in range(1, self.settings.max_repairs + 1):
            # A failed query the model gave up repairing keeps its reason and is asked no more.
            failing = [i for i, c in enumerate(candidates) if _repairable(c)]
            if not failing:
                break
            state.stage(
                "repairing", f"Repairing {queries(len(failing))} that failed (round {round_})"
            )
            requests: dict[str, GenerationRequest] = {}
            for i in failing:
                problems = [
                    f.message
                    + (f" Did you mean: {', '.join(f.suggestions)}?" if f.suggestions else "")
                    for f in candidates[i].findings
                ] or ["It failed to run."]
                conversations[i] = prompts.repair_messages(
                    conversations[i], candidates[i].sql or "", problems
                )
                requests.setdefault(
                    _key(conversations[i]),
                    self._request(state, (conversations[i], 1, 0.0, 0), stable=False),
                )
            replies = dict(
                zip(requests, self._generate_many(state, list(requests.values())), strict=True)
            )
            for i in failing:
                candidate = candidates[i]
                reply = replies[_key(conversations[i])]
                candidate.repairs += 1
                sql, reason = prompts.extract_sql(reply[0][0] if reply else "")
                if sql is None:  # a repair given up: still a failed query, not a decline
                    candidate.abstain_reason = reason or "gave up"
                    continue
                candidate.sql, candidate.likelihood = sql, reply[0][1]
                self._check(state, candidate)
        return candidates


def agree(candidates: list[Candidate]) -> bool:
    """Every candidate ran, and to the same result."""
    ran = all(c.status == "ok" for c in candidates)
    return ran and len({c.result_hash for c in candidates}) == 1


def _repairable(candidate: Candidate) -> bool:
    return candidate.status not in {"ok", "abstain"} and not candidate.abstain_reason


def _key(conversation: list[dict[str, str]]) -> str:
    return json.dumps(conversation, sort_keys=True)


def queries(n: int, kind: str = "") -> str:
    """``1 query``, ``5 candidate queries``: for the stage messages."""
    return f"{n} {kind}quer{'y' if n == 1 else 'ies'}"


def ms(since: float) -> float:
    """Milliseconds since ``since`` (a ``time.perf_counter()`` reading)."""
    return (time.perf_counter() - since) * 1000
