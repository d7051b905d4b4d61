"""The confidence calibrator: features by hand, fitting, the shipped file, fitting from runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from honestsql import calibration, fitting
from honestsql.calibration import Calibrator, Observation, features


def test_features_by_hand() -> None:
    obs = Observation(["a", "a", "a", "b", None], empty=True, relevance=0.5)
    top, margin, distinct, failed, empty, relevance = features(obs)
    assert (top, margin, distinct, failed, empty, relevance) == (
        pytest.approx(0.6),
        pytest.approx(0.4),
        pytest.approx(0.4),
        pytest.approx(0.2),
        1.0,
        0.5,
    )
    assert obs.top_key() == "a"
    assert features(Observation([None, None]))[:2] == [0.0, 0.0]


def test_fit_is_monotone_and_never_certain() -> None:
    observations = [
        Observation(["a"] * k + ["b"] * (10 - k)) for k in range(5, 11) for _ in range(10)
    ]
    labels = [
        i % 10 < (k - 4) * 2 for k in range(5, 11) for i in range(10)
    ]  # more agreement, more right
    model = fitting.fit(observations, labels, feature="top_share")
    probabilities = [
        model.probability(Observation(["a"] * k + ["b"] * (10 - k))) for k in range(5, 11)
    ]
    assert probabilities == sorted(probabilities)
    assert probabilities[0] >= 0.02 and probabilities[-1] <= 0.98
    again = Calibrator.from_json(model.to_json())
    assert again.probability(Observation(["a"] * 7 + ["b"] * 3)) == model.probability(
        Observation(["a"] * 7 + ["b"] * 3)
    )
    with pytest.raises(ValueError):
        fitting.fit(observations, [True] * len(observations))
    held_out = fitting.cross_validated(observations, labels, feature="top_share", folds=5)
    assert len(held_out) == len(observations) and all(0.0 <= p <= 1.0 for p in held_out)


def test_interpolation_and_bad_files() -> None:
    model = Calibrator([0.0, 0.5, 1.0], [0.1, 0.5, 0.9], "margin")
    assert model.probability(Observation(["a", "a", "b", "c"])) == pytest.approx(
        0.1 + 0.25 / 0.5 * 0.4
    )
    with pytest.raises(ValueError):
        Calibrator.from_json(json.dumps({"feature": "shoe_size", "x": [0], "y": [1]}))


def test_shipped_calibrator_and_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = calibration.shipped(calibration.SPIDER_ENSEMBLE)
    assert isinstance(shipped, Calibrator)
    assert shipped.feature == "margin" and "Spider" in shipped.fitted_on
    assert shipped.probability(Observation(["a"] * 5)) > shipped.probability(
        Observation(["a", "b", "c", "d", "e"])
    )
    own = tmp_path / "mine.json"
    own.write_text(Calibrator([0.0, 1.0], [0.3, 0.6], "top_share", "mine").to_json())
    monkeypatch.setenv("HONESTSQL_CALIBRATION", str(own))
    assert calibration.load_default().fitted_on == "mine"  # type: ignore[union-attr]
    monkeypatch.setenv("HONESTSQL_CALIBRATION", str(tmp_path / "missing.json"))
    with pytest.raises(calibration.CalibrationError, match="cannot be read"):
        calibration.load_default()  # a broken override is an error, never a silent fallback
    (tmp_path / "garbage.json").write_text("{not json")
    monkeypatch.setenv("HONESTSQL_CALIBRATION", str(tmp_path / "garbage.json"))
    with pytest.raises(calibration.CalibrationError, match="not a honestsql calibration file"):
        calibration.load_default()


def test_fit_from_eval_runs_by_command(tmp_path: Path) -> None:
    """Three systems scored on a self-made Spider-layout benchmark, then `calibrate fit`."""
    import sqlite3

    from honestsql.evaluation import datasets
    from honestsql.evaluation.runs import score

    root = tmp_path / "data"
    (root / "spider" / "databases" / "t").mkdir(parents=True)
    conn = sqlite3.connect(root / "spider" / "databases" / "t" / "t.sqlite")
    conn.executescript("CREATE TABLE n (v INTEGER); INSERT INTO n VALUES (1), (2), (3), (4);")
    conn.close()
    questions = [
        (f"SELECT COUNT(*) FROM n WHERE v > {i}", f"How many above {i}?") for i in range(4)
    ]
    (root / "spider" / "dev.json").write_text(
        json.dumps([{"db_id": "t", "query": q, "question": t} for q, t in questions])
    )
    systems = [
        [q for q, _ in questions],  # always right
        [q for q, _ in questions[:2]] + ["SELECT 0", "SELECT COUNT(*) FROM n WHERE v > 3"],
        [
            "SELECT 9",
            "SELECT COUNT(*) FROM n WHERE v > 1",
            "SELECT 0",
            "SELECT COUNT(*) FROM n WHERE v > 3",
        ],
    ]
    dataset = datasets.load("spider", root)
    runs = []
    for index, predictions in enumerate(systems):
        path = tmp_path / f"s{index}.sql"
        path.write_text("\n".join(predictions) + "\n")
        score(dataset, path, run_path=tmp_path / f"r{index}.jsonl")
        runs.append(str(tmp_path / f"r{index}.jsonl"))
    from honestsql.evaluation.runs import load_run

    observations, labels = fitting.observations_from_runs([load_run(Path(r)) for r in runs])
    # q0: 2 of 3 agree on the right result; q2: 2 of 3 agree on a wrong one.
    assert labels == [True, True, False, True]
    assert [features(o)[0] for o in observations] == pytest.approx([2 / 3, 1.0, 2 / 3, 1.0])
    out = tmp_path / "cal.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "honestsql",
            "calibrate",
            "fit",
            *runs,
            "--out",
            str(out),
            "--feature",
            "top_share",
            "--json",
        ],
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["questions"] == 4
    assert Calibrator.from_json(out.read_text()).fitted_on == "3 runs of spider"


def test_calibrate_fit_refuses_features_scored_runs_do_not_carry(tmp_path: Path) -> None:
    runs = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for run in runs:
        run.write_text("{}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "honestsql", "calibrate", "fit", *map(str, runs)]
        + ["--feature", "relevance"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "scored runs carry nothing else" in proc.stderr


@pytest.mark.parametrize("model", ["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"])
def test_each_shipped_full_calibrator_reads_exactly_its_models_signals(model: str) -> None:
    """``MODEL_SIGNALS`` and the shipped files agree: a signal kept for a model by its rule is
    one its calibrator was refitted to read, and no other model's calibrator reads it."""
    shipped = calibration.shipped(f"{model}-full")
    assert isinstance(shipped, calibration.LogisticCalibrator)
    assert set(shipped.weights) == set(calibration.signals_of(model))
    assert shipped.details["model"] == model and shipped.details["grammar"] == "full"
    assert ("schema_columns" in shipped.weights) is (model == "qwen2.5-coder-0.5b")
