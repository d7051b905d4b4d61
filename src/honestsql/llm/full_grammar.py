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
ORDER BY may also name an output alias. Which table a qualified column belongs to, and whether an
alias was introduced, is left to verification (the resolver checks every name in its scope).
"""

from __future__ import annotations

import json

from honestsql.catalog import Catalog
from honestsql.functions import allowed_functions
from honestsql.llm.grammar import quote_identifier

#: Functions with their own syntax, written by rules of their own.
_SPECIAL = {"count", "cast", "try_cast", "extract", "exists", "position", "substring", "trim"}
_AGGREGATE_LIKE = ("count", "sum", "avg", "min", "max")


def _lark_string(text: str) -> str:
    return json.dumps(text)


def _names(names: list[str]) -> str:
    """Alternatives of the names; a bare name in any case (the database folds or ignores case),
    a quoted one exactly."""
    unique = sorted(set(names), key=lambda n: (-len(n), n))
    forms = [_lark_string(n) + ("" if n[0] in '"`[' else "i") for n in unique]
    return " | ".join(forms) if forms else '"x"'


def _name_forms(name: str, dialect: str) -> list[str]:
    """The ways a real name may be written: as the dialect needs it, and bare when that is safe
    apart from case (``airports`` for ``AIRPORTS``-style spellings the model prefers)."""
    forms = {quote_identifier(name, dialect)}
    if name.isidentifier() and (dialect != "postgres" or name == name.lower()):
        forms.add(name)  # PostgreSQL folds a bare name to lower case
    return sorted(forms)


def full_grammar(catalog: Catalog, dialect: str, tables: list[str] | None = None) -> str:
    """Lark (llguidance) for one read-only statement over ``tables`` (default: all) of
    ``catalog``, or ``ABSTAIN: <reason>``."""
    chosen = [t for t in catalog.tables if tables is None or t.name in tables]
    table_forms = [f for t in chosen for f in _name_forms(t.name, dialect)]
    column_forms = [f for t in chosen for c in t.columns for f in _name_forms(c.name, dialect)]
    functions = sorted(
        f for f in allowed_functions(dialect) if f.isidentifier() and f not in _SPECIAL
    )
    ident_quote = "`" if dialect == "mysql" else '"'
    return f"""%llguidance {{}}
start: query | ABSTAIN
ABSTAIN: /ABSTAIN: [^\\n]{{1,200}}/
%ignore /[ \\t\\n]+/

query: with_clause? compound order_by? limit?
with_clause: WITH RECURSIVE? cte ("," cte)*
cte: CTE_NAME ("(" NAME ("," NAME)* ")")? AS "(" query ")"
compound: select_core (setop select_core)*
setop: UNION ALL? | INTERSECT | EXCEPT
select_core: SELECT DISTINCT? items (FROM from_list)? where? group_by? having?
    | "(" query ")"
items: item ("," item)*
item: "*" | qualifier "." "*" | expr (AS NAME)?
from_list: from_item ("," from_item)* join*
from_item: (TABLE | CTE_NAME) (AS NAME)? | "(" query ")" AS NAME
join: join_kind? JOIN from_item (ON expr | USING "(" COLUMN ("," COLUMN)* ")")?
join_kind: INNER | LEFT OUTER? | RIGHT OUTER? | FULL OUTER? | CROSS
where: WHERE expr
group_by: GROUP BY group_item ("," group_item)*
group_item: expr | NAME
having: HAVING expr
order_by: ORDER BY order_item ("," order_item)*
order_item: (expr | NAME) (ASC | DESC)? (NULLS (FIRST | LAST))?
limit: LIMIT INT (OFFSET INT)?

expr: conj (OR conj)*
conj: neg (AND neg)*
neg: NOT neg | predicate
predicate: sum (comparison | IS NOT? NULL | NOT? IN "(" (query | expr ("," expr)*) ")"
    | NOT? BETWEEN sum AND sum | NOT? (LIKE | ILIKE | GLOB) sum)?
    | EXISTS "(" query ")"
comparison: ("=" | "==" | "<>" | "!=" | "<" | ">" | "<=" | ">=") (sum | ANY "(" query ")" | ALL "(" query ")")
sum: product (("+" | "-" | "||") product)*
product: unary (("*" | "/" | "%") unary)*
unary: "-"? atom ("::" TYPE)?
atom: literal | column_ref | call | case_expr | cast_expr | extract_expr | "(" expr ")"
    | "(" query ")"
column_ref: (qualifier ".")? COLUMN
qualifier: TABLE | NAME
call: COUNT "(" (DISTINCT? expr | "*") ")" filter? over?
    | FUNCTION "(" (DISTINCT? expr ("," expr)* order_by?)? ")" filter? over?
    | (SUBSTRING | POSITION | TRIM) "(" expr (("," | FROM | IN | FOR) expr)* ")"
filter: FILTER "(" WHERE expr ")"
over: OVER "(" (PARTITION BY expr ("," expr)*)? order_by? frame? ")"
frame: (ROWS | RANGE) (BETWEEN bound AND bound | bound)
bound: UNBOUNDED (PRECEDING | FOLLOWING) | CURRENT ROW | INT (PRECEDING | FOLLOWING)
case_expr: CASE expr? (WHEN expr THEN expr)+ (ELSE expr)? END
cast_expr: (CAST | TRY_CAST) "(" expr AS TYPE ")"
extract_expr: EXTRACT "(" NAME FROM expr ")"
literal: INT | DECIMAL | STRING | NULL | TRUE | FALSE | CURRENT_DATE | CURRENT_TIMESTAMP
    | (DATE | TIMESTAMP | INTERVAL) STRING | INTERVAL STRING NAME?

TABLE: {_names(table_forms)}
COLUMN: {_names(column_forms)}
FUNCTION: {" | ".join(f'"{f}"i' for f in functions)}
CTE_NAME: /[cC][tT][eE]_[A-Za-z0-9_]{{1,40}}/
NAME: /[A-Za-z_][A-Za-z0-9_]*/ | /{ident_quote}[^{ident_quote}\\n]{{1,64}}{ident_quote}/
TYPE: /[A-Za-z][A-Za-z0-9_ ]*(\\([0-9, ]+\\))?/
INT: /[0-9]{{1,12}}/
DECIMAL: /[0-9]{{0,12}}\\.[0-9]{{1,12}}/
STRING: /'([^'\\n]|''){{0,200}}'/
{_keywords()}
"""


_KEYWORDS = """\
WITH RECURSIVE AS UNION ALL INTERSECT EXCEPT SELECT DISTINCT FROM INNER LEFT RIGHT FULL
OUTER CROSS JOIN ON USING WHERE GROUP BY HAVING ORDER ASC DESC NULLS FIRST LAST LIMIT OFFSET OR
AND NOT IS NULL IN BETWEEN LIKE ILIKE GLOB EXISTS ANY COUNT SUBSTRING POSITION TRIM FOR FILTER
OVER PARTITION ROWS RANGE UNBOUNDED PRECEDING FOLLOWING CURRENT ROW CASE WHEN THEN ELSE END CAST
TRY_CAST EXTRACT TRUE FALSE DATE TIMESTAMP INTERVAL CURRENT_DATE CURRENT_TIMESTAMP"""


def _keyword_names() -> list[str]:
    return _KEYWORDS.split()


def _keywords() -> str:
    return "\n".join(f'{k}: "{k}"i' for k in _keyword_names())
