"""Closest real names for a misspelled or invented identifier.

Two kinds of closeness: spelling (``custmer`` -> ``customer``) and the table-plus-column reading
(``custmer_name`` -> ``customers.name``), where the wrong name is compared with the singular
table name joined to each of its columns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from rapidfuzz import fuzz, process

_SPLIT = re.compile(r"[_\W]+|(?<=[a-z0-9])(?=[A-Z])")
MIN_SCORE = 70.0


def words(identifier: str) -> str:
    """``NetWorth_Millions`` -> ``net worth millions``."""
    return " ".join(w for w in _SPLIT.split(identifier) if w).lower()


def singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def similarity(a: str, b: str, **_: object) -> float:
    """Spelling similarity, or 90% of word-set overlap (``email address`` ~ ``email``)."""
    return max(fuzz.ratio(a, b), 0.9 * fuzz.token_set_ratio(a, b))


def closest(name: str, candidates: Mapping[str, Iterable[str]], limit: int = 3) -> list[str]:
    """Rank suggestions for ``name``.

    ``candidates`` maps each suggestion (as shown to the user) to the texts it may be matched by.
    """
    target = words(name)
    keys: list[tuple[str, str]] = []
    for shown, texts in candidates.items():
        for text in texts:
            keys.append((shown, words(text)))
    if not keys:
        return []
    scored: dict[str, float] = {}
    for _, score, index in process.extract(
        target, [k for _, k in keys], scorer=similarity, limit=limit * 8, score_cutoff=MIN_SCORE
    ):
        shown = keys[index][0]
        scored[shown] = max(scored.get(shown, 0.0), float(score))
    return [s for s, _ in sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


def table_column_texts(table: str, column: str) -> list[str]:
    """The texts by which ``table.column`` may be meant: the column, and table + column."""
    table_words = words(table)
    single = " ".join(singular(w) for w in table_words.split())
    return [column, f"{table_words} {words(column)}", f"{single} {words(column)}"]
