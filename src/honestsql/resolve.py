"""The scope resolver that every check reads: each table, column, star and whole-row reference of
a query placed in its own scope, fail closed.

sqlglot's scopes give the structure (which SELECT a name belongs to, which sources it sees), but
a check that walks them as they are misses names: ``Scope.columns`` leaves out unqualified names
in HAVING and QUALIFY and ORDER BY names that match a select alias, and a table named like a
CTE anywhere in the query is easy to take for that CTE in every scope. Here:

- a table reference is a CTE only where that CTE is visible (its own WITH and the scopes below
  it, earlier CTEs of the same WITH, itself when RECURSIVE); every other one is a base table
  that must resolve to an exposed catalog object;
- every ``exp.Column`` node of the tree is assigned to the innermost scope around it and
  resolved there, in every clause; a name that could mean more than one thing (a select alias
  and a column, columns of two tables) counts as every one of them;
- every star (``*``, ``t.*`` anywhere, inside functions and casts; DuckDB's positional ``#6``
  counts as one) and every whole-row
  reference (``SELECT c FROM customers c``) is listed with the sources it covers.

The guard's companions (verification, the access policy, schema qualification) all read this
one ``Resolution``; a reference it cannot place is a ``Finding`` of kind ``unresolved``.
"""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.scope import Scope, traverse_scope

from honestsql.catalog import Catalog, Table
from honestsql.findings import Finding
from honestsql.resolution import ColumnRef, Reference, Resolution, Source, StarRef

__all__ = [
    "SQLITE_ROWID",
    "ColumnRef",
    "Reference",
    "Resolution",
    "Source",
    "StarRef",
    "resolve",
    "visible_cte",
]

#: Columns every SQLite table has without declaring them (they identify one row).
SQLITE_ROWID = frozenset({"rowid", "oid", "_rowid_"})
#: Nodes that read a table's metadata or reshape it outside what the resolver can follow.
METADATA_NODES: tuple[type[exp.Expr], ...] = tuple(
    getattr(exp, name) for name in ("Summarize", "Describe", "Show") if hasattr(exp, name)
)


def _fold(name: str, case_sensitive: bool) -> str:
    return name if case_sensitive else name.lower()


def visible_cte(node: exp.Table) -> exp.CTE | None:
    """The CTE an unqualified table name refers to where it stands, if any.

    A CTE is visible in the main body of its WITH and everything below it; inside the body of
    the n-th CTE only the earlier ones are (and the n-th itself when the WITH is RECURSIVE).
    """
    if node.args.get("db") or node.args.get("catalog") or not isinstance(node.this, exp.Identifier):
        return None
    name = node.name
    child: exp.Expr = node
    parent = node.parent
    while parent is not None:
        if isinstance(parent, exp.With):
            ctes = [c for c in parent.expressions if isinstance(c, exp.CTE)]
            inside = child if isinstance(child, exp.CTE) else None
            if inside is not None and inside in ctes:
                index = next(i for i, c in enumerate(ctes) if c is inside)
                visible = ctes[: index + 1] if parent.args.get("recursive") else ctes[:index]
            else:
                visible = ctes
            for cte in reversed(visible):
                if cte.alias_or_name == name:
                    return cte
        else:
            with_ = parent.args.get("with_") if isinstance(parent, exp.Expr) else None
            if isinstance(with_, exp.With) and child is not with_:
                for cte in reversed(with_.expressions):
                    if isinstance(cte, exp.CTE) and cte.alias_or_name == name:
                        return cte
        child, parent = parent, parent.parent
    return None


def _output_names(scope: Scope) -> frozenset[str] | None:
    expression = scope.expression
    holder = expression.parent
    while isinstance(holder, exp.SetOperation):
        holder = holder.parent
    alias = holder.args.get("alias") if isinstance(holder, exp.Subquery | exp.CTE) else None
    if isinstance(alias, exp.TableAlias) and alias.columns:
        return frozenset(c.name for c in alias.columns)
    while isinstance(expression, exp.SetOperation):
        expression = expression.left
    if not isinstance(expression, exp.Select):
        return None
    if any(
        isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))
        for e in expression.expressions
    ):
        return None
    return frozenset(expression.named_selects)


