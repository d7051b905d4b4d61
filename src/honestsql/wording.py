"""What honestsql says to people, in the language of the question.

``language_of`` names the question's language (py3langid, held to the languages honestsql
speaks; English when it cannot tell); ``say`` fills in one message of ``wording.json`` in that
language; ``sentence`` and ``verdict`` word an answer for the page and the CLI. Codes, SQL,
column names, the guard's findings and the model's own words stay as they are.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

#: The languages honestsql words its answers in.
LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "zh", "ja")
#: Below this probability the language is not told apart, and the words stay English.
SURE = 0.5
#: Values named in a sentence about many rows.
FIRST = 3


@cache
def _messages() -> dict[str, dict[str, str]]:
    text = resources.files(__package__).joinpath("wording.json").read_text(encoding="utf-8")
    return dict(json.loads(text)["messages"])


@cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def language_of(text: str) -> str:
    """The language of ``text`` (one of ``LANGUAGES``), ``en`` when it is not clear."""
    if not any(c.isalpha() for c in text):
        return "en"
    language, probability = _identifier().classify(text)
    return str(language) if probability >= SURE else "en"


def say(key: str, language: str = "en", **values: Any) -> str:
    """Message ``key`` in ``language`` (English where it has no wording), values filled in."""
    wordings = _messages()[key]
    return wordings.get(language, wordings["en"]).format(**values)


def percent(p: float) -> str:
    return f"{round(p * 100)}%"


def _value(value: Any) -> str:
    return "NULL" if value is None else str(value)


def sentence(
    columns: list[Any], rows: list[list[Any]], truncated: bool, language: str = "en"
) -> str:
    """One sentence built from the result itself: only values the result holds."""
    if not rows:
        return say("no_rows", language)
    if len(rows) == 1 and len(columns) == 1:
        return say("one_value", language, value=_value(rows[0][0]))
    if len(rows) == 1:
        pairs = ", ".join(
            f"{c['name']} {_value(v)}" for c, v in zip(columns, rows[0], strict=False)
        )
        return say("one_row", language, pairs=pairs)
    first = ", ".join(_value(row[0]) for row in rows[:FIRST]) + (", …" if len(rows) > FIRST else "")
    return say("at_least_rows" if truncated else "rows", language, count=len(rows), first=first)


def verdict(answered: bool, confidence: float, language: str = "en") -> str:
    """The decision and its confidence in plain words."""
    shown = percent(confidence)
    if not answered:
        return say("not_enough", language, confidence=shown)
    key = "very_likely" if confidence >= 0.9 else "likely" if confidence >= 0.75 else "unsure"
    return say(key, language, confidence=shown)


def chance(confidence: float, target: float, language: str = "en") -> str:
    """What the confidence means and the target it is held to."""
    return say("chance", language, confidence=percent(confidence), target=percent(target))
