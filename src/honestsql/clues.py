"""Signals beyond agreement, for the confidence: whether the queries agree clause by clause, and
what the chosen result's shape says against the question.

Agreement on the result misses a group of queries that agree for the wrong reason, and says
nothing when one query alone is right. Two kinds of evidence are read here, both from what the
pipeline already has (no model call):

- **Clauses** (``clause_agreement``): the share of all candidates whose tables, filtered columns,
  grouping and selected aggregates are those of the chosen query. Queries that reach one result
  through different tables are less sure than ones that read the same.
- **A table joined for nothing** (``leaf_join``): the chosen query joins a table it reads
  nowhere but in the condition that joins it, which only keeps or repeats the other's rows.
- **An attribute the database does not hold** (``asked_unknown``, rule 18): the question asks
  for "the *phone number* of each member" and no name, description or sample value of the
  schema is about phones.
- **The result's shape** (``result_shape``): a question that asks for one number ("how many",
  "what is the average") answered with several rows; a "top 3" answered with another number of
  rows; rows repeated (a join's fan-out); the share of NULL cells; a question that asks for a
  value for each group ("per city", "for each aircraft") answered with one row, or with one
  column, which cannot show which group a value belongs to.

Each is a number in [0, 1]. Which of them the shipped calibrators read was decided by nested
leave-one-database-out figures (docs/BENCHMARKS.md, "Signals beyond agreement").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import sqlglot
from sqlglot import expressions as exp

from honestsql.catalog import Catalog
from honestsql.db.result import value_key
from honestsql.linking.lexical import content_words, vocabulary
from honestsql.suggest import singular, words

#: Every signal this module computes, in a stable order.
CLUES = (
    "tables_agree",
    "filters_agree",
    "grouping_agree",
    "select_agree",
    "many_rows_for_one",
    "count_mismatch",
    "repeated_rows",
    "null_share",
    "per_group_flat",
    "contained_share",
    "leaf_join",
)

_ONE_VALUE = re.compile(
    r"^\s*(?:how\s+(?:many|much)\b|(?:what|which)\s+(?:is|was|are)\s+the\s+(?:total|average|"
    r"mean|sum|number|count|maximum|minimum|max|min|highest|lowest|largest|smallest|oldest|"
    r"youngest)\b|count\b|find\s+the\s+(?:total|average|number)\b|give\s+me\s+the\s+"
    r"(?:total|average|number)\b)",
    re.IGNORECASE,
)
#: Words that ask for one value per group ("how many ... in each city"), not one value.
_PER_GROUP = re.compile(r"\b(?:each|every|per|respectively|for all)\b", re.IGNORECASE)
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
_TOP_N = re.compile(
    r"\b(?:top|first|last)\s+(\d+|"
    + "|".join(_NUMBER_WORDS)
    + r")\b|\b(\d+|"
    + "|".join(_NUMBER_WORDS)
    + r")\s+(?:most|least|largest|smallest|highest|lowest|biggest|best|worst|oldest|youngest)\b",
    re.IGNORECASE,
)


Rows = Sequence[Sequence[Any]]


def clues(
    question: str,
    sqls: Sequence[str | None],
    chosen: int | None,
    results: Sequence[Rows | None],
    dialect: str | None = None,
) -> dict[str, float]:
    """Every clue of one question: ``sqls`` are the candidates' queries and ``results`` their
    rows (``None`` for one that did not run), ``chosen`` the index of the one shown."""
    rows = results[chosen] if chosen is not None and chosen < len(results) else None
    sql = sqls[chosen] if chosen is not None and chosen < len(sqls) else None
    return {
        **clause_agreement(sqls, chosen, dialect),
        **result_shape(question, rows),
        "contained_share": contained_share(results, chosen),
        "leaf_join": 1.0 if sql and leaf_join(sql, dialect) else 0.0,
    }


def contained_share(results: Sequence[Rows | None], chosen: int | None) -> float:
    """The share of all candidates whose result holds the chosen result's columns, whatever else
    it holds: "the names" and "the names with their revenue" agree on the names."""
    if chosen is None or chosen >= len(results) or results[chosen] is None:
        return 0.0
    columns: dict[int, list[tuple[str, ...]]] = {}  # candidates with one query share its rows

    def of(rows: Rows) -> list[tuple[str, ...]]:
        if id(rows) not in columns:
            columns[id(rows)] = _columns(rows)
        return columns[id(rows)]

    mine = of(results[chosen] or [])
    held = 0
    for rows in results:
        if rows is not None and len(rows) == len(results[chosen] or []):
            theirs = of(rows)
            held += all(column in theirs for column in mine)
    return held / len(results)


def _columns(rows: Rows) -> list[tuple[str, ...]]:
    """Each column as the sorted multiset of its values (row order does not count)."""
    width = max((len(row) for row in rows), default=0)
    return [tuple(sorted(value_key(row[i]) for row in rows)) for i in range(width)]


def clause_agreement(
    sqls: Sequence[str | None], chosen: int | None, dialect: str | None = None
) -> dict[str, float]:
    """Per clause, the share of all candidates that agree with the chosen query's."""
    keys = CLUES[:4]
    if chosen is None or not sqls or sqls[chosen] is None:
        return dict.fromkeys(keys, 0.0)
    parsed = {sql: _clauses(sql, dialect) for sql in set(sqls) if sql}  # each text parsed once
    parts = [parsed[sql] if sql else None for sql in sqls]
    mine = parts[chosen]
    if mine is None:
        return dict.fromkeys(keys, 0.0)
    return {
        key: sum(1 for p in parts if p is not None and p[i] == mine[i]) / len(sqls)
        for i, key in enumerate(keys)
    }


