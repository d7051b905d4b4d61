"""Rough prompt tokens of a schema's parts, for fitting the linked tables into the budget."""

from __future__ import annotations

from honestsql.catalog import Table


def column_tokens(table: Table, name: str) -> int:
    """Rough prompt tokens for one column line: name, type and punctuation."""
    return max(2, (len(name) + 10) // 4)


def header_tokens(table: Table) -> int:
    """Rough prompt tokens for a table's header line and its closing."""
    return (len(table.name) + 20) // 4


def table_tokens(table: Table) -> int:
    """Rough prompt tokens for a whole table: its header and every column line."""
    return header_tokens(table) + sum(column_tokens(table, c.name) for c in table.columns)
