"""The access policy: tables and columns people must not see, columns they may only aggregate.

A second layer over the database's grants (the first and stronger one). With a policy:

- denied tables, views and columns are cut from the catalog, so they never reach a prompt, a
  schema listing or the value index, and their sample values are never read;
- ``check`` refuses, with the finding kind ``denied``, a query that touches them wherever they
  hide: subqueries, CTEs, ``SELECT *`` and ``t.*``, whole-row references (``SELECT c FROM
  customers c``), ``USING`` and ``NATURAL`` joins, and views whose definition reads them;
- an ``aggregate_only`` column may appear only as the whole argument of AVG, SUM or COUNT (not
  MIN or MAX, which return one row's value; not in a window; not grouped by the table's key).

The file is YAML (or JSON)::

    deny: [payroll, customers.email]     # tables, views, or table.column
    aggregate_only: [employees.salary]   # table.column

Names compare case-insensitively, so a policy never misses a differently spelled name. An entry
that names nothing in the database is an error: a misspelled entry would otherwise deny nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from honestsql import config_files, policy_check
from honestsql.catalog import Catalog, Table
from honestsql.errors import InvalidInput
from honestsql.findings import Finding
from honestsql.policy_check import fold

ENV = "HONESTSQL_POLICY"
_KEYS = {"deny", "aggregate_only"}
AGGREGATE_NOTE = "aggregate only: use it only as AVG(col), SUM(col) or COUNT(col)"


@dataclass(frozen=True)
class Policy:
    """What a policy file says, before it is matched with a database's schema."""

    deny: tuple[str, ...] = ()
    aggregate_only: tuple[str, ...] = ()
    source: str = "the policy"

    @property
    def digest(self) -> str:
        text = "\x1f".join(sorted(self.deny)) + "\x1e" + "\x1f".join(sorted(self.aggregate_only))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def unsampled(self, table: Table) -> set[str] | None:
        """Columns of ``table`` whose values must not be read (``None``: the whole table).

        Works on names alone, before the policy is matched with the schema, so sampling never
        reads what the policy hides, under either reading of ``a.b``."""
        denied = [fold(e) for e in self.deny]
        names = [table.name, *table.inherits]  # a partition or child holds its parent's rows
        if any(_names(entry, name) for entry in denied for name in names):
            return None
        restricted = denied + [fold(e) for e in self.aggregate_only]
        return {
            c.name
            for c in table.columns
            if any(_names(entry, f"{name}.{c.name}") for entry in restricted for name in names)
        }


def _names(entry: str, name: str) -> bool:
    """Whether a folded policy entry may name ``name``, bare or with a schema before it."""
    name = fold(name)
    return entry == name or entry.endswith("." + name)


def load(source: str | Path | Mapping[str, Any] | Policy | None) -> Policy | None:
    """A policy from a file, a mapping or ``$HONESTSQL_POLICY``; ``None`` when there is none."""
    if isinstance(source, Policy):
        return source
    found = config_files.read(source, ENV, "policy")
    return None if found is None else _from_mapping(*found)


def _from_mapping(data: Any, name: str) -> Policy:
    if not isinstance(data, Mapping):
        raise InvalidInput(
            f"{name} must be a mapping with 'deny' and/or 'aggregate_only' lists, "
            f"not {type(data).__name__}."
        )
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise InvalidInput(
            f"{name} has unknown keys {', '.join(map(repr, unknown))}; "
            "it takes 'deny' and 'aggregate_only'."
        )
    lists: dict[str, tuple[str, ...]] = {}
    for key in _KEYS:
        value = data.get(key) or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise InvalidInput(f"{name}: {key!r} must be a list of names like 'table.column'.")
        lists[key] = tuple(v.strip() for v in value)
    return Policy(lists["deny"], lists["aggregate_only"], name)