def _clauses(sql: str, dialect: str | None) -> tuple[Any, ...] | None:
    """Tables read, columns filtered on, columns grouped by, aggregates selected: as sets of
    lower-case names, so that aliases and order do not count."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.SqlglotError:
        return None
    if tree is None:
        return None
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    tables = frozenset(
        t.name.lower() for t in tree.find_all(exp.Table) if t.name.lower() not in ctes
    )
    filters = frozenset(
        c.name.lower()
        for clause in (*tree.find_all(exp.Where), *tree.find_all(exp.Having))
        for c in clause.find_all(exp.Column)
    )
    grouping = frozenset(
        c.name.lower() for g in tree.find_all(exp.Group) for c in g.find_all(exp.Column)
    )
    select = tree if isinstance(tree, exp.Select) else tree.find(exp.Select)
    projections = select.expressions if select is not None else []
    aggregates = tuple(
        sorted(type(f).__name__ for p in projections for f in p.find_all(exp.AggFunc))
    )
    return tables, filters, grouping, (len(projections), aggregates)


def leaf_join(sql: str, dialect: str | None) -> bool:
    """Whether a SELECT of ``sql`` joins (``JOIN ... ON``) a table whose columns it reads nowhere
    but in the one join condition that links it. A SELECT reading ``*`` or a column without a
    table name is not judged."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect)
    except sqlglot.errors.SqlglotError:
        return False
    for select in tree.find_all(exp.Select):
        joins = select.args.get("joins") or []
        sources = [select.args.get("from_") or select.args.get("from"), *joins]  # by version
        names = [
            s.this.alias_or_name.lower() for s in sources if s and isinstance(s.this, exp.Table)
        ]
        if len(names) < 2 or len(names) != len(sources) or select.find(exp.Star):
            continue
        own = [c for c in select.find_all(exp.Column) if c.find_ancestor(exp.Select) is select]
        if any(not c.table for c in own):
            continue
        conditions = [list(j.args["on"].find_all(exp.Column)) for j in joins if j.args.get("on")]
        joining = {id(c) for columns in conditions for c in columns}
        # Read anywhere else, a correlated subquery included, the table is not idle.
        outside = {c.table.lower() for c in select.find_all(exp.Column) if id(c) not in joining}
        for name in names:
            linked = [cs for cs in conditions if any(c.table.lower() == name for c in cs)]
            if name not in outside and len(linked) == 1:
                return True
    return False


def result_shape(question: str, rows: Sequence[Sequence[Any]] | None) -> dict[str, float]:
    """What the chosen result's shape says against the question (all 0 without a result)."""
    if rows is None:
        return dict.fromkeys(CLUES[4:9], 0.0)
    wanted = expected_rows(question)
    cells = [value for row in rows for value in row]
    repeated = sum(n - 1 for n in Counter(tuple(row) for row in rows).values())
    return {
        "many_rows_for_one": 1.0 if wanted == 1 and len(rows) > 1 else 0.0,
        "count_mismatch": 1.0 if wanted not in (None, 1) and len(rows) != wanted else 0.0,
        "repeated_rows": repeated / len(rows) if rows else 0.0,
        "null_share": sum(v is None for v in cells) / len(cells) if cells else 0.0,
        "per_group_flat": (
            1.0 if _PER_GROUP.search(question) and (len(rows) <= 1 or len(rows[0]) == 1) else 0.0
        ),
    }


