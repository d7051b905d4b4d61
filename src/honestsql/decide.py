"""From candidates to a decision: answer with a confidence, or abstain with a reason.

The confidence starts from how strongly the candidates agree: the calibrated probability that
the agreed answer is right (``honestsql.calibration``: isotonic in the agreement margin, fitted on
real systems' outputs), or, without a calibrator, the plain share of candidates that agree. It
is then discounted for what makes agreement less convincing:

| signal | factor |
|---|---|
| the winning answer needed a repair round | x 0.85 |
| the result is empty, or all NULL | x 0.6 |
| the result was cut at the row cap | x 0.9 |
| a text value compared in the query does not occur in its column | x 0.5 |
| a literal of another type than its column | x 0.8 |
| few question words match the schema | x 0.7 |

Answer only when the confidence is above the target ``t``: with a wrong answer costing
t/(1-t) and an abstention 0, that is the rule that maximizes the expected penalized score.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from honestsql.calibration import Calibrator, Observation
from honestsql.db import QueryResult
from honestsql.findings import Finding

ReasonCode = Literal[
    "not_about_this_database",
    "unanswerable_with_schema",
    "ambiguous",
    "low_agreement",
    "all_candidates_failed",
]


@dataclass
class Candidate:
    text: str
    sql: str | None = None
    status: str = "pending"  # ok, rejected, error, abstain
    findings: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    repairs: int = 0
    result: QueryResult | None = None
    result_hash: str | None = None
    abstain_reason: str | None = None
    ungrounded: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sql": self.sql,
            "status": self.status,
            "result_hash": self.result_hash,
            "repairs": self.repairs,
            "errors": [f.to_dict() for f in self.findings],
            **({"abstain_reason": self.abstain_reason} if self.abstain_reason else {}),
        }


@dataclass
class Reason:
    code: ReasonCode | str
    message: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.detail}


@dataclass
class Decision:
    answer: bool
    confidence: float
    chosen: Candidate | None
    reasons: list[Reason]
    notes: list[str] = field(default_factory=list)


def result_hash(result: QueryResult) -> str:
    """The same for results with the same rows, whatever the order of rows or columns."""
    import hashlib

    def norm(value: Any) -> str:
        if isinstance(value, float):
            return repr(round(value, 6))
        if value is not None and type(value).__name__ == "Decimal":
            return repr(round(float(value), 6))
        return repr(value)

    rows = sorted("|".join(sorted(norm(v) for v in row)) for row in result.rows)
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()[:12]


def decide(
    candidates: list[Candidate],
    *,
    target: float,
    relevance: float,
    calibrator: Calibrator | None = None,
) -> Decision:
    n = len(candidates)
    abstained = [c for c in candidates if c.status == "abstain"]
    ok = [c for c in candidates if c.status == "ok" and c.result_hash]
    if n and len(abstained) * 2 > n:
        return Decision(False, 0.0, None, [_abstention_reason(abstained)])
    if not ok:
        problems = sorted({f.message for c in candidates for f in c.findings})[:5]
        return Decision(
            False,
            0.0,
            None,
            [
                Reason(
                    "all_candidates_failed",
                    "No candidate query passed verification and ran.",
                    {"problems": problems},
                )
            ],
        )
    groups = Counter(c.result_hash for c in ok)
    ranked = groups.most_common()
    top_hash, top_size = ranked[0]
    members = [c for c in ok if c.result_hash == top_hash]
    chosen = min(members, key=lambda c: (c.repairs, len(c.sql or "")))
    confidence = top_size / n
    notes: list[str] = [f"{top_size} of {n} candidates agree on this result"]
    if calibrator is not None:
        keys = [c.result_hash if c.status == "ok" else None for c in candidates]
        confidence = calibrator.probability(Observation(keys))
        notes.append(f"calibrated on {calibrator.fitted_on or 'past runs'}")
    if all(c.repairs for c in members):
        confidence *= 0.85
        notes.append("the agreeing queries needed repairs")
    result = chosen.result
    assert result is not None
    if not result.rows:
        confidence *= 0.6
        notes.append("the result is empty")
    elif all(v is None for row in result.rows for v in row):
        confidence *= 0.6
        notes.append("the result is all NULL")
    if result.truncated:
        confidence *= 0.9
        notes.append("the result was cut at the row limit")
    if chosen.ungrounded:
        confidence *= 0.5
        notes.append("values not found in the data: " + ", ".join(chosen.ungrounded))
    if chosen.warnings:
        confidence *= 0.8
        notes.append("; ".join(w.message for w in chosen.warnings))
    if relevance < 0.34:
        confidence *= 0.7
        notes.append("few words of the question match this database")
    if len(ranked) > 1 and ranked[1][1] == top_size >= 2:
        # Equally supported readings that give different answers: picking one would be a
        # guess, whatever the target.
        rivals = [c for c in ok if c.result_hash == ranked[1][0]]
        reason = Reason(
            "ambiguous",
            "The question can be read in more than one way, and the readings give different answers.",
            {
                "readings": [chosen.sql, rivals[0].sql],
                "clarifying_question": "Which of these did you mean? "
                + " / ".join(
                    f"({i}) {sql}" for i, sql in enumerate([chosen.sql, rivals[0].sql], 1)
                ),
            },
        )
        return Decision(False, min(confidence, 0.5), chosen, [reason], notes)
    confidence = max(0.0, min(1.0, confidence))
    if confidence > target:
        return Decision(True, confidence, chosen, [], notes)
    reason = Reason(
        "low_agreement",
        f"Confidence {confidence:.2f} is not above the target {target:.2f} ({'; '.join(notes)}).",
    )
    return Decision(False, confidence, chosen, [reason], notes)


def _abstention_reason(abstained: list[Candidate]) -> Reason:
    said = " ".join((c.abstain_reason or "").lower() for c in abstained)
    examples = sorted({c.abstain_reason or "" for c in abstained})[:3]
    if "ambiguous" in said or "unclear" in said:
        return Reason(
            "ambiguous",
            "The model found the question ambiguous.",
            {"model_reasons": examples, "clarifying_question": examples[0] if examples else ""},
        )
    if "not about" in said or "unrelated" in said or "not related" in said:
        return Reason(
            "not_about_this_database",
            "The question is not about this database.",
            {"model_reasons": examples},
        )
    return Reason(
        "unanswerable_with_schema",
        "This database does not hold what the question asks for.",
        {"model_reasons": examples},
    )
