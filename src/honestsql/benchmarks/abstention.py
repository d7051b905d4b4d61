"""``honestsql bench abstention``: does the decision model answer when it should, on real outputs?

Three measurements, each cross-validated (no question is scored by a model fitted on it):
1. Spider dev, executable subset: the 17 published systems' predictions as an ensemble.
2. sql-eval: the relevance gate separating ``idk.csv`` from answerable questions.
3. EHRSQL test: TrustSQL's five gpt-3.5 samples per question, against TrustSQL's published
   voting decision, both scored by normalized-SQL equality (no database rows exist).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import honestsql
from honestsql import calibration, fitting, linking
from honestsql.calibration import Observation
from honestsql.db.result import holds_nothing
from honestsql.evaluation import datasets, matching, sqleval_setup
from honestsql.evaluation.metrics import Judged, auroc, ece, risk_coverage, summarize
from honestsql.evaluation.predictions import read_predictions
from honestsql.evaluation.scorer import Scorer, rows_key

THRESHOLDS = (0.5, 0.75, 0.9)


def _decisions(probabilities: list[float], correct: list[bool]) -> dict[str, Any]:
    out: dict[str, Any] = {"s": {}, "coverage": {}, "selective_accuracy": {}}
    for t in THRESHOLDS:
        judged = [Judged(True, p <= t, c, p) for p, c in zip(probabilities, correct, strict=True)]
        s = summarize(judged)
        out["s"][str(t)] = s["penalized"][str(t)]
        out["coverage"][str(t)] = s["coverage"]
        out["selective_accuracy"][str(t)] = s["selective_accuracy"]
    out["auroc"] = auroc(probabilities, correct)
    out["ece"] = ece(probabilities, correct)
    return out


def spider(root: Path, progress: Any = lambda: None) -> dict[str, Any]:
    dataset = datasets.load_spider(root)
    files = sorted((root / "predictions" / "spider_dev").glob("*.sql"))
    scorer = Scorer(dataset)
    examples = [e for e in dataset.examples if dataset.locate(e.db_id)]
    keys: dict[str, list[str | None]] = {e.id: [] for e in examples}
    verdict: dict[str, dict[str, bool]] = {e.id: {} for e in examples}
    empty: dict[str, dict[str, bool]] = {e.id: {} for e in examples}
    per_system: dict[str, int] = {}
    for path in files:
        predictions = read_predictions(path, dataset)
        correct_count = 0
        for example in examples:
            sql = predictions[example.id].sql
            rows, is_correct = scorer.execute_prediction(example, sql) if sql else (None, False)
            key = rows_key(rows) if rows is not None else None
            keys[example.id].append(key)
            if key is not None:
                verdict[example.id].setdefault(key, is_correct)
                empty[example.id].setdefault(key, holds_nothing(rows or []))
            correct_count += is_correct
        per_system[path.stem] = correct_count
        progress()
    scorer.close()
    catalogs = {
        db: honestsql.connect(dataset.locate(db) or "").catalog()
        for db in {e.db_id for e in examples}
    }
    observations, correct = [], []
    for example in examples:
        top = Observation(keys[example.id]).top_key()
        observations.append(
            Observation(
                keys[example.id],
                empty=bool(top and empty[example.id][top]),
                relevance=linking.relevance(example.question, catalogs[example.db_id]),
            )
        )
        correct.append(bool(top and verdict[example.id][top]))
    n = len(examples)
    best = max(per_system, key=lambda k: per_system[k])
    best_ex = per_system[best] / n
    probabilities = fitting.cross_validated(observations, correct)
    curve = risk_coverage(
        [Judged(True, False, c, p) for p, c in zip(probabilities, correct, strict=True)]
    )
    vote_share = [calibration.features(o)[0] for o in observations]
    result = {
        "questions": n,
        "systems": len(files),
        "best_single": best,
        "best_single_ex": best_ex,
        "best_single_s": {
            str(t): (per_system[best] - t / (1 - t) * (n - per_system[best])) / n
            for t in THRESHOLDS
        },
        "majority_vote_accuracy": sum(correct) / n,
        "vote_share_auroc": auroc(vote_share, correct),
        "risk_coverage": [[round(c, 4), round(r, 4)] for c, r in curve],
        **_decisions(probabilities, correct),
    }
    model = fitting.fit(
        observations,
        correct,
        fitted_on=f"Spider dev executable subset, {len(files)} published systems",
    )
    result["calibrator"] = calibration.summary(model)
    result["_model"] = model
    return result


def sqleval(root: Path) -> dict[str, Any]:
    for name in sqleval_setup.DATABASES:
        if sqleval_setup.sqlite_path(name) is None:
            sqleval_setup.load_sqlite(name)
    dataset = datasets.load_sqleval(root, "sqlite")
    catalogs = {}
    scores, answerable = [], []
    refused = {"answerable": 0, "idk": 0}
    for example in dataset.examples:
        path = sqleval_setup.sqlite_path(example.db_id)
        if path is None:
            continue
        if example.db_id not in catalogs:
            catalogs[example.db_id] = honestsql.connect(path).catalog()
        relevance = linking.relevance(example.question, catalogs[example.db_id])
        scores.append(relevance)
        answerable.append(example.answerable)
        gate = relevance == 0.0 and len(linking.content_words(example.question)) >= 2
        if gate:
            refused["answerable" if example.answerable else "idk"] += 1
    n_answerable = sum(answerable)
    n_idk = len(answerable) - n_answerable
    by_category = Counter(
        e.category
        for e in dataset.examples
        if not e.answerable and sqleval_setup.sqlite_path(e.db_id)
    )
    return {
        "answerable": n_answerable,
        "idk": n_idk,
        "idk_auroc": auroc(scores, answerable),
        "false_refusal_rate": refused["answerable"] / n_answerable if n_answerable else None,
        "idk_refused": refused["idk"] / n_idk if n_idk else None,
        "idk_categories": dict(by_category),
    }


def ehrsql(root: Path) -> dict[str, Any]:
    data = json.loads((root / "ehrsql" / "test" / "data.json").read_text())["data"]
    labels = json.loads((root / "ehrsql" / "test" / "label.json").read_text())
    samples = json.loads((root / "trustsql_ehrsql" / "prediction.json").read_text())
    published = json.loads((root / "trustsql_ehrsql" / "model_decision.json").read_text())
    schema = datasets.from_spider_tables(
        json.loads((root / "ehrsql" / "tables.json").read_text())[0]
    )
    questions = [q for q in data if q["id"] in samples and q["id"] in published]
    observations, correct, unanswerable, top_sql = [], [], [], []
    for q in questions:
        gold = labels[q["id"]]
        normalized = [matching.normalize_sql(s, "sqlite") for s in samples[q["id"]]]
        obs = Observation(normalized, relevance=linking.relevance(q["question"], schema))
        top = obs.top_key()
        observations.append(obs)
        top_sql.append(top)
        unanswerable.append(gold == "null")
        correct.append(gold != "null" and top == matching.normalize_sql(gold, "sqlite"))
    p_correct = fitting.cross_validated(observations, correct)
    p_unanswerable = fitting.cross_validated(observations, unanswerable)

    def rs(answer: list[bool], right: list[bool], c: float) -> float:
        total = 0.0
        for a, r, u in zip(answer, right, unanswerable, strict=True):
            total += (1.0 if r else -c) if a else (1.0 if u else 0.0)
        return total / len(answer)

    figures: dict[str, Any] = {"questions": len(questions), "unanswerable": sum(unanswerable)}
    for c in (0.0, 5.0, 10.0):
        # Answer when the expected score of answering beats that of abstaining.
        answer = [p - c * (1 - p) > u for p, u in zip(p_correct, p_unanswerable, strict=True)]
        figures[f"rs{int(c)}"] = rs(answer, correct, c)
        base_answer = [published[q["id"]] != "null" for q in questions]
        base_right = [
            labels[q["id"]] != "null"
            and matching.normalize_sql(published[q["id"]], "sqlite")
            == matching.normalize_sql(labels[q["id"]], "sqlite")
            for q in questions
        ]
        figures[f"rs{int(c)}_baseline"] = rs(base_answer, base_right, c)
        figures[f"coverage_rs{int(c)}"] = sum(answer) / len(answer)
    figures["baseline_coverage"] = sum(1 for q in questions if published[q["id"]] != "null") / len(
        questions
    )
    figures["note"] = (
        "correctness by normalized-SQL equality with the gold query: EHRSQL ships no database rows"
    )
    return figures


def run(data: str | None, progress: Any = lambda: None) -> dict[str, Any]:
    root = datasets.data_root(data)
    result = {"spider": spider(root, progress), "sqleval": sqleval(root), "ehrsql": ehrsql(root)}
    return result


def write_report(result: dict[str, Any], path: Path) -> None:
    """An HTML page with the Spider risk-coverage curve (PNG embedded) and every figure."""
    import html

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from honestsql.evaluation.report import _png

    curve = result["spider"]["risk_coverage"]
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.plot(
        [c for c, _ in curve],
        [r for _, r in curve],
        color="#1f5fa8",
        label="honestsql (cross-validated)",
    )
    best = 1 - result["spider"]["best_single_ex"]
    ax.scatter([1.0], [best], color="#c0392b", zorder=3, label="best single system, answering all")
    ax.set_xlabel("coverage")
    ax.set_ylabel("risk (share of answers wrong)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, max(0.2, max((r for _, r in curve), default=0) * 1.2))
    ax.legend(fontsize=8)
    ax.set_title("Spider dev, 17-system ensemble")
    png = _png(fig)
    plt.close(fig)
    rows = []
    for section in ("spider", "sqleval", "ehrsql"):
        for key, value in result[section].items():
            if key in {"risk_coverage", "_model"}:
                continue
            rows.append(
                f"<tr><th>{section}.{html.escape(key)}</th><td>{html.escape(str(value))}</td></tr>"
            )
    path.write_text(
        "<!doctype html><html lang=en><meta charset=utf-8><title>honestsql abstention</title>"
        "<body style='font-family:system-ui;max-width:60rem;margin:2rem auto'>"
        "<h1>honestsql: answer or abstain, on real model outputs</h1>"
        f"<img alt='risk-coverage curve' src='data:image/png;base64,{png}'>"
        f"<table>{''.join(rows)}</table></body></html>",
        encoding="utf-8",
    )
