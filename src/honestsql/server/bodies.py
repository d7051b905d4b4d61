"""The JSON bodies the HTTP API takes, with their limits (a body over them answers 422)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class CheckRequest(BaseModel):
    sql: str = Field(min_length=1, max_length=100_000)
    db: str | None = None
    timeout: float | None = Field(default=None, gt=0)
    max_rows: int | None = Field(default=None, ge=0)


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2_000)
    target: float = Field(default=0.75, ge=0.0, le=0.99)
    db: str | None = None
    candidates: int = Field(default=5, ge=1, le=10)
    evidence: str = Field(default="", max_length=4_000)
    #: Continue this conversation (the ``conversation`` of an earlier answer): the question is
    #: read in the light of the earlier ones. Without it, a new conversation starts.
    conversation: str | None = Field(default=None, max_length=64)
    #: The user's own edit of how a follow-up was read: taken as the question, not rewritten.
    standalone: str | None = Field(default=None, max_length=2_000)


class ExportRequest(BaseModel):
    sql: str = Field(min_length=1, max_length=100_000)
    db: str | None = None
    format: Literal["csv", "json", "parquet"] = "csv"


class FeedbackRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2_000)
    sql: str | None = Field(default=None, max_length=100_000)
    db: str | None = None
    vote: Literal["up", "down"]
    comment: str = Field(default="", max_length=2_000)


class ChartRequest(BaseModel):
    columns: list[dict[str, str]] = Field(min_length=2, max_length=2)
    rows: list[list[Any]] = Field(max_length=500)


class ImportRequest(BaseModel):
    """A file of question/SQL pairs to remember, as ``honestsql memory import`` reads one."""

    #: The file's name: its ending says its format (``.csv``, ``.json``, else JSON Lines).
    name: str = Field(default="pairs.jsonl", max_length=255)
    text: str = Field(max_length=1_000_000)
    db: str | None = None
