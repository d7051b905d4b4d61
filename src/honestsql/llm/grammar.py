"""A GBNF grammar, generated from the schema, that only admits one SELECT over real names.

Used for constrained decoding (llama.cpp, and servers that accept a grammar): the structure of
the output is guaranteed rather than hoped for. Every table and column name in the output is one
that exists, and every repetition is bounded, so generation always ends.

Two shapes: ``qualified`` (the default) writes every column as ``table.column`` from the pairs
that exist and has no table aliases, so a column can never come from the wrong table; the older
``schema`` shape allows ``T1``-style aliases with any real column after any alias (whether the
column belongs to the aliased table is then left to verification).
"""

from __future__ import annotations

from honestsql.catalog import Catalog
from honestsql.db import dialects

AGGREGATES = ("COUNT", "SUM", "AVG", "MIN", "MAX")
FUNCTIONS = ("LOWER", "UPPER", "LENGTH", "ABS", "ROUND")
TABLE_ALIASES = 4

_IDENTIFIER_SAFE = set("abcdefghijklmnopqrstuvwxyz0123456789_")
KEYWORDS = {
    "select",
    "from",
    "where",
    "group",
    "order",
    "by",
    "limit",
    "join",
    "on",
    "as",
    "and",
    "or",
    "not",
    "in",
    "is",
    "null",
    "like",
    "between",
    "having",
    "distinct",
    "desc",
    "asc",
    "case",
    "when",
    "then",
    "else",
    "end",
    "union",
    "all",
    "table",
    "index",
    "key",
    "primary",
    "default",
    "user",
    "values",
    "check",
    "references",
    "cast",
    "date",
    "time",
    "timestamp",
    "year",
    "month",
}


def quote_identifier(name: str, dialect: str) -> str:
    """The name as the dialect needs it written: bare when safe, else quoted."""
    if name and set(name) <= _IDENTIFIER_SAFE and not name[0].isdigit() and name not in KEYWORDS:
        return name
    return dialects.named(dialect).quote_name(name)


def _literal(text: str) -> str:
    """A GBNF string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _alternatives(names: list[str]) -> str:
    return " | ".join(_literal(n) for n in names) if names else '"x"'


def sql_grammar(
    catalog: Catalog, dialect: str, tables: list[str] | None = None, *, shape: str = "qualified"
) -> str:
    """GBNF for a single read-only SELECT over ``tables`` (default: all) of ``catalog``."""
    chosen = [t for t in catalog.tables if tables is None or t.name in tables]
    table_names = sorted({quote_identifier(t.name, dialect) for t in chosen})
    column_names = sorted({quote_identifier(c.name, dialect) for t in chosen for c in t.columns})
    if shape == "qualified":
        # One rule per table, so that once the table is written only its own columns remain
        # (the same language as listing every pair, but the decoder tracks far fewer
        # alternatives at each token).
        owners: dict[str, set[str]] = {}
        for t in chosen:
            owners.setdefault(quote_identifier(t.name, dialect), set()).update(
                quote_identifier(c.name, dialect) for c in t.columns
            )
        rules = {name: f"cols{i}" for i, name in enumerate(sorted(owners))}
        naming = (
            "source ::= table\ncol ::= "
            + " | ".join(f"{_literal(name + '.')} {rule}" for name, rule in rules.items())
            + "\n"
            + "".join(
                f"{rule} ::= {_alternatives(sorted(owners[name]))}\n"
                for name, rule in rules.items()
            )
        )
    else:
        naming = f"""source ::= table tabalias?
tabalias ::= " AS T" [1-{TABLE_ALIASES}]
col ::= (qual ".")? column
qual ::= table | "T" [1-{TABLE_ALIASES}]
column ::= {_alternatives(column_names)}
"""
    aggregates = " | ".join(_literal(a) for a in AGGREGATES)
    functions = " | ".join(_literal(f) for f in FUNCTIONS)
    return (
        f"""root ::= query | abstain
abstain ::= "ABSTAIN: " [^\\n]{{1,120}}
query ::= "SELECT " distinct? items " FROM " source join{{0,3}} where? group? order? limit?
distinct ::= "DISTINCT "
items ::= ("*" | item) (", " item){{0,5}}
item ::= expr alias?
alias ::= " AS " [a-z] [a-z_]{{0,11}}
join ::= " JOIN " source " ON " col " = " col
where ::= " WHERE " cond ((" AND " | " OR ") cond){{0,3}}
cond ::= expr " " cmp " " value | expr " IS NULL" | expr " IS NOT NULL" | expr " LIKE " string | col " IN (" subquery ")" | col " NOT IN (" subquery ")" | expr " BETWEEN " term " AND " term
cmp ::= "=" | "<>" | "<" | ">" | "<=" | ">="
value ::= expr | "(" subquery ")"
expr ::= term ((" + " | " - " | " * " | " / ") term){{0,2}}
term ::= col | number | string | "COUNT(*)" | agg "(" aggarg ")" | fn "(" col ")" | "CAST(" col " AS REAL)"
aggarg ::= col | "DISTINCT " col
agg ::= {aggregates}
fn ::= {functions}
group ::= " GROUP BY " col (", " col){{0,2}} having?
having ::= " HAVING " ("COUNT(*)" | agg "(" aggarg ")") " " cmp " " number
order ::= " ORDER BY " orderitem (", " orderitem){{0,1}}
orderitem ::= expr (" ASC" | " DESC")?
limit ::= " LIMIT " [1-9] [0-9]{{0,2}}
subquery ::= "SELECT " expr " FROM " source join{{0,2}} subwhere? group? limit?
subwhere ::= " WHERE " subcond ((" AND " | " OR ") subcond){{0,2}}
subcond ::= expr " " cmp " " expr | expr " LIKE " string | expr " IS NULL" | expr " IS NOT NULL"
number ::= "-"? [0-9]{{1,6}} ("." [0-9]{{1,4}})?
string ::= "'" [^'\\n]{{0,60}} "'"
table ::= {_alternatives(table_names)}
"""
        + naming
    )
