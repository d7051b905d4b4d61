"""`honestsql bench speed` end to end on the tiny GGUF the tests build, over real SQLite
databases in Spider's layout: every figure the issue asks for, consistent with each other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .test_bench_ask import _build
from .tiny_gguf import build

pytest.importorskip(
    "llama_cpp", reason="llama-cpp-python is not installed (pip install '.[local]')"
)


def test_bench_speed_cold_restart_warm_and_plain(tmp_path: Path) -> None:
    _build(tmp_path / "data")
    model = build(tmp_path / "tiny.gguf")
    env = {
        **os.environ,
        "HONESTSQL_DATA": str(tmp_path / "data"),
        "HONESTSQL_MODELS_DIR": str(tmp_path / "models"),
        "HONESTSQL_CACHE_DIR": str(tmp_path / "cache"),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "honestsql",
            "bench",
            "speed",
            "--model",
            str(model),
            "--suite",
            "spider",
            "--per-database",
            "2",
            "--candidates",
            "3",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout)
    assert figures["benchmark"] == "speed" and figures["model"] == "tiny"
    assert figures["databases"] == 2 and figures["n"] == 4  # two questions on each database
    for key in ("cold_p50_s", "restart_p50_s", "warm_p50_s", "warm_p95_s", "plain_p50_s"):
        assert figures[key] > 0, key
    # The ratio is of the unrounded seconds; the seconds are printed to 0.01 s.
    warm, plain = figures["warm_p50_s"], figures["plain_p50_s"]
    assert (warm - 0.005) / (plain + 0.005) <= figures["ratio_warm_p50"]
    assert figures["ratio_warm_p50"] <= (warm + 0.005) / (plain - 0.005)
    # The second question on a database reads its own text and the chat markers after it (the
    # tiny model reads a character per token: "<|im_end|>..." is about 30), not the schema.
    assert 0 <= figures["second_question_prompt_tokens"] <= 40
    assert figures["tokens_per_question"] < figures["plain_tokens_per_question"] * 3
    assert figures["prompt_tok_s"] > 0 and figures["gen_tok_s"] > 0
    assert 0 <= figures["candidates_ran_first"] <= 1  # noise rarely runs
    assert 0 < figures["sampling_share"] < 1 and figures["written_per_decoded"] >= 1
    assert figures["grammar"] == "full"  # the default, as at every door
