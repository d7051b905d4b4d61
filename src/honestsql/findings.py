"""Structured findings: what verification and the read-only guard report about a query."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Literal, NotRequired

from typing_extensions import TypedDict

Severity = Literal["error", "warning"]

#: Every kind a finding or an error can have, with what it means. Kept here so the CLI help,
#: the docs and the tests agree on one vocabulary.
KINDS: dict[str, str] = {
    "syntax": "the SQL does not parse in the database's dialect",
    "not_read_only": "the statement could change data, schema, files or settings",
    "multiple_statements": "more than one statement was given",
    "forbidden_function": "a function that reads files, sleeps, or has side effects",
    "unknown_table": "a table that is not in the database",
    "unknown_column": "a column that is not in any table in scope",
    "ambiguous_column": "an unqualified column that more than one table in scope has",
    "wrong_arity": "a function called with the wrong number of arguments",
    "type_mismatch": "a literal compared with a column of another type",
    "identifier_arithmetic": "an average, sum or arithmetic over an identifier column",
    "denied": "a table or column the access policy denies (or allows only in aggregates)",
    "unresolved": "a reference that cannot be placed in its scope (refused: fail closed)",
    "internal": "honestsql itself failed while checking the query (refused, not run: a bug)",
    "glossary": "the query does not use the definition of a business term the question mentions",
    "invalid_input": "the input is empty, too long or not valid text",
    "timeout": "the query ran past its time limit and was stopped",
    "execution": "the database failed to run the query",
    "connection": "the database could not be reached or opened",
    "catalog": "the schema could not be read",
}


class FindingInfo(TypedDict):
    kind: str
    message: str
    suggestions: list[str]
    severity: Literal["error", "warning"]
    subject: NotRequired[str]
    line: NotRequired[int]
    col: NotRequired[int]


@dataclass(frozen=True)
class Finding:
    """One thing wrong (``error``) or suspicious (``warning``) with a query."""

    kind: str
    message: str
    suggestions: list[str] = field(default_factory=list)
    severity: Severity = "error"
    #: The identifier or function the finding is about, when there is one.
    subject: str | None = None
    line: int | None = None
    col: int | None = None

    def to_dict(self) -> FindingInfo:
        data = asdict(self)
        return {k: v for k, v in data.items() if v is not None}  # type: ignore[return-value]


_REQUIRED = re.compile(r"Required keyword: '\w+' missing for <class '[\w.]*?(\w+)'>\.?")


def plain_parse_error(description: str) -> str:
    """sqlglot's words for people: "Required keyword: 'this' missing for <class
    'sqlglot.expressions.core.Paren'>" says that a parenthesis is left empty or unfinished."""
    match = _REQUIRED.search(description)
    if not match:
        return description
    name = re.sub(r"(?<!^)(?=[A-Z])", " ", match.group(1)).lower()
    name = {"paren": "parenthesis"}.get(name, name)
    return _REQUIRED.sub(f"an incomplete {name} (something is missing in it)", description)
