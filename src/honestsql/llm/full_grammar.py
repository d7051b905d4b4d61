"""The ``full`` grammar: the dialect's whole SELECT, written with only real table and column names.

A Lark grammar for llguidance (``LLMatcher.grammar_from_lark``), generated from the schema. It
admits what the questions need and the ``qualified`` GBNF shape cannot write: CTEs (``WITH``,
``WITH RECURSIVE``), CASE, window functions (``OVER (PARTITION BY ... ORDER BY ...)``), set
operations, subqueries in FROM, WHERE, SELECT and HAVING, EXISTS, IN-lists, BETWEEN, LIKE,
NULLIF/COALESCE/CAST, any allowed function of the dialect (the guard's allow-list), arithmetic
inside aggregates, LEFT/RIGHT/FULL/CROSS joins, table aliases (self-joins) and column aliases of
any length.

What stays schema-true: a table in FROM or JOIN is a table of the schema or a CTE the query
named (a CTE's name starts with ``cte_``, so that it cannot pass for an invented table); a
column reference, bare or qualified by a table, alias or CTE, names a column that exists
in the schema. Names the query introduces itself (aliases, CTE names) come after ``AS``, and
ORDER BY may also name an output alias. A column written after a table's name is one of that
table's columns; a table alias has at most four characters (``p``, ``oi``, ``T1``), so that a
table's own name cannot pass for an alias and bring any column with it. Which table a column
after an alias belongs to, and whether the alias was introduced, is left to verification (the
resolver checks every name in its scope).

What stays dialect-true: syntax sqlglot passes through unchanged to a database that cannot run
it (``EXTRACT`` and ``= ANY (subquery)`` on SQLite, ``GLOB`` on PostgreSQL and MySQL) is left out
of that dialect's grammar, and so is ``||`` on MySQL, where it is a logical OR and the query runs
with another meaning (``UNSUPPORTED``, measured on the four engines by the tests).
"""

from __future__ import annotations

import json
import re

from honestsql.catalog import Catalog
from honestsql.functions import allowed_functions
from honestsql.llm.grammar import KEYWORDS, quote_identifier

#: Functions with their own syntax, written by rules of their own.
_SPECIAL = {"count", "cast", "try_cast", "extract", "exists", "position", "substring", "trim"}


#: Types CAST and ``::`` may name.
TYPES = (
    "INTEGER", "INT", "BIGINT", "SMALLINT", "REAL", "FLOAT", "DOUBLE PRECISION", "DOUBLE",
    "NUMERIC", "DECIMAL", "TEXT", "VARCHAR", "CHAR", "DATE", "TIME", "TIMESTAMP", "DATETIME",
    "BOOLEAN", "BOOL", "INTERVAL", "SIGNED", "UNSIGNED", "BLOB", "JSON",
)  # fmt: skip
#: What each dialect's grammar leaves out: syntax its database refuses after sqlglot wrote it in
#: that dialect, types its CAST does not take, and ``||`` where it is not concatenation.
UNSUPPORTED: dict[str, frozenset[str]] = {
    "sqlite": frozenset({"extract", "quantified", "interval"}),
    "postgres": frozenset({"glob", "SIGNED", "UNSIGNED"}),
    "mysql": frozenset({"glob", "filter", "pipes", "JSON", "BLOB", "INTERVAL"}),
    "duckdb": frozenset({"UNSIGNED"}),
}
_INSENSITIVE = re.compile(r'"((?:[^"\\]|\\.)*)"i')


def _ascii_insensitive(grammar: str) -> str:
    """Every ``"text"i`` literal as a regex that ignores ASCII case only: Lark's ``i`` folds
    Unicode case too, so ``ſelect`` (a long s) would pass for ``select`` and a name could be
    written with letters the database does not fold."""

    def one(match: re.Match[str]) -> str:
        text = json.loads(f'"{match.group(1)}"')
        parts = []
        for ch in text:
            if ch.isascii() and ch.isalpha():
                parts.append(f"[{ch.lower()}{ch.upper()}]")
            elif ch.isascii() and (ch.isalnum() or ch in " _"):
                parts.append(ch)
            else:
                parts.append("[" + ("\\" + ch if ch in "]\\^-[/" else ch) + "]")
        return "/" + "".join(parts) + "/"

    return _INSENSITIVE.sub(one, grammar)


def _lark_string(text: str) -> str:
    return json.dumps(text)


def _names(names: list[str]) -> str:
    """Alternatives of the names; one without quotes in any case (the database folds or ignores
    case), one with quotes exactly."""
    unique = sorted(set(names), key=lambda n: (-len(n), n))
    forms = [_lark_string(n) + ("" if set(n) & set('"`[') else "i") for n in unique]
    return " | ".join(forms) if forms else '"x"'


