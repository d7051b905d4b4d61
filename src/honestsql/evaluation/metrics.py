"""Accuracy and honesty metrics over scored questions.

Each question ends in one of four ways: a correct answer, a wrong answer (wrong SQL, failing SQL,
or any SQL for an unanswerable question), an abstention on an answerable question, or an
abstention on an unanswerable one (the right call). Definitions:

- ``ex``: correct answers / scored answerable questions (abstaining counts as not correct).
- ``coverage``: answered / scored; ``selective_accuracy``: correct / answered;
  ``error_rate``: wrong / scored.
- ``penalized`` S(t) = (correct - t/(1-t) * wrong) / scored: an abstention scores 0, a wrong answer
  costs t/(1-t); answering only when P(correct) > t maximizes it.
- ``rs`` RS(c) (TrustSQL/EHRSQL reliability score) = mean over scored questions of +1 for a correct
  answer or a correct abstention, 0 for an abstention on an answerable question, -c for a wrong
  answer; RS(N) uses c = the number of scored questions. A fraction, not a percentage.
- ``auroc``: how well the confidence ranks correct answers above wrong ones (answered questions
  with a confidence only; ``None`` without both kinds).
- ``ece``: expected calibration error over 10 equal-width confidence bins; ``ece_by_chance``: the
  ECE a perfectly calibrated confidence would show on the same questions (binning noise).
- ``wilson``: the 95% interval of a share (precision, answered right) on so many questions.
- ``risk_coverage``: (coverage, risk) after answering only the k most confident questions.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

THRESHOLDS = (0.5, 0.75, 0.9)
RS_PENALTIES = ("0", "5", "10", "N")


@dataclass(frozen=True)
class Judged:
    """What the metrics need of one scored question."""

    answerable: bool
    abstained: bool
    correct: bool  # a correct answer, or a correct abstention on an unanswerable question
    confidence: float | None = None

    @property
    def answered(self) -> bool:
        return not self.abstained

    @property
    def wrong(self) -> bool:
        return self.answered and not self.correct


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties)."""
    positives = sum(1 for label in labels if label)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = sum(r for r, label in zip(ranks, labels, strict=True) if label)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def ece(confidences: Sequence[float], labels: Sequence[bool], bins: int = 10) -> float | None:
    if not confidences:
        return None
    total = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [
            i for i, c in enumerate(confidences) if (low < c <= high) or (b == 0 and c == 0.0)
        ]
        if not members:
            continue
        accuracy = sum(1 for i in members if labels[i]) / len(members)
        mean_conf = sum(confidences[i] for i in members) / len(members)
        total += len(members) / len(confidences) * abs(accuracy - mean_conf)
    return total


def ece_by_chance(confidences: Sequence[float], draws: int = 200) -> float | None:
    """The ECE a perfectly calibrated confidence shows on these questions by binning alone: the
    median ECE over ``draws`` sets of labels, each label true with its confidence's probability
    (seeded: the same confidences give the same figure). On a few hundred questions it is
    several points, and an ECE bound below it cannot be told apart from chance."""
    if not confidences:
        return None
    rng = random.Random(0)
    drawn = sorted(
        ece(confidences, [rng.random() < c for c in confidences]) or 0.0 for _ in range(draws)
    )
    return drawn[draws // 2]


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float] | None:
    """The Wilson score interval (95% by default) of a share ``successes / n``: on a hundred
    answers a precision of 0.88 is anywhere from about 0.80 to 0.93."""
    if n <= 0:
        return None
    share, spread = successes / n, z * z / n
    centre = (share + spread / 2) / (1 + spread)
    half = z * math.sqrt(share * (1 - share) / n + spread / (4 * n)) / (1 + spread)
    return (max(0.0, centre - half), min(1.0, centre + half))


def paired(this: Mapping[str, bool], other: Mapping[str, bool]) -> dict[str, Any]:
    """Two runs judged on the items both hold: how many both, only one or neither got right, and
    the exact McNemar p-value (two-sided binomial test on the items where they differ)."""
    common = sorted(this.keys() & other.keys())
    only_this = sum(this[k] and not other[k] for k in common)
    only_other = sum(other[k] and not this[k] for k in common)
    both = sum(this[k] and other[k] for k in common)
    differ = only_this + only_other
    tail = sum(math.comb(differ, i) for i in range(min(only_this, only_other) + 1))
    return {
        "items": len(common),
        "both": both,
        "only_this": only_this,
        "only_other": only_other,
        "neither": len(common) - both - differ,
        "p_mcnemar": float(f"{min(1.0, 2 * tail / 2**differ):.3g}") if differ else 1.0,
    }


def reliability_bins(
    confidences: Sequence[float], labels: Sequence[bool], bins: int = 10
) -> list[dict[str, float]]:
    result = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [
            i for i, c in enumerate(confidences) if (low < c <= high) or (b == 0 and c == 0.0)
        ]
        if members:
            result.append(
                {
                    "low": low,
                    "high": high,
                    "count": float(len(members)),
                    "accuracy": sum(1 for i in members if labels[i]) / len(members),
                    "confidence": sum(confidences[i] for i in members) / len(members),
                }
            )
    return result


def risk_coverage(judged: Sequence[Judged]) -> list[tuple[float, float]]:
    """Answer the k most confident answered questions, for every k: (coverage, risk)."""
    n = len(judged)
    answered = [j for j in judged if j.answered]
    if n == 0 or not answered:
        return []
    ranked = sorted(answered, key=lambda j: -(j.confidence if j.confidence is not None else 1.0))
    points = []
    wrong = 0
    for k, item in enumerate(ranked, start=1):
        wrong += 1 if item.wrong else 0
        points.append((k / n, wrong / k))
    return points


def summarize(judged: Sequence[Judged]) -> dict[str, Any]:
    n = len(judged)
    answerable = sum(1 for j in judged if j.answerable)
    answered = [j for j in judged if j.answered]
    correct_answers = sum(1 for j in answered if j.correct)
    wrong = sum(1 for j in answered if not j.correct)
    correct_abstentions = sum(1 for j in judged if j.abstained and not j.answerable)

    def penalized(t: float) -> float | None:
        return (correct_answers - t / (1 - t) * wrong) / n if n else None

    def rs(c: float) -> float | None:
        return (correct_answers + correct_abstentions - c * wrong) / n if n else None

    with_conf = [j for j in answered if j.confidence is not None]
    confidences = [float(j.confidence) for j in with_conf if j.confidence is not None]
    labels = [j.correct for j in with_conf]
    return {
        "scored": n,
        "answerable": answerable,
        "answered": len(answered),
        "correct": correct_answers,
        "wrong": wrong,
        "abstained": n - len(answered),
        "correct_abstentions": correct_abstentions,
        "ex": correct_answers / answerable if answerable else None,
        "coverage": len(answered) / n if n else None,
        "selective_accuracy": correct_answers / len(answered) if answered else None,
        "error_rate": wrong / n if n else None,
        "penalized": {str(t): penalized(t) for t in THRESHOLDS},
        "rs": {key: rs(float(n if key == "N" else key)) for key in RS_PENALTIES},
        "auroc": auroc(confidences, labels),
        "ece": ece(confidences, labels),
    }