def named_unread(question: str, sql: str | None, catalog: Catalog, dialect: str | None) -> float:
    """1 when a word of the question names a column of a table ``sql`` reads and the query reads
    no column that word names ("the population *density*" answered from ``state.population``);
    else 0 (rule 9, docs/BENCHMARKS.md). A word names a column when it is one of the words of
    the column's name, singular or plural, of three letters or more, neither ``id`` nor a stop
    word nor a word of the read tables' names. A query that selects ``*`` reads every column."""
    try:
        tree = sqlglot.parse_one(sql, read=dialect) if sql else None
    except sqlglot.errors.SqlglotError:
        return 0.0
    if tree is None or any(isinstance(s.parent, exp.Select) for s in tree.find_all(exp.Star)):
        return 0.0
    read = {t.name.lower() for t in tree.find_all(exp.Table)}
    tables = [t for t in catalog.tables if t.name.lower() in read]
    own = {singular(w) for t in tables for w in words(t.name).split()}
    asked = {singular(w) for w in content_words(question)} - own - {"id"}
    used = {c.name.lower() for c in tree.find_all(exp.Column)}
    named: dict[str, set[str]] = {}
    for table in tables:
        for column in table.columns:
            for word in {singular(w) for w in words(column.name).split() if len(w) > 2}:
                if word in asked:
                    named.setdefault(word, set()).add(column.name.lower())
    return 1.0 if any(not columns & used for columns in named.values()) else 0.0


#: What a question asks for: the words between "the" and "of" ("the *phone number* of"), or
#: after an aggregate or superlative word ("the average *volume*", "the most *office hours*").
_ASKED = re.compile(
    r"\bthe\s+((?:[a-z]+\s+){0,2}?[a-z]+)\s+of\b|\b(?:average|mean|total|sum|highest|lowest|"
    r"most|least|maximum|minimum|largest|smallest|biggest|greatest|fewest)\s+([a-z]+(?:\s+[a-z]+)?)",
    re.IGNORECASE,
)
#: Words of such a phrase that name no attribute ("the *number* of", "the *rest* of").
_GENERIC = frozenset(
    """amount average beginning biggest bottom combined count different distinct end entries entry
    fewest first greatest group groups half highest kind kinds largest last least list lowest
    majority maximum mean middle minimum most name names number one ones overall part percent
    percentage proportion rate ratio record records rest row rows same set share smallest start
    sum top total type types unique value values""".split()  # noqa: SIM905
)
_ENDINGS = ("ing", "est", "ed", "er")


def _stem(word: str) -> str:
    word = singular(word)
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)]
    return word


def asked_unknown(question: str, catalog: Catalog) -> float:
    """1 when an attribute the question asks for (``_ASKED``, less ``_GENERIC`` words) names
    nothing in the database: none of its words is a word of a table's or column's name,
    description, comment or sample values (``Vocabulary.knows``: also singular or spelled nearly
    alike), nor shares its stem with one (-ed, -ing, -er, -est dropped); else 0 (rule 18,
    docs/BENCHMARKS.md)."""
    phrases = [
        [w for w in content_words(found.group(1) or found.group(2)) if w not in _GENERIC]
        for found in _ASKED.finditer(question)
    ]
    phrases = [p for p in phrases if p]
    if not phrases:
        return 0.0
    vocab = vocabulary(catalog)
    stems = {_stem(w) for w in vocab.words}
    for phrase in phrases:
        if not any(vocab.knows(w) or _stem(w) in stems for w in phrase):
            return 1.0
    return 0.0


def expected_rows(question: str) -> int | None:
    """How many rows the question's words ask for: 1 for "how many ..." or "what is the average
    ...", N for "the top N" or "the 3 largest", ``None`` when they do not say."""
    if _ONE_VALUE.search(question):
        return None if _PER_GROUP.search(question) else 1
    found = _TOP_N.search(question)
    if found:
        word = (found.group(1) or found.group(2)).lower()
        return int(word) if word.isdigit() else _NUMBER_WORDS[word]
    return None