def _name_forms(name: str, dialect: str) -> list[str]:
    """How a real name may be written: bare wherever the dialect reads it bare as that name (any
    case on SQLite, MySQL and DuckDB; lower case on PostgreSQL, which folds a bare name), and
    quoted only where it must or may be (a keyword-like name such as ``year``)."""
    bare = (
        name.isidentifier() and name.isascii() and (dialect != "postgres" or name == name.lower())
    )
    forms = {name} if bare else set()
    if not bare or name.lower() in KEYWORDS:
        forms.add(quote_identifier(name, dialect))
    return sorted(forms)


#: Keywords short enough to pass for a table alias (``FROM author AS join``): never one.
_SHORT_KEYWORDS = sorted(
    k
    for k in {*KEYWORDS, "left", "full", "with", "over", "any", "some", "rows", "last", "glob"}
    if len(k) <= 4 and k.isalpha()
)


def full_grammar(catalog: Catalog, dialect: str, tables: list[str] | None = None) -> str:
    """Lark (llguidance) for one read-only statement over ``tables`` (default: all) of
    ``catalog``, or ``ABSTAIN: <reason>``."""
    chosen = [t for t in catalog.tables if tables is None or t.name in tables]
    table_forms = [f for t in chosen for f in _name_forms(t.name, dialect)]
    column_forms = [f for t in chosen for c in t.columns for f in _name_forms(c.name, dialect)]
    qualified_forms = [
        f"{table}.{column}"
        for t in chosen
        for table in _name_forms(t.name, dialect)
        for c in t.columns
        for column in _name_forms(c.name, dialect)
    ]
    functions = sorted(
        f for f in allowed_functions(dialect) if f.isidentifier() and f not in _SPECIAL
    )
    ident_quote = "`" if dialect == "mysql" else '"'
    off = UNSUPPORTED.get(dialect, frozenset())
    types = [t for t in TYPES if t not in off]
    glob, pipes = ("" if "glob" in off else ' | " GLOB "i'), ("" if "pipes" in off else ' | " || "')
    quantified = "" if "quantified" in off else " | quantified"
    extract = "" if "extract" in off else " | extract_expr"
    typed = "" if "interval" in off else " | TYPED"
    filter_ = "" if "filter" in off else "filter? "
    # DQ_STRING: a model used to SQLite writes strings in double quotes. SQLite reads "text"
    # that names nothing as a string, MySQL and Spark read every "text" as one; on PostgreSQL
    # and DuckDB check(quoted_strings=True) reads a model's "text" so (shown as 'text').
    return _ascii_insensitive(f"""%llguidance {{}}
start: query | ABSTAIN
ABSTAIN: /ABSTAIN: [^\\n]{{1,200}}/

query: with_clause? compound order_by? limit?
with_clause: "WITH "i "RECURSIVE "i? cte (", " cte)* " "
cte: CTE_NAME (" (" NAME (", " NAME)* ")")? " AS ("i query ")"
compound: select_core (setop select_core)*
setop: " UNION "i "ALL "i? | " INTERSECT "i | " EXCEPT "i
select_core: "SELECT "i "DISTINCT "i? items (" FROM "i from_list)? where? group_by? having?
    | "(" query ")"
items: item (", " item)*
item: "*" | (TABLE | qualifier) ".*" | expr (" AS "i NAME)?
from_list: from_item (", " from_item)* join*
from_item: (TABLE | CTE_NAME) (" AS "i ALIAS | SPACED_ALIAS)? | "(" query ")" (" AS "i ALIAS | SPACED_ALIAS)
join: JOIN from_item (" ON "i expr | " USING ("i COLUMN (", " COLUMN)* ")")?
where: " WHERE "i expr
group_by: " GROUP BY "i group_item (", " group_item)*
group_item: expr | NAME
having: " HAVING "i expr
order_by: " ORDER BY "i order_list
order_list: order_item (", " order_item)*
order_item: (expr | NAME) (" ASC"i | " DESC"i)? (" NULLS FIRST"i | " NULLS LAST"i)?
limit: " LIMIT "i INT (" OFFSET "i INT)?

expr: conj (" OR "i conj)*
conj: neg (" AND "i neg)*
neg: "NOT "i neg | predicate
predicate: sum (comparison | " IS "i "NOT "i? "NULL"i
        | " NOT"i? " IN ("i (query | expr (", " expr)*) ")"
        | " NOT"i? " BETWEEN "i sum " AND "i sum
        | " NOT"i? (" LIKE "i | " ILIKE "i{glob}) sum)?
    | "EXISTS ("i query ")"
comparison: (" = " | " == " | " <> " | " != " | " < " | " > " | " <= " | " >= ") (sum{quantified})
quantified: ("ANY"i | "ALL"i) " (" query ")"
sum: product ((" + " | " - "{pipes}) product)*
product: unary ((" * " | " / " | " % ") unary)*
unary: "-"? atom ("::" TYPE)?
atom: literal | column_ref | call | case_expr | cast_expr{extract} | "(" expr ")"
    | "(" query ")"
column_ref: QUALIFIED | (qualifier ".")? COLUMN
qualifier: ALIAS | CTE_NAME
call: "COUNT("i ("DISTINCT "i? expr | "*") ")" {filter_}over?
    | FUNCTION "(" ("DISTINCT "i? expr (", " expr)* (" ORDER BY "i order_list)?)? ")" {filter_}over?
    | ("SUBSTRING("i | "POSITION("i | "TRIM("i) expr (part_separator expr)* ")"
part_separator: ", " | " FROM "i | " IN "i | " FOR "i
filter: (" FILTER (WHERE "i | " FILTER(WHERE "i) expr ")"
over: " OVER ("i window? ")"
window: (partition | "ORDER BY "i order_list) (" " frame)?
partition: "PARTITION BY "i expr (", " expr)* (" ORDER BY "i order_list)?
frame: ("ROWS "i | "RANGE "i) ("BETWEEN "i bound " AND "i bound | bound)
bound: "UNBOUNDED PRECEDING"i | "UNBOUNDED FOLLOWING"i | "CURRENT ROW"i
    | INT (" PRECEDING"i | " FOLLOWING"i)
case_expr: ("CASE WHEN "i | "CASE "i expr " WHEN "i) expr " THEN "i expr case_tail
case_tail: (" WHEN "i expr " THEN "i expr)* (" ELSE "i expr)? " END"i
cast_expr: ("CAST("i | "TRY_CAST("i) expr " AS "i TYPE ")"
extract_expr: "EXTRACT("i NAME " FROM "i expr ")"
literal: INT | DECIMAL | STRING | DQ_STRING | "NULL"i | "TRUE"i | "FALSE"i | "CURRENT_DATE"i
    | "CURRENT_TIMESTAMP"i{typed}

TABLE: {_names(table_forms)}
COLUMN: {_names(column_forms)}
FUNCTION: {" | ".join(f'"{f}"i' for f in functions)}
CTE_NAME: /[cC][tT][eE]_[A-Za-z0-9_]{{1,40}}/
ALIAS: /[A-Za-z][A-Za-z0-9_]{{0,3}}/ & ~/(?i:{"|".join(_SHORT_KEYWORDS)})/
SPACED_ALIAS: / [A-Za-z][A-Za-z0-9_]{{0,3}}/ & ~/ (?i:{"|".join(_SHORT_KEYWORDS)})/
QUALIFIED: {_names(qualified_forms)}
NAME: /[A-Za-z_][A-Za-z0-9_]*/ | /{ident_quote}[^{ident_quote}\\n]{{1,64}}{ident_quote}/
TYPE: ({" | ".join(f'"{t}"i' for t in types)}) /(\\([0-9]{{1,3}}(, ?[0-9]{{1,3}})?\\))?/
JOIN: " JOIN "i | " INNER JOIN "i | " LEFT JOIN "i | " LEFT OUTER JOIN "i | " RIGHT JOIN "i
    | " RIGHT OUTER JOIN "i | " FULL JOIN "i | " FULL OUTER JOIN "i | " CROSS JOIN "i
TYPED: /INTERVAL '([^'\\n]|''){{0,60}}'/i
INT: /[0-9]{{1,12}}/
DECIMAL: /[0-9]{{0,12}}\\.[0-9]{{1,12}}/
STRING: /'([^'\\n]|''){{0,200}}'/
DQ_STRING: /"([^"\\n]|""){{0,200}}"/
""")


def decoded_shape(shape: str, *, gbnf: bool, lark: bool) -> str:
    """The grammar a backend decodes under when ``shape`` is asked for: ``full`` where it takes
    Lark (llguidance), else the ``qualified`` GBNF shape; ``schema``/``qualified`` as GBNF;
    ``none`` for ``none`` or a backend that takes no grammar."""
    if shape == "none" or not gbnf:
        return "none"
    return "qualified" if shape == "full" and not lark else shape


def decoding_grammar(
    shape: str, catalog: Catalog, dialect: str, tables: list[str], *, gbnf: bool, lark: bool
) -> str | None:
    """The grammar text of ``decoded_shape``; ``None`` where nothing constrains decoding."""
    from honestsql.llm.grammar import sql_grammar

    shape = decoded_shape(shape, gbnf=gbnf, lark=lark)
    if shape == "none":
        return None
    if shape == "full":
        return full_grammar(catalog, dialect, tables)
    return sql_grammar(catalog, dialect, tables, shape=shape)
