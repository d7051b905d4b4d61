"""The figures of a ``bench ask`` run: the bare model, the oracle, and honestsql with its
confidence cross-validated by database (the calibrator fitted on the other databases only)."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from honestsql import calibration, fitting
from honestsql.benchmarks import multilingual
from honestsql.errors import InvalidInput
from honestsql.evaluation.metrics import Judged, auroc, ece, ece_by_chance, wilson
from honestsql.evaluation.metrics import summarize as metrics_summary

REFUSED_AS_UNRELATED = {"not_about_this_database", "unanswerable_with_schema"}


def empty_gold(record: dict[str, Any]) -> bool:
    """An answerable question whose gold result is empty: any empty answer matches it, so it is
    set apart from EX, S and the calibration (reported on its own as ``empty_gold``)."""
    return bool(record["answerable"] and record.get("gold_empty"))


def said_unrelated(record: dict[str, Any]) -> bool:
    """The decision says the question is unrelated or unanswerable: the relevance gate before the
    model, or most candidates declining as first written. A candidate that declines in a repair
    round has given up a failed query; that is a failure, not a refusal."""
    if record["rule"] not in REFUSED_AS_UNRELATED:
        return False
    candidates = record["candidates"]
    declined = [c for c in candidates if c["status"] == "abstain" and not c.get("repairs")]
    return not candidates or 2 * len(declined) > len(candidates)


def calibration_data(
    records: Sequence[dict[str, Any]],
) -> tuple[list[int], list[dict[str, float]], list[bool], list[str]]:
    """The questions the confidence decides (no rule abstained first, gold not empty): their
    index, signals, label (the weighed answer is right) and database."""
    index = [
        i
        for i, r in enumerate(records)
        if r["rule"] is None and r["chosen"] is not None and not empty_gold(r)
    ]
    return (
        index,
        [records[i]["signals"] for i in index],
        [bool(records[i]["chosen_correct"]) for i in index],
        [records[i]["db_id"] for i in index],
    )


def cross_validated_confidence(
    records: Sequence[dict[str, Any]],
    signals: Sequence[str] = calibration.SIGNALS,
    fit_on: Sequence[dict[str, Any]] | None = None,
) -> list[float]:
    """Each question's confidence from a calibrator fitted without its database (0 where a rule
    abstained or the question is set apart): fitted on ``records``, or on ``fit_on`` where given
    (other runs' records, held out by database all the same)."""
    index, rows, labels, groups = calibration_data(records)
    train = calibration_data(fit_on)[1:] if fit_on is not None else None
    confidence = [0.0] * len(records)
    if index and len(set(groups)) > 1:
        held_out = fitting.grouped_cross_validated(
            rows, labels, groups, signals=signals, train=train
        )
        for i, p in zip(index, held_out, strict=True):
            confidence[i] = p
    return confidence


def absent_signals(records: Sequence[dict[str, Any]], signals: Sequence[str]) -> list[str]:
    """The signals no record carries (a run recorded before they were)."""
    return [s for s in signals if not any(s in (r.get("signals") or {}) for r in records)]


def _share(part: int, whole: int) -> float | None:
    return rounded(part / whole) if whole else None


def _oracle(record: dict[str, Any]) -> bool:
    return any(c["correct"] for c in record["candidates"])


def summarize(
    records: Sequence[dict[str, Any]],
    *,
    model: str,
    target: float = 0.75,
    signals: Sequence[str] | None = None,
    fit_on: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The figures of a run, its confidence read from the model's signals
    (``calibration.signals_of``) unless ``signals`` says, fitted on ``fit_on`` where given.
    Answerable questions with an empty gold result are left out of everything but
    ``empty_gold``; ``auroc``/``ece`` are over every question the confidence decided,
    ``auroc_answerable``/``ece_answerable`` over the answerable ones alone."""
    signals = signals or calibration.signals_of(model)
    every = list(records)
    if not every:
        raise InvalidInput("The run holds no answered questions yet.")
    apart = [r for r in every if empty_gold(r)]
    records = [r for r in every if not empty_gold(r)]
    confidence = cross_validated_confidence(records, signals, fit_on)
    answered = [r["rule"] is None and c > target for r, c in zip(records, confidence, strict=True)]
    judged = _judged(records, answered, confidence)
    bare_judged = [_bare(r) for r in records]
    honest = metrics_summary(judged)
    bare = metrics_summary(bare_judged)
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    honest_answerable = metrics_summary([j for j in judged if j.answerable])
    bare_answerable = metrics_summary([j for j in bare_judged if j.answerable])
    index, _, labels, _ = calibration_data(records)
    seconds = sorted(r["seconds"] for r in every)
    tokens = [sum((r.get("usage") or {}).values()) for r in every]
    refused = {r["id"] for r, a in zip(records, answered, strict=True) if not a}
    spider = calibration.shipped(calibration.SPIDER_ENSEMBLE)
    ood = [spider.probability(records[i]["signals"]) for i in index] if spider else []
    s_all = {k: rounded(v) for k, v in honest["penalized"].items()}
    figures = {
        "model": model,
        "n": len(records),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "databases": len({r["db_id"] for r in records}),
        "target": target,
        "bare_ex": rounded(bare["ex"]),
        "oracle_ex": _share(sum(map(_oracle, answerable)), len(answerable)),
        "ex": rounded(honest["ex"]),
        "answered_right": rounded(honest["ex"]),
        "coverage": rounded(honest["coverage"]),
        "precision": rounded(honest["selective_accuracy"]),
        # 95% intervals (Wilson): how far the two headline shares can move by chance.
        "precision_interval": _interval(honest["correct"], honest["answered"]),
        "answered_right_interval": _interval(honest["correct"], honest["answerable"]),
        "s": s_all,
        "s_all": s_all,
        "bare_s": {k: rounded(v) for k, v in bare["penalized"].items()},
        "s_answerable": {k: rounded(v) for k, v in honest_answerable["penalized"].items()},
        "bare_s_answerable": {k: rounded(v) for k, v in bare_answerable["penalized"].items()},
        "rs": {k: rounded(honest["rs"][k]) for k in ("0", "10")},
        "bare_rs": {k: rounded(bare["rs"][k]) for k in ("0", "10")},
        **_separation(records, confidence),
        "calibrated_questions": len(index),
        # Signals of the model's that no record carries: read as 0 (``--rejudge`` records them).
        **({"absent_signals": absent} if (absent := absent_signals(records, signals)) else {}),
        "spider_calibrator": {
            "auroc": rounded(auroc(ood, labels)),
            "ece": rounded(ece(ood, labels)),
        },
        "as_run": as_run(records),
        "idk_refused": _share(sum(r["id"] in refused for r in unanswerable), len(unanswerable)),
        "false_refusals": _share(sum(map(said_unrelated, answerable)), len(answerable)),
        "gave_up_repairs": _share(
            sum(r["rule"] in REFUSED_AS_UNRELATED and not said_unrelated(r) for r in answerable),
            len(answerable),
        ),
        "answerable_refused": _share(sum(r["id"] in refused for r in answerable), len(answerable)),
        "empty_gold": _empty_gold(apart),
        "early_stop": early_stop(records),
        "p50_s": rounded(statistics.median(seconds)),
        "p95_s": rounded(seconds[min(len(seconds) - 1, int(0.95 * len(seconds)))]),
        "tokens_per_question": round(sum(tokens) / len(tokens)),
        "rules": dict(Counter(r["rule"] for r in records if r["rule"]).most_common()),
        "by_suite": {
            suite: len([r for r in records if r["suite"] == suite])
            for suite in sorted({r["suite"] for r in records})
        },
        "suites": {
            suite: _suite(records, answered, bare_judged, suite)
            for suite in sorted({r["suite"] for r in records})
        },
    }
    unrelated = {r["id"] for r in records if said_unrelated(r)}
    languages = multilingual.by_language(records, answered, unrelated)
    if languages:
        figures["languages"] = languages
    return figures


def _judged(
    records: Sequence[dict[str, Any]], answered: Sequence[bool], confidence: Sequence[float]
) -> list[Judged]:
    return [
        Judged(
            r["answerable"],
            not a,
            (r["answerable"] and bool(r["chosen_correct"])) if a else not r["answerable"],
            c if a else None,
        )
        for r, a, c in zip(records, answered, confidence, strict=True)
    ]


def as_run(
    records: Sequence[dict[str, Any]],
    answered: Sequence[bool] | None = None,
    confidence: Sequence[float] | None = None,
) -> dict[str, Any]:
    """The decisions as the run made them, with the confidence each record holds (the calibrator
    shipped when it was asked, not one cross-validated on the run): what a user got. Given
    ``answered`` and ``confidence`` (one per record), the same figures of those instead."""
    if answered is None or confidence is None:
        answered = [r.get("decision") == "answer" for r in records]
        confidence = [r.get("confidence", 0.0) for r in records]
    got = metrics_summary(_judged(records, answered, confidence))
    separation = _separation(records, confidence)
    return {
        "answered_right": rounded(got["ex"]),
        "precision": rounded(got["selective_accuracy"]),
        "s_0.75": rounded(got["penalized"]["0.75"]),
        **{
            k: separation[k]
            for k in ("ece", "ece_answerable", "ece_answerable_chance", "auroc_answerable")
        },
    }


def _separation(records: Sequence[dict[str, Any]], confidence: Sequence[float]) -> dict[str, Any]:
    """How well ``confidence`` (one per record) tells right from wrong: AUROC and ECE over every
    question it decided, and over the answerable ones alone."""
    index, _, labels, _ = calibration_data(records)
    scored = [confidence[i] for i in index]
    kept = [k for k, i in enumerate(index) if records[i]["answerable"]]
    answerable = ([scored[k] for k in kept], [labels[k] for k in kept])
    return {
        "auroc": rounded(auroc(scored, labels)),
        "ece": rounded(ece(scored, labels)),
        "auroc_answerable": rounded(auroc(*answerable)),
        "ece_answerable": rounded(ece(*answerable)),
        # What a perfectly calibrated confidence would show here: an ECE near it is noise.
        "ece_answerable_chance": rounded(ece_by_chance(answerable[0])),
    }


def early_stop(records: Sequence[dict[str, Any]], first: int = 3) -> dict[str, Any]:
    """What ``Settings(early_stop=first)`` would have done on a run that asked for every
    candidate at once: the questions whose ``first`` candidates all ran to one result (it stops
    there), the candidates it would not have asked for, and how often the result it stops on is
    the one the run chose, and right (answerable questions)."""
    asked = [r for r in records if len(r["candidates"]) > first]
    stopped = [
        r
        for r in asked
        if all(c["status"] == "ok" for c in r["candidates"][:first])
        and len({c["result_hash"] for c in r["candidates"][:first]}) == 1
    ]
    chosen = [r for r in stopped if r["chosen"] is not None]
    right = [r for r in stopped if r["answerable"]]
    return {
        "first": first,
        "questions": len(asked),
        "stopped": _share(len(stopped), len(asked)),
        "candidates_saved": _share(
            sum(len(r["candidates"]) - first for r in stopped),
            sum(len(r["candidates"]) for r in asked),
        ),
        "same_result_as_run": _share(
            sum(
                r["candidates"][r["chosen"]]["result_hash"] == r["candidates"][0]["result_hash"]
                for r in chosen
            ),
            len(chosen),
        ),
        "stopped_right": _share(
            sum(bool(r["candidates"][0]["correct"]) for r in right), len(right)
        ),
    }


def _suite(
    records: list[dict[str, Any]], answered: list[bool], bare: list[Judged], suite: str
) -> dict[str, Any]:
    """One suite's answerable questions: bare, oracle, honestsql's answered-right and precision,
    and the share of candidates whose query ran as first written."""
    mine = [i for i, r in enumerate(records) if r["suite"] == suite and r["answerable"]]
    right = sum(answered[i] and bool(records[i]["chosen_correct"]) for i in mine)
    given = sum(answered[i] for i in mine)
    written = [c for i in mine for c in records[i]["candidates"]]
    return {
        "answerable": len(mine),
        "bare_ex": _share(sum(bare[i].correct for i in mine), len(mine)),
        "oracle_ex": _share(sum(_oracle(records[i]) for i in mine), len(mine)),
        "answered_right": _share(right, len(mine)),
        "precision": _share(right, given),
        "first_query_ran": _share(
            sum(c["status"] == "ok" and not c.get("repairs") for c in written), len(written)
        ),
    }


def _empty_gold(apart: list[dict[str, Any]]) -> dict[str, Any]:
    """The answerable questions set apart because their gold result is empty."""
    bare = [_bare(r) for r in apart]
    return {
        "questions": len(apart),
        "by_suite": dict(Counter(r["suite"] for r in apart).most_common()),
        "bare_matched": sum(j.correct for j in bare),
        "oracle_matched": sum(map(_oracle, apart)),
    }


def first_query_right(records: Sequence[dict[str, Any]]) -> dict[str, bool]:
    """The greedy first query right or not, by answerable question not set apart: ``bare_ex``'s
    count, question by question, to pair two runs."""
    return {r["id"]: _bare(r).correct for r in records if r["answerable"] and not empty_gold(r)}


def _bare(record: dict[str, Any]) -> Judged:
    """The greedy candidate as first written, run as a plain tool would run it."""
    greedy = record["candidates"][0] if record["candidates"] else record.get("bare")
    sql = greedy.get("first_sql", greedy["sql"]) if greedy else None
    if sql is None:  # the model itself declined (or the question never reached it)
        return Judged(record["answerable"], True, not record["answerable"])
    correct = bool(greedy.get("first_correct")) if greedy else False
    return Judged(record["answerable"], False, correct and record["answerable"])


def _interval(successes: int, n: int) -> list[float] | None:
    found = wilson(successes, n)
    return [round(found[0], 4), round(found[1], 4)] if found else None


def rounded(value: float | None) -> float | None:
    """A figure to four places, as every report prints it."""
    return None if value is None else round(float(value), 4)
