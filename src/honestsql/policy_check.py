"""The query check of an access policy (``honestsql.policy``): why a query may not run.

Walks sqlglot's scopes, so a denied column is found wherever it hides: subqueries, CTEs,
``SELECT *`` and ``t.*``, whole-row references, ``USING`` and ``NATURAL`` joins, correlated
subqueries (an unqualified name counts against every restricted table in reach).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.scope import Scope, traverse_scope

from honestsql.catalog import Table
from honestsql.findings import Finding

if TYPE_CHECKING:
    from honestsql.policy import Access

#: The aggregates an ``aggregate_only`` column may be the argument of.
AGGREGATES = (exp.Avg, exp.Sum, exp.Count)


def fold(name: str) -> str:
    """Policy names compare case-insensitively: a policy never misses another spelling."""
    return name.lower()


def problems(access: Access, expression: exp.Expr, dialect: str) -> list[Finding]:
    """Why ``expression`` may not run under ``access`` (empty: it may)."""
    return _Checker(access, dialect).run(expression)


class _Checker:
    def __init__(self, access: Access, dialect: str) -> None:
        self.access = access
        self.dialect = dialect
        self.catalog = access.catalog
        self.findings: dict[str, Finding] = {}

    def deny(self, message: str, subject: str) -> None:
        self.findings.setdefault(message, Finding("denied", message, subject=subject))

    def table(self, node: exp.Table) -> Table | None:
        if not isinstance(node.this, exp.Identifier):
            return None
        return self.catalog.resolve(node.name, node.db, node.catalog)

    def run(self, expression: exp.Expr) -> list[Finding]:
        tree = normalize_identifiers(expression.copy(), dialect=self.dialect)
        ctes = {fold(cte.alias_or_name) for cte in tree.find_all(exp.CTE)}
        for node in tree.find_all(exp.Table):
            if not node.db and fold(node.name) in ctes:
                continue
            table = self.table(node)
            if table is not None and fold(table.name) in self.access.denied_tables:
                why = self.access.denied_views.get(table.name)
                self.deny(
                    f"The policy denies {table.name!r}"
                    + (f" (a view: {why})" if why else "")
                    + ".",
                    table.name,
                )
        try:
            scopes = list(traverse_scope(tree))
        except OptimizeError:
            if any(
                (t := self.table(n)) is not None and self.access.restricted(t)
                for n in tree.find_all(exp.Table)
            ):
                self.deny(
                    "The query reads a table the policy restricts, in a shape that "
                    "cannot be analysed; write it more simply.",
                    "",
                )
            return list(self.findings.values())
        for scope in scopes:
            self.scope(scope)
        return list(self.findings.values())

    def sources(self, scope: Scope) -> list[tuple[str, Table]]:
        """(alias, table) for each restricted table visible from ``scope``, innermost first."""
        found = []
        current: Scope | None = scope
        while current is not None:
            for alias, source in current.sources.items():
                table = self.table(source) if isinstance(source, exp.Table) else None
                if table is not None and self.access.restricted(table):
                    found.append((fold(alias), table))
            current = current.parent
        return found

    def scope(self, scope: Scope) -> None:
        restricted = self.sources(scope)
        if not restricted:
            return
        select = scope.expression
        if isinstance(select, exp.Select):
            direct = {alias for alias, src in scope.sources.items() if isinstance(src, exp.Table)}
            for projection in select.expressions:
                star = isinstance(projection, exp.Star)
                qualified = isinstance(projection, exp.Column) and isinstance(
                    projection.this, exp.Star
                )
                for alias, table in restricted:
                    if (star and alias in direct) or (
                        qualified and alias == fold(projection.table)
                    ):
                        self.deny(
                            f"{projection.sql(self.dialect)} would read columns the policy "
                            f"restricts in {table.name}; name the columns instead.",
                            table.name,
                        )
            for join in select.args.get("joins") or []:
                if "NATURAL" in (join.args.get("kind") or "", join.args.get("method") or ""):
                    self.deny(
                        "A NATURAL join over a table the policy restricts could join on a "
                        "denied column; join ON named columns.",
                        "",
                    )
                for ident in join.args.get("using") or []:
                    self.column_name(fold(ident.name), restricted, None, scope)
        for column in scope.columns:
            if column.find_ancestor(exp.Select, exp.SetOperation) is not scope.expression:
                continue
            if isinstance(column.this, exp.Star):
                continue  # judged with the projections above
            qualifier = fold(column.table)
            name = fold(column.name)
            tables = [(a, t) for a, t in restricted if not qualifier or a == qualifier]
            if not qualifier and any(alias == name for alias, _ in restricted):
                self.deny(
                    f"{column.name!r} reads whole rows of a table the policy restricts; "
                    "name the columns instead.",
                    column.name,
                )
            self.column_name(name, tables, column, scope)

    def column_name(
        self, name: str, tables: list[tuple[str, Table]], column: exp.Column | None, scope: Scope
    ) -> None:
        for _, table in tables:
            key = fold(table.name)
            if name in self.access.denied_columns.get(key, set()):
                self.deny(f"The policy denies {table.name}.{name}.", f"{table.name}.{name}")
            elif name in self.access.aggregate_only.get(key, set()):
                problem = self.aggregate_problem(column, table, scope)
                if problem:
                    self.deny(
                        f"The policy lets {table.name}.{name} be used only as AVG, SUM or "
                        f"COUNT of it: {problem}.",
                        f"{table.name}.{name}",
                    )

    def aggregate_problem(self, column: exp.Column | None, table: Table, scope: Scope) -> str:
        if column is None:
            return "it cannot be a join key"
        parent = column.parent
        if isinstance(parent, exp.Distinct):
            parent = parent.parent
        if not isinstance(parent, AGGREGATES):
            return "here it would be read row by row"
        if isinstance(parent.parent, exp.Window):
            return "a window aggregate returns it row by row"
        # A table with no declared key (Spark keeps none) is taken to be keyed by the column a
        # key usually has: ``id`` or ``<table>_id``.
        keys = {fold(k) for k in table.primary_key} or {
            fold(c.name)
            for c in table.columns
            if c.name.lower() in {"id", f"{table.bare_name.lower()}_id"}
        }
        group = (
            scope.expression.args.get("group") if isinstance(scope.expression, exp.Select) else None
        )
        for grouped in group.find_all(exp.Column) if group else []:
            if fold(grouped.name) in keys:
                return f"grouping by the key {grouped.name} would list it row by row"
        return ""
