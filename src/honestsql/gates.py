"""Refusals decided before any model call: a question that asks to change data, and one whose
words appear nowhere in the database (English questions only: the schema's words are English).
"""

from __future__ import annotations

import re

from honestsql.decide import Decision, Reason
from honestsql.wording import say


def off_topic(relevance: float, words: list[str], language: str = "en") -> Decision | None:
    """Abstain before asking the model when none of (at least two) content words of the question
    appear in the database's names, descriptions or values; ``None`` when the question may be
    about this database."""
    if relevance > 0.0 or len(words) < 2:
        return None
    reason = Reason(
        "not_about_this_database",
        say("off_topic", language),
        {"question_words": words, "next_steps": [say("check_words", language)]},
    )
    return Decision(False, 0.0, None, [reason])


_WRITE_VERB = (
    r"(?:delete|remove|drop|truncate|update|insert|add|create|alter|rename|set|change|modify|"
    r"replace|erase|wipe|purge|grant|revoke|overwrite|reset)"
)
_POLITE = (
    r"^\s*(?:(?:please|kindly|now|then|ok|okay|so)[,\s]+|(?:can|could|would|will)\s+you\s+"
    r"(?:please\s+)?|i\s+(?:want|need)\s+(?:you\s+)?to\s+|let'?s\s+)*"
)
#: A request that starts with a verb that changes data ("Delete the customers from Germany",
#: "Could you set every price to 0?"), but not its reading uses ("add up", "change in",
#: "create a list of", "remove duplicates").
_WRITE_REQUEST = re.compile(
    _POLITE
    + _WRITE_VERB
    + r"\b(?!\s+(?:up|of|in|on|from|between|duplicates?|an?\s+(?:list|report|summary|"
    r"breakdown|chart|ranking|overview|table\s+(?:of|showing|with)))\b)",
    re.IGNORECASE,
)
_WRITE_ANYWHERE = re.compile(
    r"\b(?:drop|truncate)\s+(?:the\s+)?(?:table\s+)?\w+(?:\s+table)?\b|\bdelete\s+(?:all|every)\b",
    re.IGNORECASE,
)


def write_request(question: str, language: str = "en") -> Decision | None:
    """Abstain before asking the model when the question asks to change data: honestsql only
    reads, and a query that "answers" a delete by listing the rows would mislead."""
    if not (_WRITE_REQUEST.search(question) or _WRITE_ANYWHERE.search(question)):
        return None
    reason = Reason("write_request", say("write_request", language))
    return Decision(False, 0.0, None, [reason])
