"""Confidence that means something: a calibrated map from candidate signals to P(correct).

The signals describe how a set of candidate answers behaves (agreement, failures, repairs, result
shape, values not in the data, relevance of the question to the schema; ``decide.signals``). Two
kinds of calibrator read them:

- ``LogisticCalibrator``: a logistic regression on all the signals, fitted on one model's own
  candidates (``honestsql bench ask`` runs), evaluated leave-one-database-out. One per named model
  ships in ``honestsql/calibrators/<model>.json``; ``calibrate fit`` refits one from your runs.
- ``Calibrator``: isotonic in one signal (the agreement margin), fitted on 17 published systems'
  Spider outputs (``calibrators/spider-17-systems.json``); kept as an out-of-distribution check.

Both are applied with plain arithmetic; fitting needs scikit-learn (``honestsql[calibrate]``).
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from honestsql.clues import CLUES
from honestsql.errors import HonestSQLError

if TYPE_CHECKING:
    from honestsql.catalog import Catalog
    from honestsql.llm import Backend
    from honestsql.settings import Settings

FEATURES = (
    "top_share",  # share of all candidates in the largest agreeing group
    "margin",  # top share minus the second group's share
    "distinct_share",  # distinct answers / candidates
    "failed_share",  # candidates that were refused or failed to run
    "empty",  # the top answer has no rows, or only NULLs and zeros
    "relevance",  # share of the question's words the schema knows
)
#: The features scored runs carry (they keep result keys, not the results or the questions'
#: words): what ``calibrate fit`` on ``eval score`` runs can fit on.
RUN_FEATURES = FEATURES[:4]


class CalibrationError(HonestSQLError):
    """A calibration file that was asked for cannot be used."""

    kind = "calibration"


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


def as_signals(obs: Observation) -> dict[str, float]:
    return dict(zip(FEATURES, features(obs), strict=True))


def _values(seen: Mapping[str, float] | Observation) -> Mapping[str, float]:
    return as_signals(seen) if isinstance(seen, Observation) else seen


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

    def probability(self, seen: Mapping[str, float] | Observation) -> float:
        return _interpolate(float(_values(seen).get(self.feature, 0.0)), self.x, self.y)

    def to_json(self) -> str:
        return json.dumps(
            {"feature": self.feature, "x": self.x, "y": self.y, "fitted_on": self.fitted_on},
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> Calibrator | LogisticCalibrator:
        data = json.loads(text)
        if data.get("kind") == "logistic":
            return LogisticCalibrator.from_dict(data)
        if data["feature"] not in FEATURES or len(data["x"]) != len(data["y"]) or not data["x"]:
            raise ValueError("not a honestsql calibration file")
        return cls(
            [float(v) for v in data["x"]],
            [float(v) for v in data["y"]],
            data["feature"],
            str(data.get("fitted_on", "")),
        )


#: The signals a logistic calibrator reads (``decide.signals`` computes them).
SIGNALS = (
    "top_share",
    "margin",
    "distinct_share",
    "failed_share",
    "abstain_share",
    "greedy_agrees",
    "repaired",
    "empty",
    "truncated",
    "ungrounded",
    "type_mismatch",
    "relevance",
    # Kept by the rule written before the complete 1.5B `full` run was seen (docs/BENCHMARKS.md):
    # AUROC on answerable questions 0.796 -> 0.826, their ECE 0.069 -> 0.053, S(0.75) not lower.
    "per_group_flat",
)
#: Every signal ``decide.signals`` records, so a calibrator can be fitted on any of them: the
#: clues (``honestsql.clues``), the model's likelihood of the agreeing queries and its own
#: yes/no check of the leading one (``honestsql.selfcheck``).
RECORDED = (
    *SIGNALS,
    *(c for c in CLUES if c not in SIGNALS),
    "likelihood",
    "least_likely",
    "self_check",
    "schema_columns",
    "named_unread",
    "asked_unknown",
)
#: Signals beyond ``SIGNALS`` that one model's calibrators are fitted on from now on, each kept
#: by a rule written before that model's run was read (docs/BENCHMARKS.md): the 0.5B's
#: confidence needs to know how large a database is (rule 6); the 1.5B's does not. (The 0.5B's
#: ``qualified`` calibrator, fitted before, reads only ``SIGNALS``.)
MODEL_SIGNALS: dict[str, tuple[str, ...]] = {"qwen2.5-coder-0.5b": ("schema_columns",)}


#: How a calibrator fitted on agreement that counts a result with a wider one holding it (rule 4,
#: docs/BENCHMARKS.md) says so in its details, so that ``decide`` counts agreement as it learned.
MERGE_IN_ORDER = "merge-in-order"


def merges_in_order(calibrator: object) -> bool:
    """Whether ``calibrator`` was fitted on agreement counted with ``merging.merge_wider``."""
    details = getattr(calibrator, "details", None)
    return isinstance(details, dict) and details.get("agreement") == MERGE_IN_ORDER


def signals_of(model: str) -> tuple[str, ...]:
    """The signals a calibrator of ``model`` is fitted on."""
    return (*SIGNALS, *MODEL_SIGNALS.get(model, ()))


def schema_columns(catalog: Catalog) -> float | None:
    """The size of a database's schema as a signal: ln(the columns of all its tables, as its
    catalog lists them) / 5, so restaurants' 12 columns read 0.50 and atis' 127 read 0.97; a
    schema of 149 columns or more reads 1 (no calibrator has seen a larger one)."""
    columns = sum(len(table.columns) for table in catalog.tables)
    return min(1.0, math.log(columns) / 5) if columns else None


#: Never certain: a few hundred questions cannot show a 0% or 100% error rate.
FLOOR, CEILING = 0.02, 0.98


@dataclass
class LogisticCalibrator:
    """P(correct) = sigmoid(intercept + sum of weight * signal), over ``SIGNALS``."""

    weights: dict[str, float]
    intercept: float
    fitted_on: str = ""
    #: Figures of the fit (questions, cross-validated AUROC and ECE, ...), for the record.
    details: dict[str, Any] = field(default_factory=dict)

    def probability(self, seen: Mapping[str, float] | Observation) -> float:
        values = _values(seen)
        z = self.intercept + sum(w * float(values.get(k, 0.0)) for k, w in self.weights.items())
        return min(CEILING, max(FLOOR, 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))))

    def to_json(self) -> str:
        return json.dumps(
            {
                "kind": "logistic",
                "weights": self.weights,
                "intercept": self.intercept,
                "fitted_on": self.fitted_on,
                "details": self.details,
            },
            indent=2,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LogisticCalibrator:
        weights = data.get("weights")
        if not isinstance(weights, dict) or not set(weights) <= set(RECORDED):
            raise ValueError("not a honestsql calibration file")
        return cls(
            {k: float(v) for k, v in weights.items()},
            float(data["intercept"]),
            str(data.get("fitted_on", "")),
            dict(data.get("details") or {}),
        )


#: Strengths of the L2 penalty tried (scikit-learn's C: smaller is stronger).
REGULARIZATION = (0.1, 0.3, 1.0, 3.0, 10.0)


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


AnyCalibrator = Calibrator | LogisticCalibrator


def reads(calibrator: AnyCalibrator | None) -> set[str]:
    """The signals ``calibrator`` reads."""
    if isinstance(calibrator, LogisticCalibrator):
        return set(calibrator.weights)
    return {calibrator.feature} if calibrator is not None else set()


#: The model whose calibrator applies when the model in use has none of its own.
DEFAULT_MODEL = "qwen2.5-coder-1.5b"
SPIDER_ENSEMBLE = "spider-17-systems"


def shipped(name: str) -> AnyCalibrator | None:
    """A calibrator shipped with the package (``calibrators/<name>.json``), if there is one."""
    try:
        text = (
            resources.files("honestsql")
            .joinpath("calibrators", f"{name}.json")
            .read_text(encoding="utf-8")
        )
        return Calibrator.from_json(text)
    except (OSError, ValueError, KeyError):
        return None


def load_default(model: str | None = None, grammar: str | None = None) -> AnyCalibrator | None:
    """``$HONESTSQL_CALIBRATION`` if set, else the calibrator shipped for ``model`` under
    ``grammar`` (``<model>-<grammar>.json``), else the model's own fitted under another grammar
    (``<model>.json``: it knows how often that model is right), else the default model's (a note
    in each answer says which one was used)."""
    configured = os.environ.get("HONESTSQL_CALIBRATION")
    if configured:
        try:
            text = Path(configured).read_text(encoding="utf-8")
        except OSError as exc:
            raise CalibrationError(
                f"$HONESTSQL_CALIBRATION names {configured!r}, which cannot be read "
                f"({exc.strerror}); fix the path or unset it."
            ) from None
        try:
            return Calibrator.from_json(text)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CalibrationError(
                f"$HONESTSQL_CALIBRATION names {configured!r}, which is not a honestsql "
                f"calibration file ({exc}); write one with `honestsql calibrate fit`."
            ) from None
    names: list[str] = []
    for name in (model, DEFAULT_MODEL) if model else (DEFAULT_MODEL,):
        names += [f"{name}-{grammar}", name] if grammar else [name]
    for name in names:
        found = shipped(name)
        if found is not None:
            return found
    return None


def for_backend(backend: Backend, settings: Settings) -> AnyCalibrator | None:
    """The calibrator of the backend's model under the grammar it decodes with (``full`` asked
    of a backend without Lark decodes ``qualified``); ``None`` when not ``calibrated``."""
    from honestsql.llm.full_grammar import decoded_shape

    if not settings.calibrated:
        return None
    shape = decoded_shape(
        settings.grammar, gbnf=backend.supports_grammar, lark=backend.supports_lark
    )
    return load_default(backend.model_name, shape)


def summary(calibrator: Calibrator) -> dict[str, Any]:
    return {
        "feature": calibrator.feature,
        "points": [list(p) for p in zip(calibrator.x, calibrator.y, strict=True)],
    }
