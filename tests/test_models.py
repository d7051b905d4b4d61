"""Model files put together from part packages: order, size and SHA-256 checked, nothing kept on
a mismatch, a clear message when parts are missing. The part packages are real folders on
``sys.path`` built by the test."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from honestsql.llm import BackendError
from honestsql.llm.models import RegistrySource, assemble, is_verified, part_paths

CHUNKS = [b"GGUF" + bytes(range(256)) * 40, b"second part" * 997, b"end"]


@pytest.fixture
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RegistrySource:
    site = tmp_path / "site"
    names = []
    for index, chunk in enumerate(CHUNKS, start=1):
        package = site / f"hsqltest_model_part{index}"
        (package / "data").mkdir(parents=True)
        # A package whose code must never run: importing it would fail the test.
        (package / "__init__.py").write_text("raise RuntimeError('imported')\n")
        (package / "data" / f"part{index:02d}.bin").write_bytes(chunk)
        names.append(f"hsqltest-model-part{index}")
    monkeypatch.syspath_prepend(str(site))
    return RegistrySource(tuple(names), "0.1.0")


def test_parts_are_put_together_in_order_and_verified(
    source: RegistrySource, tmp_path: Path
) -> None:
    whole = b"".join(CHUNKS)
    target = tmp_path / "models" / "m.gguf"
    seen: list[int] = []
    path = assemble(
        source,
        target,
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        progress=seen.append,
    )
    assert path.read_bytes() == whole and sum(seen) == len(whole)
    assert is_verified(path, hashlib.sha256(whole).hexdigest())
    assert not [m for m in sys.modules if m.startswith("hsqltest_model")]
    assert sorted(p.name for p in target.parent.iterdir()) == ["m.gguf", "m.gguf.sha256"]


def test_a_hash_mismatch_keeps_nothing(source: RegistrySource, tmp_path: Path) -> None:
    whole = b"".join(CHUNKS)
    target = tmp_path / "models" / "m.gguf"
    with pytest.raises(BackendError, match="not the published file"):
        assemble(source, target, size=len(whole), sha256="0" * 64)
    assert list(target.parent.iterdir()) == []


def test_missing_parts_name_the_install_command(source: RegistrySource, tmp_path: Path) -> None:
    bigger = RegistrySource((*source.distributions, "hsqltest-model-part9"), "0.1.0")
    assert len(part_paths(bigger)[0]) == 3
    with pytest.raises(BackendError, match="pip install .*hsqltest-model-part9==0.1.0"):
        assemble(bigger, tmp_path / "m.gguf", size=1, sha256="0" * 64)


def test_a_named_model_resolves_from_its_parts(
    source: RegistrySource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from honestsql.llm import llama_cpp

    whole = b"".join(CHUNKS)
    known = llama_cpp.KnownModel(
        "nobody/none",
        "fake.gguf",
        0.0,
        "test",
        size_bytes=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        registry=source,
        extra="fake-extra",
    )
    missing = llama_cpp.KnownModel(
        "nobody/none",
        "gone.gguf",
        0.0,
        "test",
        size_bytes=1,
        sha256="0" * 64,
        registry=RegistrySource(("hsqltest-absent-part1",), "1.0"),
        extra="fake-extra",
    )
    monkeypatch.setitem(llama_cpp.MODELS, "fake", known)
    monkeypatch.setitem(llama_cpp.MODELS, "gone", missing)
    monkeypatch.setenv("HONESTSQL_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = llama_cpp.resolve("fake")
    assert path == tmp_path / "models" / "fake.gguf" and path.read_bytes() == whole
    assert llama_cpp.resolve("fake") == path  # verified once, not put together again
    with pytest.raises(BackendError, match=r"honestsql\[fake-extra\]"):
        llama_cpp.resolve("gone")


def test_models_command_lists_the_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import json
    import os
    import subprocess

    env = {**os.environ, "HONESTSQL_MODELS_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "honestsql", "models", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    models = json.loads(proc.stdout)["models"]
    default = [m for m in models if m["default"]]
    assert [m["name"] for m in default] == ["qwen2.5-coder-1.5b"]
    assert default[0]["sha256"].startswith("cc324af0") and default[0]["file"] is None
