"""Any server that speaks OpenAI's chat-completions protocol: Ollama, vLLM, llama.cpp's server,
LM Studio, OpenAI and others, through the official ``openai`` SDK."""

from __future__ import annotations

import ipaddress
import os
from typing import Any
from urllib.parse import urlparse

from honestsql.llm import Backend, BackendError, Completion, GenerationRequest

GUIDED_MODES = ("llama.cpp", "vllm")


def is_local(base_url: str) -> bool:
    host = (urlparse(base_url).hostname or "").lower()
    if host in {"localhost", ""}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OpenAICompatible(Backend):
    """Chat completions over HTTP.

    Servers that ignore ``n`` get one more request per missing candidate. The SDK retries with
    exponential backoff (``max_retries``) and stops each request after ``timeout`` seconds.
    ``guided`` passes the grammar the way a server understands it: ``llama.cpp`` (``grammar``)
    or ``vllm`` (``guided_grammar``); OpenAI itself accepts neither, so it is off by default.
    """

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        guided: str | None = None,
    ) -> None:
        try:
            import openai
        except ModuleNotFoundError:
            raise BackendError(
                "The OpenAI-compatible backend needs the openai package: pip install openai"
            ) from None
        self.base_url = base_url or os.environ.get("HONESTSQL_BASE_URL") or ""
        self.model = model or os.environ.get("HONESTSQL_MODEL") or ""
        self.model_name = self.model
        if not self.base_url or not self.model:
            raise BackendError(
                "The OpenAI-compatible backend needs a server and a model: pass --base-url URL "
                "--model NAME (for Ollama: --base-url http://127.0.0.1:11434/v1 --model "
                "qwen2.5-coder:7b), or set HONESTSQL_BASE_URL and HONESTSQL_MODEL."
            )
        if guided not in (None, *GUIDED_MODES):
            raise BackendError(
                f"--guided must be one of {', '.join(GUIDED_MODES)}, not {guided!r}."
            )
        self.guided = guided
        self.supports_grammar = guided is not None
        self.local = is_local(self.base_url)
        self.thread_safe = True  # the openai client is; the server queues what it must
        key = api_key or os.environ.get("HONESTSQL_API_KEY") or os.environ.get("OPENAI_API_KEY")
        if not key:
            if not self.local:
                raise BackendError(
                    f"{self.base_url} needs an API key: set HONESTSQL_API_KEY (or pass --api-key)."
                )
            key = "not-needed"  # local servers accept any key; the SDK insists on one
        self._openai = openai
        self.client = openai.OpenAI(
            base_url=self.base_url, api_key=key, timeout=timeout, max_retries=max_retries
        )

    def describe(self) -> str:
        return f"{self.model} at {self.base_url}"

    def _extra(self, request: GenerationRequest) -> dict[str, Any]:
        if not request.grammar or not self.guided:
            return {}
        key = "grammar" if self.guided == "llama.cpp" else "guided_grammar"
        return {key: request.grammar}

    def generate(self, request: GenerationRequest) -> Completion:
        texts: list[str] = []
        prompt_tokens = completion_tokens = cached = 0
        attempts = 0
        while len(texts) < request.n and attempts < request.n + 1:
            attempts += 1
            wanted = request.n - len(texts)
            try:
                response = self.client.chat.completions.create(
                    model=self.model,
                    messages=request.messages,  # type: ignore[arg-type]
                    n=wanted,
                    temperature=request.temperature,
                    max_tokens=request.max_tokens,
                    seed=request.seed,
                    extra_body=self._extra(request) or None,
                )
            except self._openai.APIStatusError as exc:
                raise BackendError(
                    f"The model server answered {exc.status_code}: {_short(exc.message)}. Check "
                    "--model and --api-key."
                ) from None
            except self._openai.APIConnectionError as exc:
                raise BackendError(
                    f"Could not reach the model server at {self.base_url} ({_short(str(exc))}). "
                    "Is it running? Check --base-url."
                ) from None
            texts.extend((choice.message.content or "") for choice in response.choices)
            if response.usage is not None:
                prompt_tokens += response.usage.prompt_tokens or 0
                completion_tokens += response.usage.completion_tokens or 0
                details = getattr(response.usage, "prompt_tokens_details", None)
                cached += getattr(details, "cached_tokens", None) or 0
        # Servers that cache prompt prefixes report the part they did not read again.
        return Completion(
            texts[: request.n],
            prompt_tokens,
            completion_tokens,
            {"prompt_cached": cached} if cached else {},
        )


def _short(text: str) -> str:
    return " ".join(text.split())[:300]
