"""Choosing and building a backend from command-line options."""

from __future__ import annotations

import os
from typing import Any

from honestsql.llm import Backend, backend_class


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
    name = llm or ("openai" if (base_url or os.environ.get("HONESTSQL_BASE_URL")) else "llama-cpp")
    cls = backend_class(name)
    options: dict[str, Any] = {"model": model}
    if name == "openai":
        options.update(base_url=base_url, api_key=api_key, guided=guided, timeout=timeout)
    return cls(**options)
