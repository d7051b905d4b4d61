"""Confidence that means something: a calibrated map from candidate agreement to P(correct).

The features describe how a set of candidate answers behaves (agreement, failures, result shape,
relevance of the question to the schema). The calibrator maps one of them to P(correct); its
fitted points ship with the package as JSON (``calibration.json``) and are applied with plain
arithmetic; fitting needs scikit-learn (``pip install "honestsql[calibrate]"``).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

FEATURES = (
    "top_share",  # share of all candidates in the largest agreeing group
    "margin",  # top share minus the second group's share
    "distinct_share",  # distinct answers / candidates
    "failed_share",  # candidates that were refused or failed to run
    "empty",  # the top answer has no rows (or only NULLs)
    "relevance",  # share of the question's words the schema knows
)


@dataclass(frozen=True)
class Observation:
    """What the calibrator sees of one question: the answer key of each candidate (``None``
    for a failed candidate), whether the top answer is empty, and the question's relevance."""

    keys: Sequence[str | None]
    empty: bool = False
    relevance: float = 1.0

    def top_key(self) -> str | None:
        counts = Counter(k for k in self.keys if k is not None)
        return counts.most_common(1)[0][0] if counts else None


def features(obs: Observation) -> list[float]:
    n = len(obs.keys) or 1
    counts = Counter(k for k in obs.keys if k is not None).most_common()
    top = counts[0][1] / n if counts else 0.0
    second = counts[1][1] / n if len(counts) > 1 else 0.0
    failed = sum(1 for k in obs.keys if k is None) / n
    return [top, top - second, len(counts) / n, failed, 1.0 if obs.empty else 0.0, obs.relevance]


@dataclass
class Calibrator:
    """A monotone, piecewise-linear map from one feature to P(correct) (isotonic regression).

    Chosen over a logistic model on all features by cross-validation on the Spider ensemble
    (docs/BENCHMARKS.md): with about a hundred questions, one well-chosen feature, the agreement
    margin, calibrated isotonically, scored best; the shipped JSON is a short list of points.
    """

    x: list[float]
    y: list[float]
    feature: str = "margin"
    fitted_on: str = ""

    def probability(self, obs: Observation) -> float:
        value = features(obs)[FEATURES.index(self.feature)]
        return _interpolate(value, self.x, self.y)

    def to_json(self) -> str:
        return json.dumps(
            {"feature": self.feature, "x": self.x, "y": self.y, "fitted_on": self.fitted_on},
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Calibrator:
        data = json.loads(text)
        if data["feature"] not in FEATURES or len(data["x"]) != len(data["y"]) or not data["x"]:
            raise ValueError("not a honestsql calibration file")
        return cls(
            [float(v) for v in data["x"]],
            [float(v) for v in data["y"]],
            data["feature"],
            str(data.get("fitted_on", "")),
        )


def _interpolate(value: float, xs: list[float], ys: list[float]) -> float:
    if value <= xs[0]:
        return ys[0]
    if value >= xs[-1]:
        return ys[-1]
    for i in range(1, len(xs)):
        if value <= xs[i]:
            span = xs[i] - xs[i - 1]
            share = (value - xs[i - 1]) / span if span else 1.0
            return ys[i - 1] + share * (ys[i] - ys[i - 1])
    return ys[-1]


def fit(
    observations: Sequence[Observation],
    labels: Sequence[bool],
    *,
    feature: str = "margin",
    fitted_on: str = "",
) -> Calibrator:
    """Isotonic regression (scikit-learn) of the labels on one feature."""
    try:
        from sklearn.isotonic import IsotonicRegression
    except ModuleNotFoundError:
        raise RuntimeError(
            "Fitting needs scikit-learn: pip install 'honestsql[calibrate]'"
        ) from None
    if len(set(labels)) < 2:
        raise ValueError("need both kinds of outcome to fit a calibrator")
    column = FEATURES.index(feature)
    values = [features(o)[column] for o in observations]
    model = IsotonicRegression(increasing="auto", out_of_bounds="clip", y_min=0.0, y_max=1.0)
    model.fit(values, [1.0 if v else 0.0 for v in labels])
    xs = [float(v) for v in model.X_thresholds_]
    # Never certain: a hundred questions cannot show a 0% or 100% error rate.
    ys = [min(0.98, max(0.02, float(v))) for v in model.y_thresholds_]
    return Calibrator(xs, ys, feature, fitted_on)


def cross_validated(
    observations: Sequence[Observation],
    labels: Sequence[bool],
    *,
    folds: int = 10,
    seed: int = 0,
    feature: str = "margin",
) -> list[float]:
    """Out-of-fold probabilities: each question scored by a model fitted without it."""
    import random

    order = list(range(len(observations)))
    random.Random(seed).shuffle(order)
    probabilities = [0.0] * len(observations)
    for fold in range(folds):
        held = set(order[fold::folds])
        train = [i for i in order if i not in held]
        train_labels = [labels[i] for i in train]
        if len(set(train_labels)) < 2:  # a tiny fold of one kind: its rate is all there is to learn
            rate = min(0.98, max(0.02, sum(train_labels) / max(1, len(train_labels))))
            for i in held:
                probabilities[i] = rate
            continue
        model = fit([observations[i] for i in train], train_labels, feature=feature)
        for i in held:
            probabilities[i] = model.probability(observations[i])
    return probabilities


def load_default() -> Calibrator | None:
    """``$HONESTSQL_CALIBRATION`` if set, else the fit shipped with the package."""
    configured = os.environ.get("HONESTSQL_CALIBRATION")
    try:
        if configured:
            return Calibrator.from_json(Path(configured).read_text(encoding="utf-8"))
        text = resources.files("honestsql").joinpath("calibration.json").read_text(encoding="utf-8")
        return Calibrator.from_json(text)
    except (OSError, ValueError, KeyError):
        return None


def summary(calibrator: Calibrator) -> dict[str, Any]:
    return {
        "feature": calibrator.feature,
        "points": [list(p) for p in zip(calibrator.x, calibrator.y, strict=True)],
    }


def observations_from_runs(runs: Sequence[Any]) -> tuple[list[Observation], list[bool]]:
    """Treat several ``eval score`` runs of one benchmark as an ensemble: per question, each
    run's result is a candidate; the label is whether the most common result was correct."""
    if len({r.header.get("benchmark") for r in runs}) != 1:
        raise ValueError("the runs must all be of one benchmark")
    by_question: dict[str, list[Any]] = {}
    for run in runs:
        for outcome in run.outcomes:
            if outcome.status != "skipped" and outcome.answerable:
                by_question.setdefault(outcome.id, []).append(outcome)
    observations, labels = [], []
    for outcomes in by_question.values():
        if len(outcomes) != len(runs):
            continue
        keys = [o.result_key if o.status in {"correct", "wrong"} else None for o in outcomes]
        observation = Observation(keys)
        top = observation.top_key()
        observations.append(observation)
        labels.append(any(o.correct for o in outcomes if top is not None and o.result_key == top))
    return observations, labels
