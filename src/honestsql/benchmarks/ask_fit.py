"""The calibrator a model ships, fitted on ``bench ask`` runs: on one run's questions, or on the
records of several runs pooled (the same question asked in two runs counts twice, both held out
with its database). A source is a run file, optionally with the suites to read from it:
``runs/x.jsonl:spider,sqleval-sqlite``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from honestsql import calibration, fitting
from honestsql.benchmarks import ask as bench
from honestsql.benchmarks.ask_figures import (
    absent_signals,
    calibration_data,
    cross_validated_confidence,
    rounded,
)
from honestsql.errors import InvalidInput
from honestsql.evaluation.metrics import auroc, ece, ece_by_chance

#: What runs fitted together must share: the model, its grammar, and how agreement is counted.
SHARED = ("model", "grammar", "agreement")


def parse_source(text: str) -> tuple[Path, tuple[str, ...] | None]:
    """A run file and the suites to read from it (``None``: all): ``PATH`` or ``PATH:S1,S2``."""
    path = Path(text)
    head, colon, tail = text.rpartition(":")
    if path.exists() or not colon or not head or "/" in tail or "\\" in tail:
        return path, None
    suites = tuple(s.strip() for s in tail.split(",") if s.strip())
    known = (*bench.SUITES, *bench.EXTRA_SUITES)
    unknown = [s for s in suites if s not in known]
    if unknown or not suites:
        raise InvalidInput(
            f"{text!r}: after the run file's ':' come suites ({', '.join(known)}), "
            f"not {', '.join(unknown) or 'nothing'}."
        )
    return Path(head), suites


def load_sources(
    sources: Sequence[str], *, pool: bool = True
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What the runs share (``SHARED``) and their records: every record of every source
    (``pool``), or the last record of each question (a run written in several files)."""
    if not sources:
        raise InvalidInput("Give at least one run file to fit on.")
    loaded = []
    for text in sources:
        path, suites = parse_source(text)
        header, records = bench.load_run(path)
        loaded.append((header, [r for r in records if suites is None or r["suite"] in suites]))
    shared: dict[str, Any] = {}
    for key in SHARED:
        values = {header.get(key) for header, _ in loaded}
        if len(values) != 1:
            raise InvalidInput(
                f"The runs differ in their {key} ({', '.join(sorted(map(str, values)))}): a "
                "calibrator is fitted on one model's runs, under one grammar, counting agreement "
                "one way (merge-in-order runs are written by `bench what-if --write`)."
            )
        shared[key] = values.pop()
    if pool:
        return shared, [r for _, records in loaded for r in records]
    return shared, list({r["id"]: r for _, records in loaded for r in records}.values())


def fit(
    records: Sequence[dict[str, Any]],
    model: str,
    signals: Sequence[str] | None = None,
    grammar: str | None = None,
    sources: Sequence[str] = (),
) -> calibration.LogisticCalibrator:
    """The calibrator to ship for ``model`` (decoding under ``grammar``): fitted on every
    record, on the model's signals (``calibration.signals_of``) unless ``signals`` says, with
    the leave-one-database-out figures in its details and the run files it was fitted on
    (``sources``, as ``load_sources`` read them; by file name)."""
    signals = signals or calibration.signals_of(model)
    index, rows, labels, groups = calibration_data(records)
    name = f"{model}, {grammar} grammar" if grammar else model
    questions = len({records[i]["id"] for i in index})
    pooled = questions < len(index)  # a question asked in two runs counts twice
    runs = [_named(text) for text in sources]
    fitted = fitting.fit_logistic(
        rows,
        labels,
        groups=groups,
        signals=signals,
        fitted_on=f"{name}: {len(rows)} {'records' if pooled else 'questions'} of honestsql "
        f"bench ask ({', '.join(sorted({records[i]['suite'] for i in index}))})"
        + (", several runs pooled" if pooled else "")
        + (f"; runs {', '.join(runs)}" if len(runs) > 1 else ""),
    )
    confidence = cross_validated_confidence(records, signals)
    held_out = [confidence[i] for i in index]
    absent = absent_signals(records, signals)
    fitted.details = {
        **fitted.details,
        # Signals no record carries (a run recorded before they existed) are read as 0
        # everywhere: the fit learns nothing from them. ``bench ask --rejudge`` computes them.
        **({"absent_signals": absent} if absent else {}),
        "model": model,
        **({"grammar": grammar} if grammar else {}),
        "questions": questions,
        **({"records": len(rows)} if pooled else {}),
        **({"runs": runs} if runs else {}),
        "databases": sorted(set(groups)),
        "correct_share": round(sum(labels) / len(labels), 4),
        "leave_one_database_out": {
            "auroc": rounded(auroc(held_out, labels)),
            "ece": rounded(ece(held_out, labels)),
            "ece_chance": rounded(ece_by_chance(held_out)),  # perfect calibration would show
        },
    }
    return fitted


def _named(source: str) -> str:
    """A source by its run file's name (where it lies is this machine's business)."""
    path, suites = parse_source(source)
    return path.name + (f":{','.join(suites)}" if suites else "")


def training_for(header: dict[str, Any], sources: Sequence[str]) -> list[dict[str, Any]]:
    """The records of ``sources`` pooled, to fit the confidence of the run whose header is
    ``header`` (``bench ask --report-only --fit-on``): they must share its ``SHARED`` keys."""
    shared, records = load_sources(sources)
    differ = [k for k in SHARED if shared[k] != header.get(k)]
    if differ:
        raise InvalidInput(
            f"--fit-on's runs differ from the run in their {', '.join(differ)}: "
            + ", ".join(f"{k} {shared[k]} against {header.get(k)}" for k in differ)
            + "."
        )
    return records
