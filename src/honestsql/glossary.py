"""Business terms: words the schema does not spell, defined as SQL by the data's owner.

A glossary file (YAML or JSON)::

    terms:
      revenue:
        sql: SUM(order_items.quantity * order_items.unit_price)
        synonyms: [sales, turnover]
      active customer: customers.signup_date >= '2024-01-01'   # the short form
      EMEA: countries.continent IN ('Europe', 'Africa')
    time_columns:                                              # the default time column per table
      orders: ordered_at

(without ``terms:``, the whole mapping is the terms). Every definition is verified against the
schema when the glossary is matched with a database (a broken one is an error naming the term).
A question that mentions a term or a synonym gets its definition in the prompt (as a hint, so it
also counts in linking), and a candidate query that does not use a mentioned definition is
refused with the finding kind ``glossary`` and sent back to the model to repair: an answer that
recomputes revenue its own way does not reach the user with a confidence it has not earned.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from honestsql import config_files
from honestsql.check import check
from honestsql.config_files import first_up
from honestsql.db import Database
from honestsql.errors import InvalidInput
from honestsql.findings import Finding

ENV = "HONESTSQL_GLOSSARY"
_TIME_WORDS = re.compile(
    r"\b(19|20)\d\d\b|\b(year|month|week|day|date|quarter|since|before|after|last|recent|"
    r"today|yesterday|january|february|march|april|may|june|july|august|september|october|"
    r"november|december)s?\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Term:
    name: str
    sql: str
    synonyms: tuple[str, ...] = ()
    description: str = ""

    def mentioned_in(self, question: str) -> bool:
        """The term or a synonym, as a whole word (plurals too), in any letter case."""
        return any(
            re.search(rf"(?<!\w){re.escape(word)}(?:s|es)?(?!\w)", question, re.IGNORECASE)
            for word in (self.name, *self.synonyms)
        )


@dataclass
class Glossary:
    terms: list[Term]
    time_columns: dict[str, str] = field(default_factory=dict)
    source: str = "the glossary"

    def mentioned(self, question: str) -> list[Term]:
        return [term for term in self.terms if term.mentioned_in(question)]

    def hint(self, question: str) -> str:
        """What the model is told for this question: the definitions of the terms it mentions,
        and the default time columns when it speaks of time."""
        parts = [
            f"'{term.name}' means {term.sql}"
            + (f" ({term.description})" if term.description else "")
            for term in self.mentioned(question)
        ]
        if self.time_columns and _TIME_WORDS.search(question):
            parts.append(
                "dates: use "
                + ", ".join(f"{table}.{column}" for table, column in self.time_columns.items())
            )
        return "; ".join(parts)

    def verify(self, db: Database) -> Glossary:
        """Check every definition and time column against ``db``'s schema (and its access
        policy); raises ``InvalidInput`` naming the first term that does not verify."""
        catalog = db.catalog()
        for term in self.terms:
            problem = _definition_problem(db, term.sql)
            if problem:
                raise InvalidInput(
                    f"{first_up(self.source)}: the term {term.name!r} ({term.sql}) does not "
                    "verify against "
                    f"{db.display_url}: {problem}"
                )
        for table_name, column_name in self.time_columns.items():
            table = catalog.table(table_name)
            if table is None or table.column(column_name) is None:
                raise InvalidInput(
                    f"{first_up(self.source)}: the time column {table_name}.{column_name} is not in "
                    f"{db.display_url}."
                )
        return self

    def contradictions(self, sql: str, question: str, dialect: str) -> list[Finding]:
        """A finding for each term the question mentions whose definition ``sql`` does not use."""
        terms = self.mentioned(question)
        if not terms:
            return []
        try:
            used = {_shape(node) for node in sqlglot.parse_one(sql, dialect=dialect).walk()}
        except SqlglotError:
            return []
        return [
            Finding(
                "glossary",
                f"The query does not use the glossary's definition of {term.name!r}: "
                f"{term.sql}. Use that expression as written.",
                subject=term.name,
            )
            for term in terms
            if _shape(_expression(term.sql, dialect)) not in used
        ]


def _expression(text: str, dialect: str) -> exp.Expr:
    expression: exp.Expr = sqlglot.parse_one(f"SELECT {text}", dialect=dialect).expressions[0]
    return expression


def _shape(node: Any) -> str:
    """An expression's SQL with table qualifiers dropped (aliases differ between queries)."""
    if not isinstance(node, exp.Expr):
        return ""
    copy = node.copy()
    for column in copy.find_all(exp.Column):
        column.set("table", None)
    return copy.sql(normalize=True).lower()


def _definition_problem(db: Database, text: str) -> str:
    """Why a definition is not a valid expression over this schema ("" when it is)."""
    try:
        expression = _expression(text, db.sql_dialect)
    except (SqlglotError, IndexError):
        return "it does not parse as one SQL expression"
    tables = sorted({c.table for c in expression.find_all(exp.Column) if c.table})
    if not tables:
        return "name its columns as table.column"
    query = f"SELECT {expression.sql(dialect=db.sql_dialect)} FROM {', '.join(tables)}"
    verdict = check(db, query, execute=False)
    return "; ".join(f.message for f in verdict.errors)


def load(source: str | Path | Mapping[str, Any] | Glossary | None) -> Glossary | None:
    """A glossary from a file, a mapping or ``$HONESTSQL_GLOSSARY``; ``None`` when none."""
    if isinstance(source, Glossary):
        return source
    found = config_files.read(source, ENV, "glossary")
    if found is None:
        return None
    source, name = found
    if not isinstance(source, Mapping):
        raise InvalidInput(f"{first_up(name)} must map terms to their SQL.")
    terms_data = (
        source.get("terms", source) if ("terms" in source or "time_columns" in source) else source
    )
    if not isinstance(terms_data, Mapping):
        raise InvalidInput(f"{first_up(name)}: 'terms' must map each term to its SQL.")
    terms = [_term(str(key), value, name) for key, value in terms_data.items()]
    times = source.get("time_columns") or {}
    if not isinstance(times, Mapping) or not all(isinstance(v, str) for v in times.values()):
        raise InvalidInput(f"{first_up(name)}: 'time_columns' must map tables to a column name.")
    return Glossary(terms, {str(k): v for k, v in times.items()}, name)


def _term(key: str, value: Any, name: str) -> Term:
    if isinstance(value, str):
        value = {"sql": value}
    if not isinstance(value, Mapping) or not isinstance(value.get("sql"), str):
        raise InvalidInput(
            f"{first_up(name)}: the term {key!r} needs its SQL ('{key}: <expression>')."
        )
    unknown = sorted(set(value) - {"sql", "synonyms", "description"})
    if unknown:
        raise InvalidInput(
            f"{first_up(name)}: the term {key!r} has unknown keys {', '.join(map(repr, unknown))}; "
            "it takes sql, synonyms and description."
        )
    synonyms = value.get("synonyms") or []
    if isinstance(synonyms, str):
        synonyms = [synonyms]
    return Term(
        key.strip(),
        value["sql"].strip(),
        tuple(str(s).strip() for s in synonyms if str(s).strip()),
        str(value.get("description") or ""),
    )