@dataclass
class Access:
    """A policy matched with one database's schema: the catalog to show and the query check."""

    policy: Policy
    catalog: Catalog
    denied_tables: set[str] = field(default_factory=set)
    denied_columns: dict[str, set[str]] = field(default_factory=dict)
    aggregate_only: dict[str, set[str]] = field(default_factory=dict)
    #: Views denied because their definition reads something denied, with the reason.
    denied_views: dict[str, str] = field(default_factory=dict)

    # --- the catalog people and models see ---------------------------------------------------

    def visible(self) -> Catalog:
        """A copy of the catalog without the denied tables and columns (nor keys naming them);
        aggregate-only columns keep no samples and carry a note saying how they may be used."""
        tables = []
        for table in self.catalog.tables:
            key = fold(table.name)
            if key in self.denied_tables:
                continue
            hidden = self.denied_columns.get(key, set())
            aggregate = self.aggregate_only.get(key, set())
            columns = []
            for column in table.columns:
                if fold(column.name) in hidden:
                    continue
                if fold(column.name) in aggregate:
                    note = "; ".join(p for p in (AGGREGATE_NOTE, column.description) if p)
                    column = column.model_copy(
                        update={"samples": [], "aggregate_only": True, "description": note}
                    )
                columns.append(column)
            keys = [
                fk
                for fk in table.foreign_keys
                if fold(fk.ref_table) not in self.denied_tables
                and not any(fold(c) in hidden for c in fk.columns)
                and not any(
                    fold(c) in self.denied_columns.get(fold(fk.ref_table), set())
                    for c in fk.ref_columns
                )
            ]
            copy = table.model_copy(
                update={
                    "columns": columns,
                    "foreign_keys": keys,
                    "primary_key": [c for c in table.primary_key if fold(c) not in hidden],
                }
            )
            copy._by_name = None
            tables.append(copy)
        visible = self.catalog.model_copy(update={"tables": tables})
        visible._by_name = None
        return visible

    # --- the query check ---------------------------------------------------------------------

    def restricted(self, table: Table) -> bool:
        key = fold(table.name)
        return bool(self.denied_columns.get(key) or self.aggregate_only.get(key))

    def problems(self, expression: exp.Expr, dialect: str) -> list[Finding]:
        """Why ``expression`` may not run under this policy (empty: it may)."""
        return policy_check.problems(self, expression, dialect)


def bind(policy: Policy, catalog: Catalog, view_sql: Callable[[Table], str | None]) -> Access:
    """Match ``policy`` with ``catalog``; ``view_sql`` gives a view's definition (``None``
    when it cannot be read: the view is then denied, as is one whose definition does not parse)."""
    access = Access(policy, catalog)
    for entry in policy.deny:
        whole = _table(catalog, entry)
        if whole is not None:
            access.denied_tables.add(fold(whole.name))
            continue
        table, column = _column(catalog, entry, policy.source, "deny")
        access.denied_columns.setdefault(fold(table), set()).add(fold(column))
    for entry in policy.aggregate_only:
        table, column = _column(catalog, entry, policy.source, "aggregate_only")
        access.aggregate_only.setdefault(fold(table), set()).add(fold(column))
    _inherit(access, catalog)
    views = [t for t in catalog.tables if t.is_view and fold(t.name) not in access.denied_tables]
    parsed: dict[str, exp.Expr | None] = {
        t.name: _view_query(view_sql(t), catalog.dialect) for t in views
    }
    changed = True
    while changed:  # a view over a denied view is denied too
        changed = False
        for view in views:
            if fold(view.name) in access.denied_tables:
                continue
            query = parsed[view.name]
            if query is None:
                reason = "its definition could not be read"
            else:
                found = access.problems(query, catalog.dialect)
                reason = f"it reads {found[0].subject or 'what is denied'}" if found else ""
            if reason:
                access.denied_tables.add(fold(view.name))
                access.denied_views[view.name] = reason
                changed = True
    return access


def _inherit(access: Access, catalog: Catalog) -> None:
    """Partitions and inheritance children hold rows of their parents: what the policy says of
    a parent it says of them (PostgreSQL)."""
    for table in catalog.tables:
        key = fold(table.name)
        for parent in map(fold, table.inherits):
            if parent in access.denied_tables:
                access.denied_tables.add(key)
            for rules in (access.denied_columns, access.aggregate_only):
                if parent in rules:
                    rules.setdefault(key, set()).update(rules[parent])


def _table(catalog: Catalog, entry: str) -> Table | None:
    """The table ``entry`` names, as the catalog names it or qualified with its schema."""
    found = catalog.table(entry)
    if found is None and "." in entry:
        schema, _, name = entry.rpartition(".")
        found = catalog.resolve(name, schema)
    return found


def _column(catalog: Catalog, entry: str, source: str, key: str) -> tuple[str, str]:
    table_name, dot, column_name = entry.rpartition(".")
    table = _table(catalog, table_name) if dot else None
    column = table.column(column_name) if table is not None else None
    if table is None or column is None:
        what = "table, view or table.column" if key == "deny" else "table.column"
        raise InvalidInput(
            f"{source}: {key} names {entry!r}, which is no {what} of this database "
            f"({catalog.database_name or catalog.dialect}). A misspelled entry would deny nothing."
        )
    return table.name, column.name


def _view_query(text: str | None, dialect: str) -> exp.Expr | None:
    if not text:
        return None
    match = re.search(r"\bVIEW\b.*?\bAS\b(.*)$", text, re.IGNORECASE | re.DOTALL)
    body = (match.group(1) if match else text).strip().rstrip(";")
    try:
        return sqlglot.parse_one(body, dialect=dialect)
    except SqlglotError:
        return None
