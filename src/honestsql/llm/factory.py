"""Choosing and building a backend from command-line options."""

from __future__ import annotations

import os
from typing import Any

from honestsql.llm import Backend, BackendError, backend_class


def make_backend(
    llm: str | None = None,
    *,
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    guided: str | None = None,
    timeout: float = 60.0,
) -> Backend:
    """``llm`` defaults to ``openai`` when a server URL is given (option or HONESTSQL_BASE_URL),
    else to the embedded ``llama-cpp`` model."""
    name = _name(llm, base_url)
    cls = backend_class(name)
    options: dict[str, Any] = {"model": model}
    if name == "openai":
        options.update(base_url=base_url, api_key=api_key, guided=guided, timeout=timeout)
    return cls(**options)


def _name(llm: str | None, base_url: str | None) -> str:
    return llm or ("openai" if (base_url or os.environ.get("HONESTSQL_BASE_URL")) else "llama-cpp")


def unavailable(llm: str | None, *, base_url: str | None, model: str | None) -> str | None:
    """Why the backend these options name cannot answer, found without loading a model (a server
    is only reached at the first question); ``None`` when nothing is known to be wrong."""
    if _name(llm, base_url) != "llama-cpp":
        return None
    try:
        import llama_cpp  # noqa: F401
    except ModuleNotFoundError:
        return "the embedded model needs its extra: pip install 'honestsql[local]'"
    from honestsql.llm.llama_cpp import resolve

    try:
        resolve(model)
    except BackendError as exc:
        return str(exc)
    return None
