"""``--report``: a self-contained HTML page (charts embedded as PNG) for one run."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from honestsql.errors import InvalidInput
from honestsql.evaluation.metrics import reliability_bins, risk_coverage
from honestsql.evaluation.runs import RunResult


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _charts(run: RunResult) -> tuple[str, str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ModuleNotFoundError:
        raise InvalidInput(
            "--report draws charts with matplotlib: pip install 'honestsql[eval]'"
        ) from None
    judged = [j for o in run.outcomes if (j := o.judged()) is not None]
    curve = risk_coverage(judged)
    fig, ax = plt.subplots(figsize=(5, 3.6))
    if curve:
        ax.plot([c for c, _ in curve], [r for _, r in curve], color="#1f5fa8")
    ax.set_xlabel("coverage (share of questions answered)")
    ax.set_ylabel("risk (share of answers wrong)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("Risk-coverage, most confident answers first")
    ax.grid(alpha=0.3)
    risk_png = _png(fig)
    plt.close(fig)
    answered = [j for j in judged if j.answered and j.confidence is not None]
    bins = reliability_bins(
        [float(j.confidence or 0) for j in answered], [j.correct for j in answered]
    )
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.plot([0, 1], [0, 1], linestyle="--", color="#999999", label="perfect calibration")
    if bins:
        ax.bar(
            [b["confidence"] for b in bins],
            [b["accuracy"] for b in bins],
            width=0.08,
            color="#2e8b57",
            alpha=0.8,
            label="accuracy of answers in bin",
        )
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("Reliability diagram" + ("" if bins else " (no confidences given)"))
    ax.legend(loc="upper left", fontsize=8)
    reliability_png = _png(fig)
    plt.close(fig)
    return risk_png, reliability_png


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape(str(value))


def write(run: RunResult, path: Path, *, worst: int = 25) -> None:
    summary = run.summary()
    risk_png, reliability_png = _charts(run)
    failures = [o for o in run.outcomes if o.status in {"wrong", "error"}]
    failures.sort(key=lambda o: -(o.confidence if o.confidence is not None else 0.0))
    rows = "\n".join(
        f"<tr><td>{o.index}</td><td>{html.escape(o.question)}</td><td><code>{html.escape(o.gold_sql or 'unanswerable')}</code></td>"
        f"<td><code>{html.escape(o.pred_sql or '')}</code></td><td>{_fmt(o.confidence)}</td>"
        f"<td>{html.escape(o.status)}{': ' + html.escape(o.error) if o.error else ''}</td></tr>"
        for o in failures[:worst]
    )
    figures = [
        ("questions", summary["n"]),
        ("scored", summary["scored"]),
        ("skipped", summary["skipped"]),
        ("execution accuracy (EX)", summary["ex"]),
        ("coverage", summary["coverage"]),
        ("selective accuracy", summary["selective_accuracy"]),
        ("error rate", summary["error_rate"]),
        *((f"penalized score S({t})", v) for t, v in summary["penalized"].items()),
        *((f"reliability score RS({c})", v) for c, v in summary["rs"].items()),
        ("AUROC", summary["auroc"]),
        ("ECE", summary["ece"]),
    ]
    table = "\n".join(f"<tr><th>{html.escape(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in figures)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>honestsql eval: {html.escape(summary["benchmark"])}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; }} th, td {{ border: 1px solid #ddd; padding: .3rem .6rem; text-align: left; vertical-align: top; }}
code {{ font-size: .85em; white-space: pre-wrap; }} .charts img {{ max-width: 48%; margin-right: 1%; }}
</style></head><body>
<h1>honestsql eval: {html.escape(summary["benchmark"])}</h1>
<p>Predictions: <code>{html.escape(str(run.header.get("predictions")))}</code>; matching by {html.escape(str(run.header.get("match")))}.
Skipped questions (no database, no prediction, or a failing gold query) are not counted: {_fmt(summary["skipped_reasons"])}.</p>
<table>{table}</table>
<div class="charts"><img alt="risk-coverage curve" src="data:image/png;base64,{risk_png}">
<img alt="reliability diagram" src="data:image/png;base64,{reliability_png}"></div>
<h2>Worst failures (most confident first)</h2>
<table><tr><th>#</th><th>question</th><th>gold</th><th>prediction</th><th>confidence</th><th>outcome</th></tr>
{rows}</table>
</body></html>
"""
    path.write_text(page, encoding="utf-8")
