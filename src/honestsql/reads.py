"""What a query reads: the catalog tables and columns it uses (through aliases, CTEs and
subqueries), and the text values it compares text columns with.
"""

from __future__ import annotations

from sqlglot import exp

from honestsql.catalog import Catalog, Column, Table
from honestsql.sqltypes import type_family
from honestsql.verify import Verifier


def text_literals(
    expression: exp.Expr, catalog: Catalog, dialect: str
) -> list[tuple[Table, Column, str]]:
    """(table, column, value) for every text literal a query compares a text column with by
    equality or IN: values that should exist in the data for the answer to be meaningful."""
    verifier = Verifier(catalog, dialect)
    tree = verifier.resolve(expression).tree
    found: list[tuple[Table, Column, str]] = []
    for node in tree.find_all(exp.EQ, exp.In):
        column = node.this if isinstance(node.this, exp.Column) else None
        others = node.expressions if isinstance(node, exp.In) else [node.expression]
        if column is None and isinstance(node, exp.EQ) and isinstance(node.expression, exp.Column):
            column, others = node.expression, [node.this]
        if column is None or id(column) not in verifier.resolved:
            continue
        col = verifier.resolved[id(column)]
        if type_family(col.type) != "text":
            continue
        for literal in others:
            if isinstance(literal, exp.Literal) and literal.is_string:
                found.append((verifier.resolved_tables[id(column)], col, str(literal.this)))
    return found


def referenced(
    expression: exp.Expr, catalog: Catalog, dialect: str
) -> tuple[set[str], set[tuple[str, str]]]:
    """The catalog tables and (table, column) pairs a query uses, resolved through aliases,
    CTEs and subqueries."""
    verifier = Verifier(catalog, dialect)
    resolution = verifier.resolve(expression)
    tables = {t.name for _, t in resolution.tables if t is not None}
    columns = {
        (verifier.resolved_tables[key].name, column.name)
        for key, column in verifier.resolved.items()
    }
    return tables | {t for t, _ in columns}, columns
