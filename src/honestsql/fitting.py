"""Fitting calibrators and measuring them honestly: held-out predictions by cross-validation
(grouped by database for a model's own runs), so a reported calibration error is never measured
on the questions the map was fitted on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from honestsql.calibration import (
    CEILING,
    FEATURES,
    FLOOR,
    REGULARIZATION,
    SIGNALS,
    Calibrator,
    LogisticCalibrator,
    Observation,
    features,
)


def _ready_to_fit(labels: Sequence[bool]) -> None:
    """scikit-learn is installed and both outcomes occur, or a clear error."""
    try:
        import sklearn  # noqa: F401
    except ModuleNotFoundError:
        raise RuntimeError(
            "Fitting needs scikit-learn: pip install 'honestsql[calibrate]'"
        ) from None
    if len(set(labels)) < 2:
        raise ValueError("need both kinds of outcome to fit a calibrator")


def fit_logistic(
    rows: Sequence[Mapping[str, float]],
    labels: Sequence[bool],
    *,
    groups: Sequence[str] | None = None,
    fitted_on: str = "",
    regularization: float | None = None,
    signals: Sequence[str] = SIGNALS,
) -> LogisticCalibrator:
    """An L2-regularized logistic regression (scikit-learn) of the labels on ``signals``.

    Without a ``regularization``, it is chosen by leave-one-group-out log loss over ``groups``
    (1.0 when there are fewer than three groups)."""
    _ready_to_fit(labels)
    from sklearn.linear_model import LogisticRegression

    if regularization is None:
        regularization = _choose_regularization(rows, labels, groups, signals)
    matrix = [[float(r.get(k, 0.0)) for k in signals] for r in rows]
    model = LogisticRegression(C=regularization, max_iter=1000)
    model.fit(matrix, [1 if v else 0 for v in labels])
    weights = {k: round(float(w), 6) for k, w in zip(signals, model.coef_[0], strict=True)}
    fitted = LogisticCalibrator(weights, round(float(model.intercept_[0]), 6), fitted_on)
    fitted.details["regularization"] = regularization
    return fitted


def _choose_regularization(
    rows: Sequence[Mapping[str, float]],
    labels: Sequence[bool],
    groups: Sequence[str] | None,
    signals: Sequence[str] = SIGNALS,
) -> float:
    if groups is None or len(set(groups)) < 3:
        return 1.0

    def loss(c: float) -> float:
        ps = grouped_cross_validated(rows, labels, groups, regularization=c, signals=signals)
        return -sum(math.log(p if y else 1.0 - p) for p, y in zip(ps, labels, strict=True)) / len(
            labels
        )

    return min(REGULARIZATION, key=loss)


def grouped_cross_validated(
    rows: Sequence[Mapping[str, float]],
    labels: Sequence[bool],
    groups: Sequence[str],
    *,
    regularization: float | None = None,
    signals: Sequence[str] = SIGNALS,
    train: tuple[Sequence[Mapping[str, float]], Sequence[bool], Sequence[str]] | None = None,
) -> list[float]:
    """Out-of-group probabilities: each question scored by a calibrator fitted on the other
    groups only (leave one database out). Without a ``regularization``, each fit chooses its own
    from its training groups alone (nested), so nothing is tuned on the held-out group. Given
    ``train`` (rows, labels and groups of other records, such as another run's), each fit reads
    those instead of ``rows``, still without the held-out group."""
    t_rows, t_labels, t_groups = train if train is not None else (rows, labels, groups)

    def fit_on(train_index: list[int]) -> Callable[[int], float]:
        model = fit_logistic(
            [t_rows[i] for i in train_index],
            [t_labels[i] for i in train_index],
            groups=[t_groups[i] for i in train_index],
            regularization=regularization,
            signals=signals,
        )
        return lambda i: model.probability(rows[i])

    splits = [
        (
            [i for i, g in enumerate(groups) if g == group],
            [i for i, g in enumerate(t_groups) if g != group],
        )
        for group in sorted(set(groups))
    ]
    return _out_of_fold(splits, len(rows), t_labels, fit_on)


def _out_of_fold(
    splits: Sequence[tuple[Sequence[int], Sequence[int]]],
    size: int,
    train_labels: Sequence[bool],
    fit_on: Callable[[list[int]], Callable[[int], float]],
) -> list[float]:
    """Each held-out question (of ``size``) scored by a model fitted on its split's training
    questions alone (indices into ``train_labels``). Training questions of one outcome only give
    their rate: it is all there is to learn."""
    probabilities = [0.0] * size
    for held, train in splits:
        labels = [train_labels[i] for i in train]
        if len(set(labels)) < 2:
            rate = min(CEILING, max(FLOOR, sum(labels) / max(1, len(labels))))
            for i in held:
                probabilities[i] = rate
            continue
        score = fit_on(list(train))
        for i in held:
            probabilities[i] = score(i)
    return probabilities


def fit(
    observations: Sequence[Observation],
    labels: Sequence[bool],
    *,
    feature: str = "margin",
    fitted_on: str = "",
) -> Calibrator:
    """Isotonic regression (scikit-learn) of the labels on one feature."""
    _ready_to_fit(labels)
    from sklearn.isotonic import IsotonicRegression

    column = FEATURES.index(feature)
    values = [features(o)[column] for o in observations]
    model = IsotonicRegression(increasing="auto", out_of_bounds="clip", y_min=0.0, y_max=1.0)
    model.fit(values, [1.0 if v else 0.0 for v in labels])
    xs = [float(v) for v in model.X_thresholds_]
    # Never certain: a hundred questions cannot show a 0% or 100% error rate.
    ys = [min(CEILING, max(FLOOR, float(v))) for v in model.y_thresholds_]
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

    def fit_on(train: list[int]) -> Callable[[int], float]:
        model = fit([observations[i] for i in train], [labels[i] for i in train], feature=feature)
        return lambda i: model.probability(observations[i])

    splits = []
    for fold in range(folds):
        held = set(order[fold::folds])
        splits.append((sorted(held), [i for i in order if i not in held]))
    return _out_of_fold(splits, len(labels), labels, fit_on)


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
