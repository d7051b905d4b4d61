"""The settings of one question's trip through the pipeline (candidates, repairs, limits, ...)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from honestsql.errors import InvalidInput

GRAMMARS = ("qualified", "full", "schema", "none")


def default_grammar() -> str:
    """``$HONESTSQL_GRAMMAR`` or ``full``: one default for every door (ask, chat, serve, mcp,
    the Python API). ``full`` decodes as ``qualified`` on a backend without Lark grammars."""
    value = os.environ.get("HONESTSQL_GRAMMAR") or "full"
    if value not in GRAMMARS:
        raise InvalidInput(
            f"HONESTSQL_GRAMMAR must be one of {', '.join(GRAMMARS)}, not {value!r}."
        )
    return value


def default_early_stop() -> int:
    """``$HONESTSQL_EARLY_STOP`` or 0 (off): how many candidates to ask for first, at every
    door."""
    value = os.environ.get("HONESTSQL_EARLY_STOP") or "0"
    if not value.isdigit():
        raise InvalidInput(
            f"HONESTSQL_EARLY_STOP must be a whole number of candidates (0: off), not {value!r}."
        )
    return int(value)


@dataclass
class Settings:
    candidates: int = 5
    #: Ask for this many candidates first and for the rest only when they disagree (any of
    #: them failed, or their results differ); 0 asks for all ``candidates`` at once.
    early_stop: int = field(default_factory=default_early_stop)
    max_repairs: int = 2
    temperature: float = 0.8
    timeout: float = 10.0
    max_rows: int = 1000
    max_tokens: int = 512
    #: Characters of schema text the prompt may hold before the schema is cut to the question.
    schema_budget_chars: int = 24_000
    redact: bool | None = None  # None: redact exactly when the backend is remote (``redacts``)
    seed: int | None = 0
    #: When the schema must be cut: add semantic similarity to the linker (the [embeddings] extra).
    embeddings: bool = False
    #: Use the shipped (or $HONESTSQL_CALIBRATION) calibrator for the confidence.
    calibrated: bool = True
    #: Constrained decoding, where the backend supports it: ``qualified`` (table.column pairs
    #: that exist, no aliases), ``full`` (the dialect's whole SELECT over real names, through
    #: llguidance; ``qualified`` on backends without it), ``schema`` (real names, T1-style
    #: aliases) or ``none``.
    grammar: str = field(default_factory=default_grammar)
    #: Abstain without asking the model when no word of the question is in the schema.
    relevance_gate: bool = True
    #: Name the dialect's pitfalls in the prompt (``Dialect.pitfalls``: strict GROUP BY, integer
    #: division, date functions). Off: on ``bench ask`` they made the 1.5B's queries worse
    #: (docs/BENCHMARKS.md, rule 7).
    dialect_notes: bool = False
    #: Show each column's sample values in its DDL comment (``example: [...]``) rather than in
    #: the ``<data>`` block after the schema: an option until rule 10 reads it.
    inline_samples: bool = False
    #: Ask the model to check its leading query (``honestsql.selfcheck``) even when the
    #: calibrator does not read the answer: ``bench ask`` records it for later fits.
    self_check: bool = False

    def redacts(self, local: bool) -> bool:
        """Whether sample values stay out of prompts for a backend that is ``local`` or not."""
        return self.redact if self.redact is not None else not local
