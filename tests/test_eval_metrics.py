"""Metric functions against small cases computed by hand."""

from __future__ import annotations

import pytest

from honestsql.evaluation.metrics import Judged, auroc, ece, risk_coverage, summarize


def test_auroc_hand_computed() -> None:
    # positives 0.9, 0.8; negatives 0.7, 0.6, 0.95: 4 of 6 pairs ranked right.
    assert auroc([0.9, 0.8, 0.7, 0.6, 0.95], [True, True, False, False, False]) == pytest.approx(
        4 / 6
    )


def test_auroc_ties_count_half() -> None:
    assert auroc([0.5, 0.5], [True, False]) == pytest.approx(0.5)
    assert auroc([0.5, 0.5, 0.9], [True, False, True]) == pytest.approx(0.75)


def test_auroc_needs_both_classes() -> None:
    assert auroc([0.1, 0.9], [True, True]) is None
    assert auroc([], []) is None


def test_ece_hand_computed() -> None:
    # Two answers at 0.8 (one right) and one at 0.3 (right): |0.5-0.8|*2/3 + |1-0.3|*1/3.
    assert ece([0.8, 0.8, 0.3], [True, False, True]) == pytest.approx(0.3 * 2 / 3 + 0.7 / 3)
    assert ece([1.0, 0.0], [True, False]) == pytest.approx(0.0)
    assert ece([], []) is None


def test_risk_coverage_orders_by_confidence() -> None:
    judged = [
        Judged(True, False, True, 0.9),
        Judged(True, False, False, 0.6),
        Judged(True, True, False, None),  # abstained: never on the curve
        Judged(True, False, True, 0.8),
    ]
    assert risk_coverage(judged) == [(0.25, 0.0), (0.5, 0.0), (0.75, pytest.approx(1 / 3))]


def test_summary_with_unanswerable_questions() -> None:
    judged = [
        Judged(answerable=True, abstained=False, correct=True, confidence=0.9),
        Judged(answerable=True, abstained=False, correct=False, confidence=0.4),
        Judged(answerable=True, abstained=True, correct=False),
        Judged(answerable=False, abstained=True, correct=True),  # right to abstain
        Judged(
            answerable=False, abstained=False, correct=False, confidence=0.7
        ),  # any SQL is wrong
    ]
    s = summarize(judged)
    assert (s["scored"], s["answered"], s["correct"], s["wrong"], s["abstained"]) == (5, 3, 1, 2, 2)
    assert s["ex"] == pytest.approx(1 / 3)
    assert s["coverage"] == pytest.approx(3 / 5)
    assert s["selective_accuracy"] == pytest.approx(1 / 3)
    assert s["error_rate"] == pytest.approx(2 / 5)
    assert s["penalized"] == {
        "0.5": pytest.approx((1 - 2) / 5),
        "0.75": pytest.approx((1 - 3 * 2) / 5),
        "0.9": pytest.approx((1 - 9 * 2) / 5),
    }
    assert s["rs"] == {
        "0": pytest.approx(2 / 5),
        "5": pytest.approx((2 - 10) / 5),
        "10": pytest.approx((2 - 20) / 5),
        "N": pytest.approx((2 - 5 * 2) / 5),
    }
    assert s["auroc"] == pytest.approx(1.0)  # the right answer was the most confident


def test_empty_summary() -> None:
    s = summarize([])
    assert s["scored"] == 0 and s["ex"] is None and s["penalized"]["0.5"] is None


def test_the_wilson_interval_of_a_share() -> None:
    from honestsql.evaluation.metrics import wilson

    low, high = wilson(88, 100) or (0.0, 0.0)
    assert round(low, 3) == 0.802 and round(high, 3) == 0.930  # by hand: 0.866 +- 0.064
    assert wilson(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    assert wilson(5, 0) is None


def test_the_ece_a_perfectly_calibrated_confidence_shows_by_chance() -> None:
    from honestsql.evaluation.metrics import ece, ece_by_chance

    coin = [0.5] * 100  # ECE = |share right - 0.5|: about 0.04 at the median for 100 coins
    assert 0.02 < (ece_by_chance(coin) or 0) < 0.06 and ece_by_chance(coin) == ece_by_chance(coin)
    many = [i / 2000 for i in range(1, 2000)]
    assert (ece_by_chance(many) or 1) < 0.025 < (ece_by_chance(many[::40]) or 0)
    assert ece_by_chance([]) is None
    # A confidence that is plainly wrong stands far above it.
    assert (ece(coin, [True] * 100) or 0) > 5 * (ece_by_chance(coin) or 0)


def test_paired_counts_and_the_exact_mcnemar_p_by_hand() -> None:
    from honestsql.evaluation.metrics import paired

    this = {"a": True, "b": True, "c": True, "d": False, "e": True, "x": True}
    other = {"a": True, "b": False, "c": False, "d": False, "e": False, "y": False}
    got = paired(this, other)  # x and y are in one run only: left out
    assert got == {
        "items": 5,
        "both": 1,
        "only_this": 3,
        "only_other": 0,
        "neither": 1,
        # 3 differ, all one way: 2 * (1/2)^3
        "p_mcnemar": 0.25,
    }
    assert paired(other, this)["p_mcnemar"] == 0.25 and paired(this, this)["p_mcnemar"] == 1.0
    # 10 differ, 8 to 2: 2 * (1 + 10 + 45) / 1024
    many = {str(i): i < 8 for i in range(10)}
    assert paired(many, {k: not v for k, v in many.items()})["p_mcnemar"] == 0.109  # 3 digits
