"""Language-model backends behind one small interface, found through a registry.

A backend turns a chat request into N candidate texts and reports token usage. Backends are
registered by name; third-party packages can add their own through the ``honestsql.backends``
entry-point group (``name = "package.module:BackendClass"``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, ClassVar

from honestsql.errors import HonestSQLError


class BackendError(HonestSQLError):
    """The model could not be reached, loaded or used."""

    kind = "llm"
    http_status = 502


class NoBackend(BackendError):
    """No language model is configured where one is needed."""

    http_status = 503


@dataclass(frozen=True)
class GenerationRequest:
    messages: list[dict[str, str]]
    n: int = 1
    temperature: float = 0.0
    max_tokens: int = 512
    #: A GBNF grammar the output must follow, for backends that can enforce one.
    grammar: str | None = None
    seed: int | None = None
    #: A leading part of the last message that stays the same from question to question (the
    #: schema): backends that cache prompt state keep the state after it.
    stable: str = ""


@dataclass(frozen=True)
class Likelihood:
    """How likely the model found a text it wrote, by its own (untempered, unconstrained)
    distribution: the mean log-probability of its tokens and that of the least likely one."""

    mean: float
    least: float


@dataclass
class Completion:
    texts: list[str]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: What a backend reports beyond the texts: ``prompt_cached`` (prompt tokens served from a
    #: cache), ``timing`` (the local engine's seconds per phase).
    extra: dict[str, Any] = field(default_factory=dict)
    #: Each text's likelihood, where the backend can read the model's probabilities (the local
    #: engine); empty where it cannot.
    likelihoods: list[Likelihood] = field(default_factory=list)

    def replies(self) -> list[tuple[str, Likelihood | None]]:
        """Each text with its likelihood (``None`` where the backend did not read one)."""
        known = self.likelihoods
        return [(text, known[i] if i < len(known) else None) for i, text in enumerate(self.texts)]


class Backend(ABC):
    """A source of SQL candidates."""

    #: Registry name, used by ``--llm``.
    name: ClassVar[str] = ""
    #: Whether prompts stay on this machine (decides the default of --redact-values).
    local: bool = True
    #: Whether ``GenerationRequest.grammar`` is enforced.
    supports_grammar: bool = False
    #: Whether a Lark grammar (llguidance, the ``full`` shape) is enforced too.
    supports_lark: bool = False
    #: Whether several threads may call ``generate``/``generate_many`` at once; the service
    #: asks a backend that is not one question at a time.
    thread_safe: bool = False
    #: The model's name (a known name, a file stem or a server's model id): picks the
    #: confidence calibrator fitted for it, where one ships.
    model_name: str | None = None
    #: How this backend decodes, where that changes what a model answers (recorded in run files,
    #: so a run is never resumed with another decoder).
    decoder: str | None = None

    @abstractmethod
    def generate(self, request: GenerationRequest) -> Completion: ...

    def generate_many(self, requests: list[GenerationRequest]) -> list[Completion]:
        """Several requests at once; a backend that can decode them together overrides this."""
        return [self.generate(request) for request in requests]

    def describe(self) -> str:
        return self.name

    def yes_probability(self, request: GenerationRequest) -> tuple[float, int] | None:
        """The model's probability that its reply to ``request`` starts with "yes" rather than
        "no", read from its logits (never sampled), and the prompt tokens it read; ``None``
        where the backend cannot read the model's probabilities."""
        return None


_BUILTIN = {
    "openai": "honestsql.llm.openai_compat:OpenAICompatible",
    "llama-cpp": "honestsql.llm.llama_cpp:LlamaCpp",
}


def registry() -> dict[str, str]:
    """Backend names mapped to ``module:Class``: the built-in ones plus installed plugins."""
    found = dict(_BUILTIN)
    for entry in entry_points(group="honestsql.backends"):
        found.setdefault(entry.name, entry.value)
    return found


def backend_class(name: str) -> type[Backend]:
    target = registry().get(name)
    if target is None:
        raise BackendError(
            f"Unknown LLM backend {name!r}. Choose one of: {', '.join(sorted(registry()))}."
        )
    module_name, _, attribute = target.partition(":")
    import importlib

    module = importlib.import_module(module_name)
    cls = getattr(module, attribute)
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise BackendError(f"{target} is not a honestsql Backend.")
    return cls
