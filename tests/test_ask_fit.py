"""The calibrator fitted on several runs' records pooled, and a run's confidence fitted on other
runs' records (`bench ask --report-only --fit-on`, `calibrate fit --pool`): held out by database
all the same."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from honestsql import fitting
from honestsql.benchmarks import ask as bench
from honestsql.benchmarks import ask_figures, ask_fit
from honestsql.errors import InvalidInput


def _record(i: int, *, right_when_sure: bool, suite: str = "spider") -> dict[str, Any]:
    sure = (i // 4) % 2 == 0
    right = sure is right_when_sure
    return {
        "id": f"{suite}:{i}",
        "suite": suite,
        "db_id": f"db{i % 4}",
        "answerable": True,
        "rule": None,
        "chosen": 0,
        "chosen_correct": right,
        "signals": {"top_share": 1.0 if sure else 0.4, "margin": 1.0 if sure else 0.4},
        "candidates": [{"sql": "SELECT 1", "status": "ok", "correct": right}],
        "seconds": 1.0,
        "usage": {},
    }


def _run(path: Path, records: list[dict[str, Any]], **header: Any) -> Path:
    head = {"kind": "header", "version": bench.RUN_VERSION, "model": "m", "grammar": "full"}
    path.write_text("\n".join(json.dumps(r) for r in [{**head, **header}, *records]) + "\n")
    return path


def test_a_fit_on_other_records_never_reads_the_held_out_database() -> None:
    rows = [{"top_share": k / 10} for k in range(10) for _ in range(4)]
    labels = [k >= 5 for k in range(10) for _ in range(4)]
    groups = [f"g{i % 4}" for i in range(len(rows))]
    plain = fitting.grouped_cross_validated(rows, labels, groups, regularization=1.0)
    # Training records of another run: g0's labels turned over. Held out, g0 is scored by fits
    # that never saw g0 (the same as without them); the others by fits that saw them.
    turned = [not y if g == "g0" else y for y, g in zip(labels, groups, strict=True)]
    trained = fitting.grouped_cross_validated(
        rows, labels, groups, regularization=1.0, train=(rows, turned, groups)
    )
    g0 = [i for i, g in enumerate(groups) if g == "g0"]
    assert [trained[i] for i in g0] == [plain[i] for i in g0]
    assert any(trained[i] != plain[i] for i in range(len(rows)) if i not in g0)


def test_a_runs_confidence_fitted_on_another_runs_records() -> None:
    mine = [_record(i, right_when_sure=True) for i in range(40)]
    other = [_record(i, right_when_sure=False) for i in range(40)]
    own = ask_figures.summarize(mine, model="m")
    assert own["auroc_answerable"] == 1.0
    # Fitted on a run where sure answers were wrong, the confidence reads this run backwards.
    turned = ask_figures.summarize(mine, model="m", fit_on=other)
    assert turned["auroc_answerable"] == 0.0 and turned["answered_right"] < own["answered_right"]
    pooled = ask_figures.summarize(mine, model="m", fit_on=mine + mine)
    assert pooled["auroc_answerable"] == 1.0


def test_sources_name_their_suites(tmp_path: Path) -> None:
    run = _run(
        tmp_path / "r.jsonl",
        [_record(i, right_when_sure=True, suite="spider") for i in range(8)]
        + [_record(i, right_when_sure=True, suite="sqleval-sqlite") for i in range(8)],
    )
    assert ask_fit.parse_source(str(run)) == (run, None)
    assert ask_fit.parse_source(f"{run}:spider, sqleval-sqlite") == (
        run,
        ("spider", "sqleval-sqlite"),
    )
    with pytest.raises(InvalidInput, match="shoes"):
        ask_fit.parse_source(f"{run}:spider,shoes")
    _, spider = ask_fit.load_sources([f"{run}:spider"])
    assert {r["suite"] for r in spider} == {"spider"} and len(spider) == 8
    _, pooled = ask_fit.load_sources([str(run), str(run)])
    assert len(pooled) == 32
    _, once = ask_fit.load_sources([str(run), str(run)], pool=False)
    assert len(once) == 16
    other = _run(tmp_path / "o.jsonl", [], model="n")
    with pytest.raises(InvalidInput, match="model"):
        ask_fit.load_sources([str(run), str(other)])


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "honestsql", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_bench_ask_reports_with_a_confidence_fitted_on_other_runs(tmp_path: Path) -> None:
    run = _run(tmp_path / "run.jsonl", [_record(i, right_when_sure=True) for i in range(40)])
    other = _run(tmp_path / "other.jsonl", [_record(i, right_when_sure=False) for i in range(40)])
    proc = _cli("bench", "ask", "--run", str(run), "--report-only", "--fit-on", f"{other}:spider")
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)
    assert figures["fit_on"]["records"] == 40 and figures["auroc_answerable"] == 0.0
    none = _cli(
        "bench", "ask", "--run", str(run), "--report-only", "--fit-on", f"{other}:sqleval-sqlite"
    )
    assert none.returncode == 0, none.stderr
    assert json.loads(none.stdout)["fit_on"]["records"] == 0
    stranger = _run(tmp_path / "n.jsonl", [_record(1, right_when_sure=True)], model="n")
    refused = _cli("bench", "ask", "--run", str(run), "--report-only", "--fit-on", str(stranger))
    assert refused.returncode != 0 and "model n against m" in refused.stdout
    alone = _cli("bench", "ask", "--run", str(run), "--fit-on", str(other))
    assert alone.returncode != 0 and "--report-only" in alone.stdout


def test_calibrate_fit_pools_runs(tmp_path: Path) -> None:
    run = _run(tmp_path / "run.jsonl", [_record(i, right_when_sure=True) for i in range(40)])
    again = _run(tmp_path / "again.jsonl", [_record(i, right_when_sure=True) for i in range(40)])
    out = tmp_path / "cal.json"
    pooled = _cli("calibrate", "fit", str(run), f"{again}:spider", "--pool", "--out", str(out))
    assert pooled.returncode == 0, pooled.stderr
    figures = json.loads(pooled.stdout)
    assert figures["records"] == 80 and figures["questions"] == 40
    written = json.loads(out.read_text())
    assert "several runs pooled" in written["fitted_on"]
    # The run files it was fitted on, by name (not where they lay), with the suites read.
    assert figures["runs"] == ["run.jsonl", "again.jsonl:spider"]
    assert written["fitted_on"].endswith("; runs run.jsonl, again.jsonl:spider")
    said = subprocess.run(
        [sys.executable, "-m", "honestsql", "calibrate", "fit", str(run), str(again), "--pool"]
        + ["--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert said.returncode == 0 and "80 records, several runs pooled, of 40 questions" in " ".join(
        said.stdout.split()
    )
    once = _cli("calibrate", "fit", str(run), str(again), "--out", str(out))
    assert once.returncode == 0, once.stderr
    assert json.loads(once.stdout)["questions"] == 40 and "records" not in json.loads(once.stdout)
    # Runs of different questions are not "pooled" twice over, but still named.
    other = _run(
        tmp_path / "o.jsonl",
        [_record(i, right_when_sure=True, suite="sqleval-sqlite") for i in range(40)],
    )
    apart = _cli("calibrate", "fit", str(run), str(other), "--pool", "--out", str(out))
    assert apart.returncode == 0, apart.stderr
    assert json.loads(apart.stdout)["runs"] == ["run.jsonl", "o.jsonl"]
    fitted_on = json.loads(out.read_text())["fitted_on"]
    assert "80 questions" in fitted_on and "pooled" not in fitted_on
    assert fitted_on.endswith("; runs run.jsonl, o.jsonl")
    bad = _cli("calibrate", "fit", f"{run}:hats", "--out", str(out))
    assert bad.returncode != 0 and "hats" in bad.stdout
