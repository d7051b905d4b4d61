"""A scripted backend for tests only: replies from a function, every request recorded."""

from __future__ import annotations

from collections.abc import Callable

from honestsql.llm import Backend, Completion, GenerationRequest


class ScriptedBackend(Backend):
    name = "scripted"

    def __init__(
        self, reply: Callable[[GenerationRequest], list[str]], *, local: bool = True
    ) -> None:
        self.reply = reply
        self.local = local
        self.requests: list[GenerationRequest] = []

    def generate(self, request: GenerationRequest) -> Completion:
        self.requests.append(request)
        texts = self.reply(request)[: request.n]
        return Completion(texts, prompt_tokens=10, completion_tokens=5 * len(texts))
