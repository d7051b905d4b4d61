"""From candidates to a decision: answer with a confidence, or abstain with a reason.

The confidence is one calibrated map (``honestsql.calibration``) from the signals of the
candidates (``signals``: how many agree and by what margin, how many distinct answers, failed and
abstaining candidates, repairs, an empty, all-NULL, all-zero or cut result, text values not found
in the data, literals of another type than their column, how much of the question the schema
knows) to P(correct). It is fitted on a model's own candidates and applied as it is, never
multiplied by hand-set factors afterwards: that would undo the calibration. Without a calibrator
the confidence is the plain share of candidates that agree.

Answer only when the confidence is above the target ``t``: with a wrong answer costing
t/(1-t) and an abstention 0, that is the rule that maximizes the expected penalized score.
Two rules come before it: when most candidates say the question cannot be answered, abstain;
when two answers are equally supported and the backend cannot tell how likely the model found
each, ask which reading was meant rather than pick one (with likelihoods, the likelier reading is
chosen and the confidence weighs it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from honestsql.answer import ReasonCode, ReasonInfo
from honestsql.calibration import AnyCalibrator, merges_in_order, schema_columns
from honestsql.candidates import Candidate, agreement, result_key, shown_query, weighed
from honestsql.catalog import Catalog
from honestsql.clues import asked_unknown, clues, named_unread
from honestsql.db.result import holds_nothing
from honestsql.merging import merge_wider
from honestsql.wording import say


@dataclass
class Reason:
    code: ReasonCode
    message: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> ReasonInfo:
        return {"code": self.code, "message": self.message, **self.detail}  # type: ignore[typeddict-item]


@dataclass
class Decision:
    answer: bool
    confidence: float
    chosen: Candidate | None
    reasons: list[Reason]
    notes: list[str] = field(default_factory=list)
    #: The calibrator's input (``signals``), kept so confidence can be refitted from runs.
    signals: dict[str, float] = field(default_factory=dict)


def signals(
    candidates: list[Candidate],
    relevance: float,
    question: str = "",
    dialect: str | None = None,
    self_check: float | None = None,
    catalog: Catalog | None = None,
) -> dict[str, float]:
    """What the calibrator may see of one question's candidates (each a number in [0, 1]): the
    agreement and the chosen result, the clauses and the result's shape (``honestsql.clues``),
    the model's likelihood of the agreeing queries and its own yes/no check of the leading one
    (``honestsql.selfcheck``) where the backend reads them, and, given the database's
    ``catalog``, the size of its schema (``calibration.schema_columns``) and whether the chosen
    query leaves out a column the question names (``clues.named_unread``). A calibrator reads
    those it has weights for."""
    n = len(candidates) or 1
    ok, ranked, members = agreement(candidates)
    top = ranked[0][1] / n if ranked else 0.0
    second = ranked[1][1] / n if len(ranked) > 1 else 0.0
    chosen = shown_query(members)
    result = chosen.result if chosen else None
    empty = result is not None and holds_nothing(result.rows)
    likely = [c.likelihood for c in members if c.likelihood is not None]
    ran = [c if c.status == "ok" else Candidate(text="") for c in candidates]
    sqls = [c.sql for c in ran]
    where = next((i for i, c in enumerate(candidates) if c is chosen), None)
    return {
        **clues(question, sqls, where, [c.result.rows if c.result else None for c in ran], dialect),
        **(
            {
                "likelihood": sum(math.exp(x.mean) for x in likely) / len(likely),
                "least_likely": max(math.exp(x.least) for x in likely),
            }
            if likely
            else {}
        ),
        **({"self_check": self_check} if self_check is not None else {}),
        **(schema_signals(catalog, question, sqls[where] if where is not None else None, dialect)),
        "top_share": top,
        "margin": top - second,
        "distinct_share": len(ranked) / n,
        "failed_share": sum(1 for c in candidates if c.status in {"rejected", "error"}) / n,
        "abstain_share": sum(1 for c in candidates if c.status == "abstain") / n,
        "greedy_agrees": 1.0 if candidates and candidates[0] in members else 0.0,
        "repaired": 1.0 if members and all(c.repairs for c in members) else 0.0,
        "empty": 1.0 if empty else 0.0,
        "truncated": 1.0 if result is not None and result.truncated else 0.0,
        "ungrounded": 1.0 if chosen is not None and chosen.ungrounded else 0.0,
        # Any warning of the verifier: a literal of another type, arithmetic on an identifier.
        "type_mismatch": 1.0 if chosen is not None and chosen.warnings else 0.0,
        "relevance": relevance,
    }


#: What ``schema_signals`` reads.
SCHEMA_SIGNALS = ("schema_columns", "named_unread", "asked_unknown")


def schema_signals(
    catalog: Catalog | None, question: str, sql: str | None, dialect: str | None
) -> dict[str, float]:
    """The signals read from the database's schema: its size, whether ``sql`` leaves out a
    column the question names, and whether the question asks for an attribute the schema does
    not name (none without a catalog)."""
    if catalog is None or (size := schema_columns(catalog)) is None:
        return {}
    return {
        "schema_columns": size,
        "named_unread": named_unread(question, sql, catalog, dialect),
        "asked_unknown": asked_unknown(question, catalog),
    }


def decide(
    candidates: list[Candidate],
    *,
    target: float,
    relevance: float,
    calibrator: AnyCalibrator | None = None,
    question: str = "",
    dialect: str | None = None,
    language: str = "en",
    self_check: float | None = None,
    catalog: Catalog | None = None,
    shown: list[str] | None = None,
) -> Decision:
    """Answer or abstain (see the module's text); the words for people are in ``language``;
    ``shown`` are the verified examples the prompt held, named in the notes."""
    if merges_in_order(calibrator):
        merge_wider(candidates)
    seen = signals(candidates, relevance, question, dialect, self_check, catalog)
    decision = _decided(candidates, seen, target, relevance, calibrator, language)
    decision.notes += [say("shown_example", language, question=q) for q in shown or []]
    return decision


def _decided(
    candidates: list[Candidate],
    seen: dict[str, float],
    target: float,
    relevance: float,
    calibrator: AnyCalibrator | None,
    language: str,
) -> Decision:
    n = len(candidates)
    abstained = [c for c in candidates if c.status == "abstain"]
    ok, ranked, members = agreement(candidates)
    if n and len(abstained) * 2 > n:
        return Decision(False, 0.0, None, [_abstention_reason(abstained, language)], signals=seen)
    if not ok:
        return Decision(False, 0.0, None, [_failed(candidates, language)], signals=seen)
    top_size = ranked[0][1]
    chosen = shown_query(members)
    assert chosen is not None and chosen.result is not None
    notes = [
        say("all_agree", language, n=n)
        if top_size == n
        else say("disagree", language, top=top_size, n=n)
    ]
    if narrower := sum(1 for c in members if c.group is not None):  # merge_wider counted them
        notes.append(say("narrower_agree", language, k=narrower))
    fitted_on = calibrator.fitted_on if calibrator is not None else ""
    calibrated = say("calibrated", language, model=fitted_on.partition(":")[0] or "past runs")
    if calibrator is not None:
        confidence = calibrator.probability(seen)
        notes.append(calibrated)
    else:
        confidence = top_size / n
    described = {
        "repaired": say("repaired", language),
        "empty": say("empty", language),
        "truncated": say("truncated", language),
        "type_mismatch": "; ".join(w.message for w in chosen.warnings),
    }
    notes.extend(text for key, text in described.items() if seen[key] and text)
    if chosen.ungrounded:
        notes.append(say("ungrounded", language, values=", ".join(chosen.ungrounded)))
    if relevance < 0.34:
        notes.append(say("few_words", language))
    confidence = max(0.0, min(1.0, confidence))
    if len(ranked) > 1 and ranked[1][1] == top_size >= 2 and not weighed(ok):
        # Equally supported readings that give different answers and nothing to weigh them:
        # picking one would be a guess, whatever the target. With the model's likelihoods the
        # likelier reading is weighed like any other (its margin is 0).
        rivals = [c for c in ok if result_key(c) == ranked[1][0]]
        reason = Reason(
            "ambiguous",
            say("ambiguous", language),
            {
                "readings": [chosen.sql, rivals[0].sql],
                "clarifying_question": say("which_reading", language)
                + " "
                + " / ".join(
                    f"({i}) {sql}" for i, sql in enumerate([chosen.sql, rivals[0].sql], 1)
                ),
            },
        )
        return Decision(False, confidence, chosen, [reason], notes, seen)
    if confidence > target:
        return Decision(True, confidence, chosen, [], notes, seen)
    plain = "; ".join(note for note in notes if note != calibrated)
    reason = Reason(
        "low_agreement",
        say(
            "low_agreement",
            language,
            notes=plain,
            confidence=f"{confidence:.2f}",
            target=f"{target:.2f}",
        ),
        {"next_steps": _steps(language, "see_queries", "lower_target", "teach")},
    )
    return Decision(False, confidence, chosen, [reason], notes, seen)


def _steps(language: str, *keys: str) -> list[str]:
    """What a user can do next, named in every abstention's ``next_steps``."""
    return [say(key, language) for key in keys]


def _failed(candidates: list[Candidate], language: str) -> Reason:
    """No query ran: every one was refused or failed (a repair the model gave up included)."""
    problems = sorted({f.message for c in candidates for f in c.findings})[:5]
    model_reasons = sorted(
        {c.abstain_reason for c in candidates if c.abstain_reason and c.status != "abstain"}
    )[:3]
    shown = "; ".join(p.rstrip(".") for p in problems[:2]) or say("no_query", language)
    return Reason(
        "all_candidates_failed",
        say("failed", language, problems=shown),
        {
            "problems": problems,
            **({"model_reasons": model_reasons} if model_reasons else {}),
            "next_steps": _steps(language, "see_queries", "teach"),
        },
    )


def _abstention_reason(abstained: list[Candidate], language: str) -> Reason:
    said = " ".join((c.abstain_reason or "").lower() for c in abstained)
    examples = sorted({c.abstain_reason or "" for c in abstained})[:3]
    if "ambiguous" in said or "unclear" in said:
        return Reason(
            "ambiguous",
            say("model_ambiguous", language),
            {"model_reasons": examples, "clarifying_question": examples[0] if examples else ""},
        )
    if "not about" in said or "unrelated" in said or "not related" in said:
        return Reason(
            "not_about_this_database",
            say("model_unrelated", language),
            {"model_reasons": examples, "next_steps": _steps(language, "check_words")},
        )
    return Reason(
        "unanswerable_with_schema",
        say("model_unanswerable_why", language, why=examples[0])
        if examples and examples[0]
        else say("model_unanswerable", language),
        {"model_reasons": examples, "next_steps": _steps(language, "check_words", "see_queries")},
    )
