"""Prompt states on disk: the context after a stable prefix (instructions and schema), saved
so that a new process starts warm on a database it has seen.

A state file is named by the model file and llama.cpp build (``file_fingerprint``) and by the
prefix's tokens; it is loaded only when it holds exactly those tokens, and written under a
temporary name first. The least recently used files beyond ``DISK_STATES_BYTES`` are deleted.
"""

from __future__ import annotations

import ctypes
import hashlib
import hmac
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: Bytes of prompt states kept on disk per model (about 28 KB per prompt token for the 1.5B
#: model): the least recently used beyond this are deleted, the newest always kept.
DISK_STATES_BYTES = 1 << 30


def file_fingerprint(path: Path) -> str:
    """The model file and the llama.cpp build: a saved state is only loaded by the same pair."""
    import llama_cpp

    key = f"{path.name}:{path.stat().st_size}:{llama_cpp.__version__}"
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def path_for(directory: Path, fingerprint: str, tokens: Sequence[int]) -> Path:
    digest = hashlib.sha256(np.asarray(tokens, dtype=np.int32).tobytes()).hexdigest()[:32]
    return directory / f"{fingerprint}-{digest}.state"


def _key() -> bytes:
    """This user's secret for signing state files (``state-key`` in the data folder, 0600)."""
    from honestsql.cache import data_dir, private_dir

    path = private_dir(data_dir()) / "state-key"
    try:
        handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return path.read_bytes()
    key = os.urandom(32)
    with os.fdopen(handle, "wb") as out:
        out.write(key)
    return key


def _signature(path: Path) -> str:
    mac = hmac.new(_key(), digestmod=hashlib.sha256)
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            mac.update(block)
    return mac.hexdigest()


def _signature_path(path: Path) -> Path:
    return path.with_name(path.name + ".sig")


def signed(path: Path) -> bool:
    """Whether ``path`` carries this user's signature: a state file is loaded into the model's
    memory only then (one another user planted, or one cut short, never is)."""
    try:
        expected = _signature_path(path).read_text().strip()
        return hmac.compare_digest(expected, _signature(path))
    except OSError:
        return False


def load(engine: Any, path: Path, tokens: Sequence[int]) -> bool:
    """Load sequence 0 of ``engine``'s context from ``path``; False (and sequence 0 empty) when
    the file is missing, unsigned, unreadable or holds other tokens."""
    if not path.is_file() or not signed(path):
        return False
    lib = engine.lib
    lib.llama_memory_seq_rm(engine.memory, 0, -1, -1)
    out = (lib.llama_token * len(tokens))()
    count = ctypes.c_size_t(0)
    read = lib.llama_state_seq_load_file(
        engine.ctx, str(path).encode(), 0, out, len(tokens), ctypes.byref(count)
    )
    if read == 0 or list(out[: count.value]) != list(tokens):
        lib.llama_memory_seq_rm(engine.memory, 0, -1, -1)
        return False
    os.utime(path)
    return True


def save(engine: Any, path: Path, tokens: Sequence[int], family: str) -> None:
    """Save sequence 0 (holding ``tokens``) to ``path`` unless it is there, then prune the
    files matching ``family`` to the budget."""
    if path.exists():
        return
    from honestsql.cache import private_dir

    lib = engine.lib
    private_dir(path.parent)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    array = (lib.llama_token * len(tokens))(*tokens)
    written = lib.llama_state_seq_save_file(
        engine.ctx, str(partial).encode(), 0, array, len(tokens)
    )
    if written:
        partial.chmod(0o600)
        _signature_path(partial).write_text(_signature(partial))
        os.replace(_signature_path(partial), _signature_path(path))
        os.replace(partial, path)
        prune(path.parent, family, DISK_STATES_BYTES)
    else:
        partial.unlink(missing_ok=True)


def prune(directory: Path, pattern: str, budget: int) -> None:
    files = sorted(directory.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
    used = 0
    for index, path in enumerate(files):
        used += path.stat().st_size
        if index > 0 and used > budget:
            path.unlink(missing_ok=True)
            _signature_path(path).unlink(missing_ok=True)
