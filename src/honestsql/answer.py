"""The answer to one question, typed: what the CLI prints with ``--json``, the HTTP API returns
and the MCP ``ask`` tool gives.

The nested parts are ``TypedDict``s: they are plain dicts on the wire and in Python (so
``answer.reasons[0]["code"]`` reads as it always did), and their keys and value types are
declared here, once, for type checkers and for the HTTP API's schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired

from typing_extensions import TypedDict

from honestsql.db.result import ColumnInfo
from honestsql.findings import FindingInfo
from honestsql.wording import chance, sentence, verdict

#: Why honestsql abstained.
ReasonCode = Literal[
    "write_request",
    "not_about_this_database",
    "unanswerable_with_schema",
    "ambiguous",
    "low_agreement",
    "all_candidates_failed",
]
#: Where a candidate ended: it ran (``ok``), was refused by the guard or verifier
#: (``rejected``), failed to run (``error``), or the model declined (``abstain``).
CandidateStatus = Literal["pending", "ok", "rejected", "error", "abstain"]


class ReasonInfo(TypedDict):
    code: ReasonCode
    message: str
    #: ``all_candidates_failed``: the distinct problems found.
    problems: NotRequired[list[str]]
    #: ``ambiguous``: the rival readings, and the question to ask the user.
    readings: NotRequired[list[str | None]]
    clarifying_question: NotRequired[str]
    #: When the model itself declined: its reasons.
    model_reasons: NotRequired[list[str]]
    #: ``not_about_this_database`` decided before asking the model: the words looked for.
    question_words: NotRequired[list[str]]
    #: What the user can do next, in plain words.
    next_steps: NotRequired[list[str]]


class CandidateInfo(TypedDict):
    sql: str | None
    status: CandidateStatus
    result_hash: str | None
    repairs: int
    errors: list[FindingInfo]
    first_sql: NotRequired[str | None]
    abstain_reason: NotRequired[str]
    warnings: NotRequired[list[FindingInfo]]
    ungrounded: NotRequired[list[str]]
    rows: NotRequired[int]
    truncated: NotRequired[bool]
    #: The model's mean log-probability of the SQL's tokens, and the least likely token's.
    logprob: NotRequired[float]
    logprob_min: NotRequired[float]


class ProseInfo(TypedDict):
    """The answer in words for people, in the question's language (``honestsql.wording``)."""

    #: The question's language (``en``, ``de``, ``fr``, ``es``, ``it``, ``pt``, ``zh``, ``ja``).
    language: str
    #: The decision and its confidence: "Likely right (82% confidence)." / "I don't know: ...".
    verdict: str
    #: One sentence from the result (only values it holds); empty on an abstention.
    sentence: str
    #: What the confidence means against the target.
    chance: str


class AlternativeInfo(TypedDict):
    """On an abstention: one result the candidates reached, unverified, for a person to judge."""

    sql: str
    #: How many candidates gave this result.
    candidates: int
    columns: list[ColumnInfo]
    #: The first rows of the result.
    rows: list[list[Any]]
    #: More rows than shown.
    more: bool
    #: Always False: honestsql did not vouch for it.
    verified: bool


@dataclass
class Answer:
    """What ``ask`` returns: the decision with its confidence, the SQL and rows when it
    answers, the reasons when it abstains, and every candidate it weighed. ``to_dict`` is the
    documented ``--json`` object and the HTTP API's response body."""

    decision: Literal["answer", "abstain"]
    confidence: float
    sql: str | None
    columns: list[ColumnInfo]
    rows: list[list[Any]]
    truncated: bool
    reasons: list[ReasonInfo]
    candidates: list[CandidateInfo]
    usage: dict[str, int]
    timings_ms: dict[str, float]
    notes: list[str] = field(default_factory=list)
    flagged_values: list[str] = field(default_factory=list)
    backend: str = ""
    #: What the confidence was computed from (``decide.signals``).
    signals: dict[str, float] = field(default_factory=dict)
    #: Index in ``candidates`` of the query the decision weighed (shown only when answering).
    chosen: int | None = None
    #: On an abstention: the results the candidates reached, grouped, most supported first,
    #: marked unverified (``--show-candidates`` prints them; a person may mark one right).
    alternatives: list[AlternativeInfo] = field(default_factory=list)
    #: In a conversation: its id (for the next follow-up) and how the question was read on its
    #: own (a follow-up rewritten by the model; shown so a wrong reading is visible).
    conversation: str | None = None
    standalone_question: str | None = None
    #: A question in another language as the model restated it in English: what was answered
    #: (shown so a wrong reading is visible).
    reading: str | None = None
    #: The answer in words for people, in the question's language (``word``).
    prose: ProseInfo | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def word(self, target: float, language: str) -> None:
        """Word the answer for people in ``language`` (``prose``)."""
        answered = self.decision == "answer"
        self.prose = {
            "language": language,
            "verdict": verdict(answered, self.confidence, language),
            "sentence": sentence(self.columns, self.rows, self.truncated, language)
            if answered
            else "",
            "chance": chance(self.confidence, target, language),
        }


#: Alternatives shown on an abstention, and rows shown of each.
MAX_ALTERNATIVES = 5
ALTERNATIVE_ROWS = 10


def alternatives(candidates: list[Any]) -> list[AlternativeInfo]:
    """The results the candidates that ran reached, one per distinct result, most supported
    first (``candidates`` are ``candidates.Candidate``s)."""
    groups: dict[str, list[Any]] = {}
    for candidate in candidates:
        if candidate.status == "ok" and candidate.result is not None and candidate.sql:
            groups.setdefault(candidate.result_hash or "", []).append(candidate)
    ranked = sorted(groups.values(), key=len, reverse=True)[:MAX_ALTERNATIVES]
    shown: list[AlternativeInfo] = []
    for members in ranked:
        result = members[0].result
        shown.append(
            {
                "sql": members[0].sql,
                "candidates": len(members),
                "columns": [c.to_dict() for c in result.columns],
                "rows": result.json_rows()[:ALTERNATIVE_ROWS],
                "more": len(result.rows) > ALTERNATIVE_ROWS or result.truncated,
                "verified": False,
            }
        )
    return shown
