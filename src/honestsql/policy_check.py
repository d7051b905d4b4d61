"""The query check of an access policy (``honestsql.policy``): why a query may not run.

Reads the scope resolver (``honestsql.resolve``), so every reference is judged where it stands:
tables (a CTE name shields a table only where that CTE is visible), columns in every clause
(HAVING, QUALIFY, ORDER BY names that are also select aliases count as the column too), stars
anywhere (``concat(c.*)``, ``(c.*)::text``), whole-row references, ``USING`` and ``NATURAL``
joins. An ``aggregate_only`` column may be only the whole argument of AVG, SUM or COUNT, in a
scope that cannot single out a row: not in a window (FILTER and IGNORE NULLS included), not in a
correlated or LATERAL subquery, not grouped by anything that identifies a row (a key, a UNIQUE
column, ``rowid``, a foreign key to the table's key; by name, ordinal, alias or ``ALL``; inside
ROLLUP, CUBE and GROUPING SETS too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from honestsql.catalog import Catalog, Table
from honestsql.findings import Finding
from honestsql.resolve import SQLITE_ROWID, ColumnRef, Resolution, Source, resolve

if TYPE_CHECKING:
    from honestsql.policy import Access

#: The aggregates an ``aggregate_only`` column may be the argument of.
AGGREGATES = (exp.Avg, exp.Sum, exp.Count)


def fold(name: str) -> str:
    """Policy names compare case-insensitively: a policy never misses another spelling."""
    return name.lower()


def problems(access: Access, expression: exp.Expr, dialect: str) -> list[Finding]:
    """Why ``expression`` may not run under ``access`` (empty: it may)."""
    return _Checker(access, dialect).run(resolve(expression, access.catalog, dialect))


class _Checker:
    def __init__(self, access: Access, dialect: str) -> None:
        self.access = access
        self.dialect = dialect
        self.findings: dict[str, Finding] = {}

    def deny(self, message: str, subject: str) -> None:
        self.findings.setdefault(message, Finding("denied", message, subject=subject))

    def restricted(self, source: Source) -> Table | None:
        table = source.table
        if table is not None and source.base and self.access.restricted(table):
            return table
        return None

    def run(self, resolution: Resolution) -> list[Finding]:
        for node, table in resolution.tables:
            if table is not None and fold(table.name) in self.access.denied_tables:
                why = self.access.denied_views.get(table.name)
                self.deny(
                    f"The policy denies {table.name!r}"
                    + (f" (a view: {why})" if why else "")
                    + ".",
                    table.name,
                )
            elif table is not None and node.args.get("pivots") and self.access.restricted(table):
                self.deny(
                    f"PIVOT and UNPIVOT over {table.name}, which the policy restricts, could "
                    "turn its values into column names; aggregate it with GROUP BY instead.",
                    table.name,
                )
        if resolution.problems and self._touches_restricted(resolution):
            self.deny(
                "The query reads a table the policy restricts, in a shape that cannot be "
                "analysed; write it more simply.",
                "",
            )
        for star in resolution.stars:
            for source in star.sources:
                table = self.restricted(source)
                if table is not None:
                    self.deny(
                        f"{star.node.sql(self.dialect)} would read columns the policy "
                        f"restricts in {table.name}; name the columns instead.",
                        table.name,
                    )
        for scope in resolution.scopes:
            self.joins(scope, resolution)
        for ref in resolution.columns:
            self.column(ref, resolution)
        return list(self.findings.values())

    def _touches_restricted(self, resolution: Resolution) -> bool:
        return any(
            t is not None and self.access.restricted(t) for _, t in resolution.tables
        ) or any(
            isinstance(n, exp.Table) and not isinstance(n.this, exp.Identifier)
            for n in resolution.tree.find_all(exp.Table)
        )

    def joins(self, scope: Scope, resolution: Resolution) -> None:
        select = scope.expression
        if not isinstance(select, exp.Select):
            return
        restricted = [
            s for level in resolution.chain(scope) for s in level.values() if self.restricted(s)
        ]
        if not restricted:
            return
        for join in select.args.get("joins") or []:
            if "NATURAL" in (join.args.get("kind") or "", join.args.get("method") or ""):
                self.deny(
                    "A NATURAL join over a table the policy restricts could join on a "
                    "denied column; join ON named columns.",
                    "",
                )
            for ident in join.args.get("using") or []:
                for source in restricted:
                    self.use(source, _read(source, ident.name), None, "it cannot be a join key")

    def column(self, ref: ColumnRef, resolution: Resolution) -> None:
        for source in ref.whole_rows:
            if self.restricted(source) is not None:
                self.deny(
                    f"{ref.node.name!r} reads whole rows of a table the policy restricts; "
                    "name the columns instead.",
                    ref.node.name,
                )
        for reference in ref.references:
            if self.restricted(reference.source) is None:
                continue
            problem = ""
            name = fold(reference.column.name) if reference.column else fold(ref.node.name)
            if name in self._aggregate_only(reference.source):
                problem = self.aggregate_problem(ref, reference.depth, resolution)
            self.use(reference.source, name, ref, problem)

    def _aggregate_only(self, source: Source) -> set[str]:
        assert source.table is not None
        return self.access.aggregate_only.get(fold(source.table.name), set())

    def use(self, source: Source, name: str, ref: ColumnRef | None, problem: str) -> None:
        table = source.table
        assert table is not None
        key = fold(table.name)
        if name in self.access.denied_columns.get(key, set()):
            self.deny(f"The policy denies {table.name}.{name}.", f"{table.name}.{name}")
        elif name in self.access.aggregate_only.get(key, set()):
            if ref is None and not problem:
                problem = "it cannot be a join key"
            if problem:
                self.deny(
                    f"The policy lets {table.name}.{name} be used only as AVG, SUM or "
                    f"COUNT of it: {problem}.",
                    f"{table.name}.{name}",
                )

    def aggregate_problem(self, ref: ColumnRef, depth: int, resolution: Resolution) -> str:
        column = ref.node
        parent = column.parent
        if isinstance(parent, exp.Distinct):
            parent = parent.parent
        if not isinstance(parent, AGGREGATES):
            return "here it would be read row by row"
        if depth > 0:
            return "an outer query's rows reach it here, so it is read row by row"
        node: exp.Expr | None = parent.parent
        while node is not None and node is not ref.scope.expression:
            if isinstance(node, exp.Window):
                return "a window aggregate returns it row by row"
            node = node.parent
        if _correlated(ref.scope, resolution):
            return "a correlated or LATERAL subquery computes it once per outer row"
        held_by = next(
            r.source.table for r in ref.references if r.depth == 0 and r.source.table is not None
        )
        return self.grouping_problem(ref.scope, resolution, held_by)

    def grouping_problem(self, scope: Scope, resolution: Resolution, held_by: Table) -> str:
        """Why the grouping of ``scope`` could single out a row of ``held_by`` (empty: it
        cannot)."""
        select = scope.expression
        if not isinstance(select, exp.Select):
            return ""
        group = select.args.get("group")
        if not group:
            return ""
        refs = resolution.by_node()
        grouped: dict[int, tuple[Table, set[str]]] = {}
        for expression in _grouping_expressions(select, group):
            columns = [expression] if isinstance(expression, exp.Column) else []
            for column in columns + list(expression.find_all(exp.Column)):
                ref = refs.get(id(column))
                for reference in ref.references if ref is not None else []:
                    table = reference.source.table
                    if table is not None and reference.depth == 0:
                        entry = grouped.setdefault(id(reference.source), (table, set()))
                        entry[1].add(
                            fold(reference.column.name if reference.column else column.name)
                        )
        for table, names in grouped.values():
            for key in _row_identifiers(table, held_by, self.dialect, self.access.catalog):
                if key and key <= names:
                    shown = ", ".join(sorted(key))
                    return f"grouping by {shown} of {table.name} would list it row by row"
        return ""


def _read(source: Source, name: str) -> str:
    """The folded name of the catalog column ``name`` reads through ``source`` (renames of
    ``AS x(a, b)`` applied); the name itself when the catalog has none."""
    column = source.column(name, case_sensitive=False)
    return fold(column.name if column is not None else name)


def _grouping_expressions(select: exp.Select, group: exp.Group) -> list[exp.Expr]:
    """What a GROUP BY groups by: ordinals and select aliases mapped to the select items,
    ``ALL`` to every select item, ROLLUP/CUBE/GROUPING SETS to everything inside them."""
    items = select.expressions
    by_alias = {e.alias.lower(): e.this for e in items if isinstance(e, exp.Alias)}
    found: list[exp.Expr] = []
    if group.args.get("all"):
        found.extend(items)
    for node in group.walk():
        if isinstance(node, exp.Literal) and node.is_int:
            index = int(node.this)
            if 1 <= index <= len(items):
                found.append(items[index - 1])
        elif isinstance(node, exp.Column) and not node.table:
            if node.name.lower() in by_alias:
                found.append(by_alias[node.name.lower()])
            found.append(node)
        elif isinstance(node, exp.Column):
            found.append(node)
    return found


def _row_identifiers(
    table: Table, held_by: Table, dialect: str, catalog: Catalog
) -> list[set[str]]:
    """Column sets of ``table`` whose values identify one row of it, or one row of ``held_by``
    (a foreign key that leads to ``held_by``, directly or through other tables' keys)."""
    keys = [{fold(c) for c in table.primary_key}] if table.primary_key else []
    keys += [{fold(c) for c in unique} for unique in table.unique]
    if not table.primary_key:
        # A table with no declared key (Spark keeps none) is taken to be keyed by the column a
        # key usually has: ``id`` or ``<table>_id``.
        keys += [
            {fold(c.name)}
            for c in table.columns
            if c.name.lower() in {"id", f"{table.bare_name.lower()}_id"}
        ]
    if dialect == "sqlite":
        keys += [{name} for name in SQLITE_ROWID]
    elif dialect == "duckdb":
        keys.append({"rowid"})
    for fk in table.foreign_keys:
        if _leads_to(fk.ref_table, held_by, catalog, set()):
            keys.append({fold(c) for c in fk.columns})
    return keys


def _leads_to(name: str, target: Table, catalog: Catalog, seen: set[str]) -> bool:
    """Whether the table ``name`` is ``target`` or points to it through foreign keys."""
    if fold(name) == fold(target.name):
        return True
    if fold(name) in seen:
        return False
    seen.add(fold(name))
    table = catalog.table(name)
    return table is not None and any(
        _leads_to(fk.ref_table, target, catalog, seen) for fk in table.foreign_keys
    )


def _correlated(scope: Scope, resolution: Resolution) -> bool:
    """Whether a name of ``scope`` (or a scope inside it) reaches a source of an outer scope,
    or ``scope`` is a LATERAL subquery."""
    if isinstance(scope.expression.parent, exp.Lateral) or (
        isinstance(scope.expression.parent, exp.Subquery)
        and isinstance(scope.expression.parent.parent, exp.Lateral)
    ):
        return True
    for ref in resolution.columns:
        if any(r.depth > 0 for r in ref.references):
            inner: Scope | None = ref.scope
            levels = 0
            while inner is not None and inner is not scope:
                inner = inner.parent
                levels += 1
            if inner is scope and any(r.depth > levels for r in ref.references):
                return True
    return False
