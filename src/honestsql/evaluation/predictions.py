"""Reading what a system predicted: one SQL (or ``ABSTAIN``) per line, and its confidences."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from honestsql.errors import InvalidInput
from honestsql.evaluation.datasets import Dataset

ABSTAIN_TOKENS = {"", "abstain", "null"}


@dataclass(frozen=True)
class Prediction:
    sql: str | None  # None: the system abstained
    db_id: str | None = None


def _sha(path: Path | None) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path else None


def read_predictions(path: Path, dataset: Dataset) -> dict[str, Prediction]:
    """Predictions by example id, from a line file (dataset order) or a JSON object by id.

    An empty line, ``ABSTAIN`` or ``null`` is an abstention; a line may end in TAB + db_id.
    """
    if not path.is_file():
        raise InvalidInput(f"The predictions file {str(path)!r} does not exist.")
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{path} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidInput(f"{path} must be a JSON object mapping question ids to SQL.")
        result = {}
        for key, value in data.items():
            if isinstance(value, list):
                value = value[0] if value else None
            result[str(key)] = _prediction(value if isinstance(value, str) else None)
        return result
    lines = text.split("\n")
    if text.endswith("\n"):
        lines = lines[:-1]  # the newline ends the last line; it does not start another
    if len(lines) != len(dataset.examples):
        raise InvalidInput(
            f"{path} has {len(lines)} lines but {dataset.name} has {len(dataset.examples)} "
            "questions; give one SQL per line in dataset order (an empty line abstains)."
        )
    result = {}
    for example, line in zip(dataset.examples, lines, strict=True):
        sql, _, db_id = line.rstrip("\r").partition("\t")
        result[example.id] = _prediction(sql, db_id.strip() or None)
    return result


def _prediction(sql: str | None, db_id: str | None = None) -> Prediction:
    if sql is None or sql.strip().lower() in ABSTAIN_TOKENS:
        return Prediction(None, db_id)
    return Prediction(sql.strip(), db_id)


def read_confidences(path: Path, dataset: Dataset) -> dict[str, float]:
    """One number in [0, 1] per line in dataset order, or a JSON object by question id."""
    if not path.is_file():
        raise InvalidInput(f"The confidences file {str(path)!r} does not exist.")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        raw = json.loads(text)
        pairs = list(raw.items()) if isinstance(raw, dict) else []
    else:
        lines = [line for line in text.splitlines()]
        if lines and not lines[-1].strip():
            lines = lines[:-1]
        if len(lines) != len(dataset.examples):
            raise InvalidInput(
                f"{path} has {len(lines)} lines but {dataset.name} has {len(dataset.examples)} questions."
            )
        pairs = [(e.id, line) for e, line in zip(dataset.examples, lines, strict=True)]
    result = {}
    for key, value in pairs:
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"{path}: {value!r} is not a number.") from None
        if not 0.0 <= number <= 1.0:
            raise InvalidInput(f"{path}: confidence {number} is outside [0, 1].")
        result[str(key)] = number
    return result
