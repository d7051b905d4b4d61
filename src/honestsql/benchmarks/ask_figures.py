"""The figures of a ``bench ask`` run: the bare model, the oracle, and honestsql with its
confidence cross-validated by database (the calibrator fitted on the other databases only).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from honestsql import calibration, fitting
from honestsql.errors import InvalidInput
from honestsql.evaluation.metrics import Judged, auroc, ece
from honestsql.evaluation.metrics import summarize as metrics_summary

REFUSED_AS_UNRELATED = {"not_about_this_database", "unanswerable_with_schema"}


def calibration_data(
    records: Sequence[dict[str, Any]],
) -> tuple[list[int], list[dict[str, float]], list[bool], list[str]]:
    """The questions the confidence decides (no rule abstained first): their index, signals,
    label (the weighed answer is right) and database."""
    index = [i for i, r in enumerate(records) if r["rule"] is None and r["chosen"] is not None]
    return (
        index,
        [records[i]["signals"] for i in index],
        [bool(records[i]["chosen_correct"]) for i in index],
        [records[i]["db_id"] for i in index],
    )


def cross_validated_confidence(records: Sequence[dict[str, Any]]) -> list[float]:
    """Each question's confidence from a calibrator fitted without its database (0 where a rule
    abstained)."""
    index, rows, labels, groups = calibration_data(records)
    confidence = [0.0] * len(records)
    if index and len(set(groups)) > 1:
        for i, p in zip(index, fitting.grouped_cross_validated(rows, labels, groups), strict=True):
            confidence[i] = p
    return confidence


def fit(records: Sequence[dict[str, Any]], model: str) -> calibration.LogisticCalibrator:
    """The calibrator to ship for ``model``: fitted on every question, with the
    leave-one-database-out figures in its details."""
    index, rows, labels, groups = calibration_data(records)
    fitted = fitting.fit_logistic(
        rows,
        labels,
        groups=groups,
        fitted_on=f"{model}: {len(rows)} questions of honestsql bench ask "
        f"({', '.join(sorted({records[i]['suite'] for i in index}))})",
    )
    confidence = cross_validated_confidence(records)
    held_out = [confidence[i] for i in index]
    fitted.details = {
        **fitted.details,
        "model": model,
        "questions": len(rows),
        "databases": sorted(set(groups)),
        "correct_share": round(sum(labels) / len(labels), 4),
        "leave_one_database_out": {
            "auroc": _round(auroc(held_out, labels)),
            "ece": _round(ece(held_out, labels)),
        },
    }
    return fitted


def summarize(
    records: Sequence[dict[str, Any]], *, model: str, target: float = 0.75
) -> dict[str, Any]:
    records = list(records)
    if not records:
        raise InvalidInput("The run holds no answered questions yet.")
    confidence = cross_validated_confidence(records)
    answered = [r["rule"] is None and c > target for r, c in zip(records, confidence, strict=True)]
    judged = [
        Judged(
            r["answerable"],
            not a,
            (a and r["answerable"] and bool(r["chosen_correct"]))
            or (not a and not r["answerable"]),
            c if a else None,
        )
        for r, a, c in zip(records, answered, confidence, strict=True)
    ]
    bare_judged = [_bare(r) for r in records]
    honest = metrics_summary(judged)
    bare = metrics_summary(bare_judged)
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    honest_answerable = metrics_summary([j for j in judged if j.answerable])
    bare_answerable = metrics_summary([j for j in bare_judged if j.answerable])
    index, _, labels, _ = calibration_data(records)
    scored = [confidence[i] for i in index]
    seconds = sorted(r["seconds"] for r in records)
    tokens = [sum((r.get("usage") or {}).values()) for r in records]
    refused = {r["id"] for r, a in zip(records, answered, strict=True) if not a}
    spider = calibration.shipped(calibration.SPIDER_ENSEMBLE)
    ood = [spider.probability(records[i]["signals"]) for i in index] if spider else []
    figures = {
        "model": model,
        "n": len(records),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "databases": len({r["db_id"] for r in records}),
        "target": target,
        "bare_ex": _round(bare["ex"]),
        "oracle_ex": _round(
            sum(1 for r in answerable if any(c["correct"] for c in r["candidates"]))
            / len(answerable)
            if answerable
            else None
        ),
        "ex": _round(honest["ex"]),
        "coverage": _round(honest["coverage"]),
        "precision": _round(honest["selective_accuracy"]),
        "s": {k: _round(v) for k, v in honest["penalized"].items()},
        "bare_s": {k: _round(v) for k, v in bare["penalized"].items()},
        "s_answerable": {k: _round(v) for k, v in honest_answerable["penalized"].items()},
        "bare_s_answerable": {k: _round(v) for k, v in bare_answerable["penalized"].items()},
        "rs": {k: _round(honest["rs"][k]) for k in ("0", "10")},
        "bare_rs": {k: _round(bare["rs"][k]) for k in ("0", "10")},
        "auroc": _round(auroc(scored, labels)),
        "ece": _round(ece(scored, labels)),
        "calibrated_questions": len(scored),
        "spider_calibrator": {"auroc": _round(auroc(ood, labels)), "ece": _round(ece(ood, labels))},
        "idk_refused": _round(
            sum(1 for r in unanswerable if r["id"] in refused) / len(unanswerable)
            if unanswerable
            else None
        ),
        "false_refusals": _round(
            sum(1 for r in answerable if r["rule"] in REFUSED_AS_UNRELATED) / len(answerable)
            if answerable
            else None
        ),
        "answerable_refused": _round(
            sum(1 for r in answerable if r["id"] in refused) / len(answerable)
            if answerable
            else None
        ),
        "p50_s": _round(statistics.median(seconds)),
        "p95_s": _round(seconds[min(len(seconds) - 1, int(0.95 * len(seconds)))]),
        "tokens_per_question": round(sum(tokens) / len(tokens)),
        "rules": dict(Counter(r["rule"] for r in records if r["rule"]).most_common()),
        "by_suite": {
            suite: len([r for r in records if r["suite"] == suite])
            for suite in sorted({r["suite"] for r in records})
        },
    }
    return figures


def _bare(record: dict[str, Any]) -> Judged:
    """The greedy candidate as first written, run as a plain tool would run it."""
    greedy = record["candidates"][0] if record["candidates"] else record.get("bare")
    sql = greedy.get("first_sql", greedy["sql"]) if greedy else None
    if sql is None:  # the model itself declined (or the question never reached it)
        return Judged(record["answerable"], True, not record["answerable"])
    correct = bool(greedy.get("first_correct")) if greedy else False
    return Judged(record["answerable"], False, correct and record["answerable"])


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)
