"""The flow of one question: link, prompt, generate, verify, execute, repair, decide.

The pipeline wires stages together and holds no judgement of its own: checking (grounding
probes included) is ``honestsql.check``, deciding (the not-about-this-database gate included) is
``honestsql.decide``, prompting is ``honestsql.prompts``. What one question accumulates (tokens,
prompts, checked queries) lives in a ``_Question`` local to ``ask``, so nothing of one question
reaches the next, even after an exception. Build pipelines through ``honestsql.service``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from honestsql import calibration, linking, prompts, selfcheck, wording
from honestsql.answer import Answer, alternatives
from honestsql.audit import AuditLog
from honestsql.check import CheckResult, check
from honestsql.db import Database
from honestsql.decide import Candidate, Decision, decide
from honestsql.gates import off_topic, write_request
from honestsql.glossary import Glossary
from honestsql.linking import embeddings
from honestsql.llm import Backend, GenerationRequest, Likelihood
from honestsql.llm.full_grammar import decoding_grammar
from honestsql.memory import Memory
from honestsql.settings import Settings

#: ``Pipeline(calibrator=...)`` left out: load the one for the backend's model.
_LOAD = object()


#: Candidates to ask for: the conversation, how many, the temperature, the seed's offset.
_Asked = tuple[list[dict[str, str]], int, float, int]

#: Hears a stage as it starts: its name and a sentence for people.
OnStage = Callable[[str, str], None]


def _quiet(stage: str, message: str) -> None:
    """The default ``on_stage``: nobody listens."""


@dataclass
class _Question:
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
    stage: OnStage = _quiet
    #: The decoding grammar, the prompt's stable prefix and the milliseconds each phase took.
    grammar: str | None = None
    stable: str = ""
    timings: dict[str, float] = field(default_factory=dict)


class Pipeline:
    def __init__(
        self,
        db: Database,
        backend: Backend,
        settings: Settings | None = None,
        audit: AuditLog | None = None,
        memory: Memory | None = None,
        *,
        calibrator: Any = _LOAD,
        glossary: Glossary | None = None,
    ) -> None:
        self.db = db
        #: Business terms, already verified against ``db`` (``honestsql.glossary``).
        self.glossary = glossary
        self.backend = backend
        self.settings = settings or Settings()
        self.audit = audit
        self.memory = memory
        self.calibrator = (
            calibration.for_backend(backend, self.settings) if calibrator is _LOAD else calibrator
        )

    def _request(self, state: _Question, asked: _Asked, stable: bool = True) -> GenerationRequest:
        messages, n, temperature, seed_offset = asked
        seed = None if self.settings.seed is None else self.settings.seed + seed_offset
        prefix = state.stable if stable else ""
        max_tokens = self.settings.max_tokens
        return GenerationRequest(messages, n, temperature, max_tokens, state.grammar, seed, prefix)

    def _generate_many(
        self, question: _Question, requests: list[GenerationRequest]
    ) -> list[list[tuple[str, Likelihood | None]]]:
        """Each request's replies, with the model's likelihood of each where the backend reads
        it."""
        completions = self.backend.generate_many(requests)
        for request, completion in zip(requests, completions, strict=True):
            question.usage["prompt_tokens"] += completion.prompt_tokens
            question.usage["completion_tokens"] += completion.completion_tokens
            question.prompts.append((request.messages, completion.texts))
        return [completion.replies() for completion in completions]

    def _check(self, question: _Question, candidate: Candidate) -> None:
        assert candidate.sql is not None
        result = question.checked.get(candidate.sql)
        if result is None:
            result = question.checked[candidate.sql] = check(
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
                candidate.sql, question.text, self.db.sql_dialect
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
        question: _Question,
        texts: list[tuple[tuple[str, Likelihood | None], list[dict[str, str]]]],
    ) -> list[Candidate]:
        """Check every reply; repair the failing ones in rounds, each round's repairs asked
        together (identical repair conversations asked once)."""
        candidates: list[Candidate] = []
        conversations: list[list[dict[str, str]]] = []
        for index, ((text, likelihood), messages) in enumerate(texts, 1):
            question.stage("verifying", f"Checking and running candidate {index} of {len(texts)}")
            sql, reason = prompts.extract_sql(text)
            candidate = Candidate(text=text, sql=sql, first_sql=sql, likelihood=likelihood)
            if sql is None:
                candidate.status = "abstain"
                candidate.abstain_reason = reason or "empty reply"
            else:
                self._check(question, candidate)
            candidates.append(candidate)
            conversations.append(messages)
        for round_ in range(1, self.settings.max_repairs + 1):
            # A failed query the model gave up repairing keeps its reason and is asked no more.
            failing = [i for i, c in enumerate(candidates) if _repairable(c)]
            if not failing:
                break
            question.stage(
                "repairing", f"Repairing {_queries(len(failing))} that failed (round {round_})"
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
                    self._request(question, (conversations[i], 1, 0.0, 0), stable=False),
                )
            replies = dict(
                zip(requests, self._generate_many(question, list(requests.values())), strict=True)
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
                self._check(question, candidate)
        return candidates

    def _round(self, state: _Question, asked: list[_Asked]) -> list[Candidate]:
        """The candidates ``asked`` for, checked and repaired."""
        timings, phase = state.timings, time.perf_counter()
        replies = self._generate_many(state, [self._request(state, one) for one in asked])
        texts = [(r, one[0]) for rs, one in zip(replies, asked, strict=True) for r in rs]
        timings["generate"] = timings.get("generate", 0.0) + _ms(phase)
        phase = time.perf_counter()
        candidates = self._candidates(state, texts)
        timings["verify_execute_repair"] = timings.get("verify_execute_repair", 0.0) + _ms(phase)
        return candidates

    def ask(
        self,
        question: str,
        *,
        target: float = 0.75,
        evidence: str = "",
        on_stage: OnStage | None = None,
        context: str = "",
        language: str | None = None,
    ) -> Answer:
        """Answer ``question``; ``on_stage(stage, message)`` hears each stage as it starts, for
        progress displays; ``context`` (a conversation's previous turn) goes to the prompt as a
        hint but does not count toward the question being about this database; the words for
        people are in ``language`` (by default the question's)."""
        stage = on_stage or _quiet
        language = language or wording.language_of(question)
        state = _Question(stage=stage, text=question, language=language)
        hint = self.glossary.hint(question) if self.glossary is not None else ""
        evidence = "; ".join(part for part in (evidence, hint) if part)
        stage("linking", "Finding the tables the question is about")
        timings, started = state.timings, time.perf_counter()
        catalog = self.db.catalog()
        dialect = self.db.sql_dialect
        relevance = linking.relevance(question, catalog, evidence)
        evidence = "; ".join(part for part in (evidence, context) if part)
        redact, inline = self.settings.redacts(self.backend.local), self.settings.inline_samples
        show = partial(prompts.render_schema, catalog, dialect, redact=redact, inline=inline)
        render = lambda tables: show(tables).text  # noqa: E731
        tables = linking.select_tables(
            question,
            catalog,
            self.settings.schema_budget_chars,
            render,
            self.db,
            evidence=evidence,
            embedder=embeddings.required() if self.settings.embeddings else None,
        )
        schema = show(tables)
        timings["link"] = _ms(started)
        gate = write_request(question, state.language) or (
            off_topic(relevance, linking.content_words(question), state.language)
            if self.settings.relevance_gate and language == "en" and linking.is_english(question)
            else None
        )
        if gate is not None:
            timings["total"] = _ms(started)
            return self._finish(state, target, gate, [], schema)
        state.grammar = decoding_grammar(
            self.settings.grammar,
            catalog,
            dialect,
            [t.name for t in tables],
            gbnf=self.backend.supports_grammar,
            lark=self.backend.supports_lark,
        )
        shown = self.memory.examples(self.db, question) if self.memory else []
        notes = self.settings.dialect_notes
        write = partial(prompts.messages, question, schema, dialect, evidence=evidence, notes=notes)
        first, second = write(variant=0, examples=shown), write(variant=1, examples=shown)
        stable = state.stable = prompts.stable_part(schema)
        n = max(1, self.settings.candidates)
        k = max(1, min(n, self.settings.early_stop or n))  # asked for first
        stage("generating", f"Writing {_queries(k, 'candidate ')}")
        asked = [(first, 1, 0.0, 0)] + [(second, k - 1, self.settings.temperature, 1)] * (k > 1)
        candidates = self._round(state, asked)
        if k < n and not _agree(candidates):
            stage("generating", f"They disagree: writing {_queries(n - k, 'more ')}")
            candidates += self._round(state, [(second, n - k, self.settings.temperature, 2)])
        stage("deciding", "Weighing the candidates")
        checked = selfcheck.self_check(
            self.backend, self.settings, self.calibrator, first, candidates, stable, state.usage
        )
        decision = decide(
            candidates,
            target=target,
            relevance=relevance,
            calibrator=self.calibrator,
            question=question,
            dialect=dialect,
            language=state.language,
            self_check=checked,
            catalog=catalog,
            shown=[q for q, _ in shown[:2]],
        )
        timings["total"] = _ms(started)
        return self._finish(state, target, decision, candidates, schema)

    def _finish(
        self,
        state: _Question,
        target: float,
        decision: Decision,
        candidates: list[Candidate],
        schema: prompts.SchemaText,
    ) -> Answer:
        chosen = decision.chosen
        result = chosen.result if (decision.answer and chosen) else None
        answer = Answer(
            decision="answer" if decision.answer else "abstain",
            confidence=round(decision.confidence, 4),
            sql=chosen.sql if (decision.answer and chosen) else None,
            columns=[c.to_dict() for c in result.columns] if result else [],
            rows=result.json_rows() if result else [],
            truncated=result.truncated if result else False,
            reasons=[r.to_dict() for r in decision.reasons],
            candidates=[c.to_dict() for c in candidates],
            usage=dict(state.usage),
            timings_ms={k: round(v, 2) for k, v in state.timings.items()},
            notes=decision.notes,
            flagged_values=schema.flagged,
            backend=self.backend.describe(),
            signals={k: round(v, 4) for k, v in decision.signals.items()},
            chosen=next((i for i, c in enumerate(candidates) if c is chosen), None),
            alternatives=[] if decision.answer else alternatives(candidates),
        )
        answer.word(target, state.language)
        if self.audit is not None:
            self.audit.record(
                database=self.db.display_url,
                question=state.text,
                target=target,
                backend=answer.backend,
                answer=answer.to_dict(),
                prompts=state.prompts,
            )
        return answer


def _agree(candidates: list[Candidate]) -> bool:
    """Every candidate ran, and to the same result."""
    ran = all(c.status == "ok" for c in candidates)
    return ran and len({c.result_hash for c in candidates}) == 1


def _repairable(candidate: Candidate) -> bool:
    return candidate.status not in {"ok", "abstain"} and not candidate.abstain_reason


def _key(conversation: list[dict[str, str]]) -> str:
    return json.dumps(conversation, sort_keys=True)


def _queries(n: int, kind: str = "") -> str:
    """``1 query``, ``5 candidate queries``: for the stage messages."""
    return f"{n} {kind}quer{'y' if n == 1 else 'ies'}"


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000


__all__ = ["Answer", "OnStage", "Pipeline", "Settings"]
