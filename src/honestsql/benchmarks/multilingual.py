"""honestsql's own multilingual questions: 40 questions over the demo shop and Spider's
``singer`` and ``flight_2``, each asked in English, German, French, Spanish, Chinese and Japanese
with one gold query (``multilingual.json``, written for this project). ``bench ask --suite
multilingual`` runs them; the figures per language (``languages``) set each beside English.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from honestsql import demo
from honestsql.evaluation.datasets import Dataset, Example

NAME = "multilingual"


def questions() -> dict[str, Any]:
    """The question file as written: ``languages`` and ``questions`` (id, db, sql, one text per
    language, and ``alternatives``: other gold queries that are as right)."""
    text = resources.files(__package__).joinpath("multilingual.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def load(root: Path | None) -> Dataset:
    """The questions as a dataset: one example per question and language (``category`` is the
    language); the demo shop is bundled, ``singer`` and ``flight_2`` come from Spider under
    ``root`` (a question whose database is not there is skipped by ``bench ask``)."""
    data = questions()
    examples = [
        Example(
            id=f"ml-{q['id']}-{language}",
            index=index,
            question=q[language],
            db_id=q["db"],
            gold=(q["sql"], *q.get("alternatives", [])),
            category=language,
        )
        for index, (q, language) in enumerate(
            (q, language) for q in data["questions"] for language in data["languages"]
        )
    ]

    def locate(db_id: str) -> str | None:
        if db_id == demo.NAME:
            return str(demo.ensure())
        path = (root / "spider" / "databases" / db_id / f"{db_id}.sqlite") if root else None
        return str(path) if path is not None and path.is_file() else None

    return Dataset(NAME, "sqlite", examples, locate)


def by_language(
    records: Sequence[dict[str, Any]], answered: Sequence[bool], unrelated: set[str]
) -> dict[str, Any]:
    """Per language: answered right, wrong, refused, refused as unrelated (the ids in
    ``unrelated``), and the prompt and completion tokens per question, each beside English; and
    the questions refused as unrelated in a language whose English version was not. ``answered``
    is the cross-validated decision; ``shipped_answered_*`` the decision the run took."""
    mine = [(r, a) for r, a in zip(records, answered, strict=True) if r["suite"] == NAME]
    if not mine:
        return {}
    figures: dict[str, Any] = {}
    for language in sorted({r["category"] for r, _ in mine}, key=lambda x: (x != "en", x)):
        chosen = [(r, a) for r, a in mine if r["category"] == language]
        n = len(chosen)
        tokens = [sum((r.get("usage") or {}).values()) for r, _ in chosen]
        figures[language] = {
            "questions": n,
            "answered_right": round(sum(a and bool(r["chosen_correct"]) for r, a in chosen) / n, 4),
            "answered_wrong": round(sum(a and not r["chosen_correct"] for r, a in chosen) / n, 4),
            "refused": round(sum(not a for _, a in chosen) / n, 4),
            "refused_as_unrelated": round(sum(r["id"] in unrelated for r, _ in chosen) / n, 4),
            # As a user saw it: the decision taken at run time, by the shipped calibrator.
            "shipped_answered_right": round(
                sum(_live(r) and bool(r["chosen_correct"]) for r, _ in chosen) / n, 4
            ),
            "shipped_answered_wrong": round(
                sum(_live(r) and not r["chosen_correct"] for r, _ in chosen) / n, 4
            ),
            "tokens_per_question": round(sum(tokens) / n),
            "unrelated_where_english_is_not": sorted(
                r["id"]
                for r, _ in chosen
                if r["id"] in unrelated and _english(r["id"]) not in unrelated
            ),
        }
    english = figures.get("en")
    if english:
        for entry in figures.values():
            entry["right_vs_english"] = (
                round(entry["answered_right"] / english["answered_right"], 4)
                if english["answered_right"]
                else None
            )
            entry["tokens_vs_english"] = round(
                entry["tokens_per_question"] / max(1, english["tokens_per_question"]), 4
            )
    return figures


def _live(record: dict[str, Any]) -> bool:
    """Whether the run answered the question (with the calibrator it shipped with)."""
    return record.get("decision") == "answer"


def _english(record_id: str) -> str:
    """The id of the English version of a question's record."""
    return record_id.rsplit("-", 1)[0] + "-en"
