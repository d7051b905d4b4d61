"""What each recorded signal beyond the calibrator's own adds to a ``bench ask`` run
(``bench ask --report-only --ablation``), measured with ``ask_figures.summarize``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from honestsql import calibration
from honestsql.benchmarks.ask_figures import summarize
from honestsql.catalog import Catalog
from honestsql.clues import leaf_join
from honestsql.db import Database
from honestsql.decide import SCHEMA_SIGNALS, schema_signals
from honestsql.evaluation.records import leading_index


def ablation(
    records: Sequence[dict[str, Any]],
    *,
    model: str,
    target: float = 0.75,
    extra: Sequence[str] | None = None,
) -> dict[str, Any]:
    """What each recorded signal beyond the model's own (``calibration.signals_of``) adds,
    nested leave-one-database-out: the figures with the model's signals alone, with each other
    one added, and with every one that helped added together. A signal helps when the AUROC on
    answerable questions rises by at least 0.005 without the ECE on them rising by more than
    0.01."""
    own = calibration.signals_of(model)
    extra = [s for s in calibration.RECORDED if s not in own] if extra is None else extra

    def row(name: str, signals: Sequence[str]) -> dict[str, Any]:
        f = summarize(records, model=model, target=target, signals=signals)
        keys = ("auroc_answerable", "ece_answerable", "auroc", "ece", "precision")
        return {
            "signals": name,
            **{k: f[k] for k in keys},
            "answered_right": f["answered_right"],
            "s_0.75": f["s_all"].get("0.75"),
        }

    base = row("baseline", own)
    rows, helped = [base], []
    recorded = {k for r in records for k in r.get("signals") or {}}
    for name in extra:
        if name not in recorded:
            rows.append({"signals": f"+ {name}", "not_recorded": True})
            continue
        added = row(f"+ {name}", (*own, name))
        rows.append(added)
        if _helps(added, base):
            helped.append(name)
    if len(helped) > 1:
        rows.append(row("+ " + " + ".join(helped), (*own, *helped)))
    return {
        "model": model,
        "questions": len(records),
        "baseline_signals": list(own),
        "rows": rows,
        "helped": helped,
    }


def _helps(added: dict[str, Any], base: dict[str, Any]) -> bool:
    a, b = added["auroc_answerable"], base["auroc_answerable"]
    e, f = added["ece_answerable"], base["ece_answerable"]
    return a is not None and b is not None and a >= b + 0.005 and (e or 0) <= (f or 0) + 0.01


#: The signals computed again for runs recorded before they existed: those read from the schema
#: and ``leaf_join`` (rule 13), read from the chosen query alone.
READ_AGAIN = (*SCHEMA_SIGNALS, "leaf_join")


def with_later_signals(
    records: Sequence[dict[str, Any]],
    database: Callable[[dict[str, Any]], Database | None],
    questions: Mapping[str, str],
) -> list[dict[str, Any]]:
    """The records with the signals added to the pipeline after they were recorded, for runs
    recorded before it: those read from the schema (``decide.schema_signals``:
    ``schema_columns``, rule 6, ``named_unread``, rule 9, and ``asked_unknown``, rule 18, in
    docs/BENCHMARKS.md) and ``leaf_join`` (rule 13), computed from the question (``questions``,
    by record id) and the chosen query on the question's database. A record that carries them,
    or whose database or question is not here, is left as it is."""
    catalogs: dict[Database, Catalog] = {}
    out = []
    for record in records:
        seen = record.get("signals") or {}
        db = database(record)
        question = questions.get(record["id"])
        if not seen or all(k in seen for k in READ_AGAIN) or db is None or question is None:
            out.append(record)
            continue
        if db not in catalogs:
            catalogs[db] = db.catalog()
        chosen = record.get("chosen")
        if chosen is None:  # a rule abstained; live, the signals were read on the leading query
            chosen = leading_index(record["candidates"])
        candidate = record["candidates"][chosen] if chosen is not None else None
        sql = candidate["sql"] if candidate and candidate["status"] == "ok" else None
        found = schema_signals(catalogs[db], question, sql, db.sql_dialect)
        found["leaf_join"] = 1.0 if sql and leaf_join(sql, db.sql_dialect) else 0.0
        out.append({**record, "signals": {**found, **seen}})  # what was recorded stands
    return out
