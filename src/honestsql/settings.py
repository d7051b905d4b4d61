"""The settings of one question's trip through the pipeline (candidates, repairs, limits, ...)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Settings:
    candidates: int = 5
    max_repairs: int = 2
    temperature: float = 0.8
    timeout: float = 10.0
    max_rows: int = 1000
    max_tokens: int = 512
    #: Characters of schema text the prompt may hold before the schema is cut to the question.
    schema_budget_chars: int = 24_000
    redact: bool | None = None  # None: redact exactly when the backend is remote
    seed: int | None = 0
    #: When the schema must be cut: add semantic similarity to the linker (the [embeddings] extra).
    embeddings: bool = False
    #: Use the shipped (or $HONESTSQL_CALIBRATION) calibrator for the confidence.
    calibrated: bool = True
    #: Constrained decoding, where the backend supports it: ``qualified`` (table.column pairs
    #: that exist, no aliases), ``schema`` (real names, T1-style aliases) or ``none``.
    grammar: str = "qualified"
    #: Abstain without asking the model when no word of the question is in the schema.
    relevance_gate: bool = True
