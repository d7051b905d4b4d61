"""What each recorded signal beyond the calibrator's own adds to a ``bench ask`` run
(``bench ask --report-only --ablation``), measured with ``ask_figures.summarize``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from honestsql import calibration
from honestsql.benchmarks.ask_figures import summarize
from honestsql.db import Database


def ablation(
    records: Sequence[dict[str, Any]],
    *,
    model: str,
    target: float = 0.75,
    extra: Sequence[str] = calibration.RECORDED[len(calibration.SIGNALS) :],
) -> dict[str, Any]:
    """What each recorded signal beyond ``SIGNALS`` adds, nested leave-one-database-out: the
    figures with ``SIGNALS`` alone, with each one added, and with every one that helped added
    together. A signal helps when the AUROC on answerable questions rises by at least 0.005
    without the ECE on them rising by more than 0.01."""

    def row(name: str, signals: Sequence[str]) -> dict[str, Any]:
        f = summarize(records, model=model, target=target, signals=signals)
        keys = ("auroc_answerable", "ece_answerable", "auroc", "ece", "precision")
        return {
            "signals": name,
            **{k: f[k] for k in keys},
            "answered_right": f["answered_right"],
            "s_0.75": f["s_all"].get("0.75"),
        }

    base = row("baseline", calibration.SIGNALS)
    rows, helped = [base], []
    recorded = {k for r in records for k in r.get("signals") or {}}
    for name in extra:
        if name not in recorded:
            rows.append({"signals": f"+ {name}", "not_recorded": True})
            continue
        added = row(f"+ {name}", (*calibration.SIGNALS, name))
        rows.append(added)
        if _helps(added, base):
            helped.append(name)
    if len(helped) > 1:
        rows.append(row("+ " + " + ".join(helped), (*calibration.SIGNALS, *helped)))
    return {"model": model, "questions": len(records), "rows": rows, "helped": helped}


def _helps(added: dict[str, Any], base: dict[str, Any]) -> bool:
    a, b = added["auroc_answerable"], base["auroc_answerable"]
    e, f = added["ece_answerable"], base["ece_answerable"]
    return a is not None and b is not None and a >= b + 0.005 and (e or 0) <= (f or 0) + 0.01


def with_schema_size(
    records: Sequence[dict[str, Any]], database: Callable[[dict[str, Any]], Database | None]
) -> list[dict[str, Any]]:
    """The records with ``schema_columns`` among their signals (``calibration.schema_columns``
    of the question's database; rule 6 in docs/BENCHMARKS.md), for runs recorded before the
    pipeline recorded it; a record whose database cannot be opened here is left as it is."""
    sizes: dict[Database | None, float | None] = {}
    out = []
    for record in records:
        if "schema_columns" in (record.get("signals") or {}):  # recorded by the pipeline
            out.append(record)
            continue
        db = database(record)
        if db not in sizes:
            sizes[db] = None if db is None else calibration.schema_columns(db.catalog())
        size = sizes[db]
        if size is None or not record.get("signals"):
            out.append(record)
        else:
            out.append({**record, "signals": {**record["signals"], "schema_columns": size}})
    return out
