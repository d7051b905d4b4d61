"""The candidates of one question and how they agree.

A ``Candidate`` is one query the model wrote for the question, with what became of it: checked,
repaired, run, its result and the model's likelihood of it. ``agreement`` groups the candidates
that ran by their result (a narrower result counted with the wider one that holds it, where
``merging.merge_wider`` set its ``group``) and ranks the groups by support; ``shown_query`` is the
query shown for a group. ``decide`` weighs them; ``drafting`` writes them.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from honestsql.answer import CandidateInfo, CandidateStatus
from honestsql.db import QueryResult
from honestsql.findings import Finding
from honestsql.llm import Likelihood


@dataclass
class Candidate:
    text: str
    sql: str | None = None
    status: CandidateStatus = "pending"
    #: The SQL as the model first wrote it, before any repair.
    first_sql: str | None = None
    findings: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    repairs: int = 0
    result: QueryResult | None = None
    result_hash: str | None = None
    abstain_reason: str | None = None
    ungrounded: list[str] = field(default_factory=list)
    #: The model's likelihood of the SQL it wrote last (None where the backend cannot read it).
    likelihood: Likelihood | None = None
    #: The wider result this one's agrees with (``merge_wider``), where one holds it.
    group: str | None = None

    def to_dict(self) -> CandidateInfo:
        info: CandidateInfo = {
            "sql": self.sql,
            "status": self.status,
            "result_hash": self.result_hash,
            "repairs": self.repairs,
            "errors": [f.to_dict() for f in self.findings],
        }
        if self.first_sql != self.sql:
            info["first_sql"] = self.first_sql
        if self.abstain_reason:
            info["abstain_reason"] = self.abstain_reason
        if self.warnings:
            info["warnings"] = [w.to_dict() for w in self.warnings]
        if self.ungrounded:
            info["ungrounded"] = self.ungrounded
        if self.result:
            info["rows"] = len(self.result.rows)
            info["truncated"] = self.result.truncated
        if self.likelihood is not None:
            info["logprob"] = round(self.likelihood.mean, 4)
            info["logprob_min"] = round(self.likelihood.least, 4)
        return info


def agreement(
    candidates: list[Candidate],
) -> tuple[list[Candidate], list[tuple[str | None, int]], list[Candidate]]:
    """The candidates that ran, their results by support (most first), and the largest group.
    Equally supported results are ordered by the model's likelihood of their queries, where the
    backend reads it (``weighed``)."""
    ok = ran(candidates)
    ranked = Counter(map(result_key, ok)).most_common()
    if weighed(ok) and len(ranked) > 1:
        ranked.sort(key=lambda item: (-item[1], -_likelihood(ok, item[0])))
    members = [c for c in ok if ranked and result_key(c) == ranked[0][0]]
    return ok, ranked, members


def ran(candidates: list[Candidate]) -> list[Candidate]:
    """The candidates whose query ran to a result."""
    return [c for c in candidates if c.status == "ok" and c.result_hash]


def result_key(candidate: Candidate) -> str | None:
    """The result a candidate agrees with: its own, or the wider one that holds it."""
    return candidate.group or candidate.result_hash


def leading(candidates: list[Candidate]) -> Candidate | None:
    """The query the decision weighs: the one shown for the best supported result."""
    return shown_query(agreement(candidates)[2])


def weighed(ok: list[Candidate]) -> bool:
    """Whether every query that ran comes with the model's likelihood of it."""
    return bool(ok) and all(c.likelihood is not None for c in ok)


def _likelihood(ok: list[Candidate], key: str | None) -> float:
    """The mean probability per token of the queries that gave result ``key``."""
    found = [math.exp(c.likelihood.mean) for c in ok if result_key(c) == key and c.likelihood]
    return sum(found) / len(found) if found else 0.0


def shown_query(members: list[Candidate]) -> Candidate | None:
    """The query shown for an agreeing group: the shortest of those that needed the fewest
    repairs, among those that gave the group's result itself (not a narrower one it holds)."""
    own = [c for c in members if c.group is None] or members
    if not own:
        return None
    return min(own, key=lambda c: (c.repairs, len(c.sql or "")))