def select_aliases(scope: Scope) -> list[str]:
    expression = scope.expression
    if isinstance(expression, exp.Select):
        return [e.alias for e in expression.expressions if isinstance(e, exp.Alias)]
    return []


class _Resolver:
    def __init__(self, catalog: Catalog, dialect: str) -> None:
        self.catalog = catalog
        self.dialect = dialect
        self.case_sensitive = catalog.case_sensitive
        self.problems: list[Finding] = []
        self._reported: set[str] = set()

    def problem(self, message: str, subject: str) -> None:
        if message not in self._reported:
            self._reported.add(message)
            self.problems.append(Finding("unresolved", message, subject=subject))

    def table(self, node: exp.Table) -> Table | None:
        return self.catalog.resolve(node.name, node.db, node.catalog)

    def sources(self, scope: Scope, cte_scopes: dict[int, Scope]) -> dict[str, Source]:
        found: dict[str, Source] = {}
        implicit = SQLITE_ROWID if self.dialect == "sqlite" else frozenset()
        for alias, (node, source) in scope.selected_sources.items():
            key = _fold(alias, self.case_sensitive)
            if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
                cte = visible_cte(node)
                if cte is None:
                    if isinstance(source, Scope):
                        # sqlglot took a table name for an outer source (a LATERAL sibling);
                        # the database reads the table of that name.
                        self.problem(
                            f"The table name {node.name!r} is also the name of another source "
                            "in reach; rename the alias.",
                            node.name,
                        )
                    alias_node = node.args.get("alias")
                    renamed = tuple(
                        c.name
                        for c in (
                            alias_node.columns if isinstance(alias_node, exp.TableAlias) else []
                        )
                    )
                    found[key] = Source(
                        alias, table=self.table(node), node=node, implicit=implicit, renamed=renamed
                    )
                    continue
                cte_scope = cte_scopes.get(id(cte.this.unnest()))
                if cte_scope is None and isinstance(cte.this, exp.SetOperation):
                    cte_scope = cte_scopes.get(id(cte.this.this))
                found[key] = Source(
                    alias,
                    names=_output_names(cte_scope) if cte_scope is not None else None,
                )
            elif isinstance(source, Scope):
                found[key] = Source(alias, names=_output_names(source))
            else:
                found[key] = Source(alias)  # a table function, VALUES, UNNEST: columns unknown
        return found

    def run(self, expression: exp.Expr) -> Resolution:
        tree = normalize_identifiers(expression.copy(), dialect=self.dialect)
        try:
            scopes = list(traverse_scope(tree))
            by_expression = {id(s.expression): s for s in scopes}
            # A scope's sources are read lazily: a FROM that names one alias twice fails here.
            sources = {id(s): self.sources(s, by_expression) for s in scopes}
        except (OptimizeError, RecursionError, KeyError, ValueError) as exc:
            twice = re.match(r"Alias already used: (.+)", str(exc))  # sqlglot's own words
            if twice:
                alias = twice.group(1)
                self.problem(
                    f"The alias {alias} names two tables of one FROM; give each its own.", alias
                )
            else:
                self.problem(
                    f"honestsql cannot place every name of this query in its scope ({exc}); "
                    "write it more simply.",
                    "",
                )
            return Resolution(tree, [], [], [], [], {}, self.problems)
        resolution = Resolution(tree, scopes, [], [], [], sources, self.problems)
        for node in tree.walk():  # one pass over every node
            if isinstance(node, exp.Table):
                if isinstance(node.this, exp.Identifier) and visible_cte(node) is None:
                    resolution.tables.append((node, self.table(node)))
            elif isinstance(node, exp.Column):
                self.place(node, by_expression, resolution)
            elif isinstance(node, exp.Star) or _positional(node):
                if isinstance(node.parent, exp.Column | exp.Count):
                    continue  # t.* is placed as a column; COUNT(*) counts rows, reads no column
                # DuckDB's #6 reads the sixth column of the FROM clause, whichever that is: it
                # counts as reading every column there, like a star.
                scope = _owner(node, by_expression)
                if scope is not None:
                    covered = list(sources.get(id(scope), {}).values())
                    resolution.stars.append(StarRef(node, covered))
            elif METADATA_NODES and isinstance(node, METADATA_NODES):
                name = type(node).__name__.upper()
                self.problem(
                    f"{name} inside a query reads a table's metadata; query the columns "
                    "themselves.",
                    name,
                )
        return resolution

    def place(
        self, column: exp.Column, by_expression: dict[int, Scope], resolution: Resolution
    ) -> None:
        scope = _owner(column, by_expression)
        if scope is None:
            self.problem(
                f"honestsql cannot tell which query {column.sql(self.dialect)!r} belongs "
                "to; write it more simply.",
                column.sql(self.dialect),
            )
        elif isinstance(column.this, exp.Star):
            self.star(column, scope, resolution)
        else:
            resolution.columns.append(self.column(column, scope, resolution))

    def star(self, column: exp.Column, scope: Scope, resolution: Resolution) -> None:
        qualifier = _fold(column.table, self.case_sensitive)
        for level in resolution.chain(scope):
            if qualifier in level:
                resolution.stars.append(StarRef(column, [level[qualifier]]))
                return
        self.problem(
            f"{column.sql(self.dialect)!r} names no table or alias in reach.",
            column.sql(self.dialect),
        )

    def column(self, column: exp.Column, scope: Scope, resolution: Resolution) -> ColumnRef:
        ref = ColumnRef(column, scope)
        name = column.name
        chain = resolution.chain(scope)
        if column.table:
            qualifier = _fold(column.table, self.case_sensitive)
            for depth, level in enumerate(chain):
                source = level.get(qualifier)
                if source is None:
                    continue
                if column.args.get("db") and not self._same_table(column, source):
                    self.problem(
                        f"{column.sql(self.dialect)!r} names a schema that is not its "
                        "table's; qualify it with the table or its alias only.",
                        column.sql(self.dialect),
                    )
                ref.references.append(
                    Reference(source, source.column(name, self.case_sensitive), depth)
                )
                return ref
            return ref  # an unknown qualifier: verification reports it
        ref.alias = _fold(name, self.case_sensitive) in {
            _fold(a, self.case_sensitive) for a in select_aliases(scope)
        }
        for depth, level in enumerate(chain):
            matches = [s for s in level.values() if s.may_have(name, self.case_sensitive)]
            wholes = [s for alias, s in level.items() if alias == _fold(name, self.case_sensitive)]
            ref.whole_rows.extend(wholes)
            if matches:
                ref.references = [
                    Reference(s, s.column(name, self.case_sensitive), depth) for s in matches
                ]
                return ref
        return ref

    def _same_table(self, column: exp.Column, source: Source) -> bool:
        if source.table is None:
            return False
        table = self.catalog.resolve(column.table, column.db, column.catalog)
        return table is source.table


def _positional(node: exp.Expr) -> bool:
    kind = getattr(exp, "PositionalColumn", None)
    return kind is not None and isinstance(node, kind)


def _owner(node: exp.Expr, by_expression: dict[int, Scope]) -> Scope | None:
    parent = node.parent
    while parent is not None:
        scope = by_expression.get(id(parent))
        if scope is not None:
            return scope
        parent = parent.parent
    return None


def resolve(expression: exp.Expr, catalog: Catalog, dialect: str) -> Resolution:
    """Place every reference of ``expression`` (see the module's docstring)."""
    return _Resolver(catalog, dialect).run(expression)
