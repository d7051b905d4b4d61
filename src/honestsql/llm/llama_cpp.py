"""The embedded local model: a GGUF file run by llama-cpp-python, decoding under a grammar.

``--model`` is a path to a ``.gguf`` file or the name of a known model, which is downloaded once
into the cache (resumable, with a progress bar) through ``huggingface_hub``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from honestsql.llm import Backend, BackendError, Completion, GenerationRequest


@dataclass(frozen=True)
class KnownModel:
    repo_id: str
    filename: str
    size_gb: float
    note: str


#: Named models. Accuracy figures are the model authors' published ones, not measured here.
MODELS: dict[str, KnownModel] = {
    "arctic-text2sql-r1-7b": KnownModel(
        "mradermacher/Arctic-Text2SQL-R1-7B-GGUF",
        "Arctic-Text2SQL-R1-7B.Q4_K_M.gguf",
        4.7,
        "default: the highest published BIRD-dev accuracy of the 7B text-to-SQL models (about 69%)",
    ),
    "omnisql-7b": KnownModel(
        "mradermacher/OmniSQL-7B-GGUF",
        "OmniSQL-7B.Q4_K_M.gguf",
        4.7,
        "published BIRD-dev accuracy about 64%",
    ),
    "qwen2.5-coder-7b": KnownModel(
        "Qwen/Qwen2.5-Coder-7B-Instruct-GGUF",
        "qwen2.5-coder-7b-instruct-q4_k_m.gguf",
        4.7,
        "general coding model; published BIRD-dev accuracy about 51%",
    ),
    "qwen2.5-coder-1.5b": KnownModel(
        "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        1.1,
        "small and fast, much less accurate",
    ),
}
DEFAULT_MODEL = "arctic-text2sql-r1-7b"


def models_dir() -> Path:
    from honestsql.catalog import cache_dir

    return Path(os.environ.get("HONESTSQL_MODELS_DIR") or cache_dir() / "models")


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
    return download(known)


def download(model: KnownModel) -> Path:
    alternatives = (
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
    return Path(local)


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


class LlamaCpp(Backend):
    """A GGUF model run in this process; the SQL grammar is enforced while decoding."""

    name = "llama-cpp"
    local = True
    supports_grammar = True

    def __init__(
        self,
        *,
        model: str | None = None,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        seed: int = 0,
        **_: Any,
    ) -> None:
        try:
            from llama_cpp import Llama
        except ModuleNotFoundError:
            raise BackendError(
                "The embedded model needs llama-cpp-python: pip install 'honestsql[local]'. Or use "
                "a server: --llm openai --base-url URL --model NAME."
            ) from None
        self.path = resolve(model)
        try:
            self.llm = Llama(
                model_path=str(self.path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                seed=seed,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"Could not load {self.path}: {exc}") from None
        self._grammars: dict[str, Any] = {}

    def describe(self) -> str:
        return f"{self.path.name} (llama.cpp, local)"

    def _grammar(self, text: str) -> Any:
        from llama_cpp import LlamaGrammar  # type: ignore[attr-defined]

        if text not in self._grammars:
            self._grammars[text] = LlamaGrammar.from_string(text, verbose=False)
        return self._grammars[text]

    def generate(self, request: GenerationRequest) -> Completion:
        grammar = self._grammar(request.grammar) if request.grammar else None
        texts: list[str] = []
        prompt_tokens = completion_tokens = 0
        for index in range(request.n):
            seed = None if request.seed is None else request.seed + index
            result: Any = self.llm.create_chat_completion(
                messages=request.messages,  # type: ignore[arg-type]
                temperature=request.temperature if index == 0 else max(request.temperature, 0.7),
                max_tokens=request.max_tokens,
                grammar=grammar,
                seed=seed,
            )
            texts.append(result["choices"][0]["message"]["content"] or "")
            usage = result.get("usage") or {}
            prompt_tokens += int(usage.get("prompt_tokens") or 0)
            completion_tokens += int(usage.get("completion_tokens") or 0)
        return Completion(texts, prompt_tokens, completion_tokens, self.path.name)
