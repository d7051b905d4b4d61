"""The flow of one question: link, prompt, generate, verify, execute, repair, decide.

The pipeline wires stages together and holds no judgement of its own: writing, checking and
repairing candidates is ``honestsql.drafting`` (checking itself, grounding probes included,
``honestsql.check``), deciding (the not-about-this-database gate included) is
``honestsql.decide``, prompting is ``honestsql.prompts``. What one question accumulates (tokens,
prompts, checked queries) lives in a ``drafting.Question`` local to ``ask``, so nothing of one
question reaches the next, even after an exception. Build pipelines through
``honestsql.service``.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from honestsql import calibration, linking, prompts, selfcheck, wording
from honestsql.answer import Answer, alternatives
from honestsql.audit import AuditLog
from honestsql.candidates import Candidate
from honestsql.db import Database
from honestsql.decide import Decision, decide
from honestsql.drafting import Drafter, OnStage, Question, agree, ms, queries, quiet
from honestsql.gates import off_topic, write_request
from honestsql.glossary import Glossary
from honestsql.linking import embeddings
from honestsql.llm import Backend
from honestsql.llm.full_grammar import decoding_grammar
from honestsql.memory import Memory
from honestsql.settings import Settings

#: ``Pipeline(calibrator=...)`` left out: load the one for the backend's model.
_LOAD = object()


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
        stage = on_stage or quiet
        language = language or wording.language_of(question)
        state = Question(stage=stage, text=question, language=language)
        drafter = Drafter(self.db, self.backend, self.settings, self.glossary)
        hint = self.glossary.hint(question) if self.glossary is not None else ""
        evidence = "; ".join(part for part in (evidence, hint) if part)
        stage("linking", "Finding the tables the question is about")
        timings, started = state.timings, time.perf_counter()
        catalog = self.db.catalog()
        dialect = self.db.sql_dialect
        relevance = linking.relevance(question, catalog, evidence)
        evidence = "; ".join(part for part in (evidence, context) if part)
        show = partial(
            prompts.render_schema,
            catalog,
            dialect,
            redact=self.settings.redacts(self.backend.local),
            inline=self.settings.inline_samples,
        )
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
        timings["link"] = ms(started)
        gate = write_request(question, state.language) or (
            off_topic(relevance, linking.content_words(question), state.language)
            if self.settings.relevance_gate and language == "en" and linking.is_english(question)
            else None
        )
        if gate is not None:
            timings["total"] = ms(started)
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
        stage("generating", f"Writing {queries(k, 'candidate ')}")
        asked = [(first, 1, 0.0, 0)] + [(second, k - 1, self.settings.temperature, 1)] * (k > 1)
        candidates = drafter.round(state, asked)
        if k < n and not agree(candidates):
            stage("generating", f"They disagree: writing {queries(n - k, 'more ')}")
            candidates += drafter.round(state, [(second, n - k, self.settings.temperature, 2)])
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
        timings["total"] = ms(started)
        return self._finish(state, target, decision, candidates, schema)

    def _finish(
        self,
        state: Question,
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


__all__ = ["Answer", "OnStage", "Pipeline", "Settings"]
