"""Schema-grounded verification without any LLM: does this query mean something in this database?

Works on sqlglot's scopes: every table must exist (or be a CTE), every column must resolve to
exactly one source in its scope (or an enclosing one, for correlated subqueries), and literals
compared with columns should fit the column's type. Findings are structured data with
suggestions of the closest real names.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import OptimizeError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.scope import Scope, traverse_scope

from honestsql.catalog import Catalog, Column, Table
from honestsql.findings import Finding
from honestsql.sqltypes import literal_problem
from honestsql.suggest import closest, table_column_texts

#: Stands for a source whose columns are not known (a VALUES list, a table function, a
#: subquery with ``SELECT *`` over an unknown table): any column name is accepted from it.
WILDCARD: frozenset[str] = frozenset({"*"})
_ROWID = frozenset({"rowid", "oid", "_rowid_"})


@dataclass
class _Source:
    """What a name in a FROM clause stands for."""

    alias: str
    table: Table | None = None
    names: frozenset[str] = WILDCARD
    #: Columns every table has without declaring them (SQLite's ``rowid``).
    implicit: frozenset[str] = frozenset()

    def has(self, column: str, case_sensitive: bool) -> bool:
        if self.table is not None:
            return column.lower() in self.implicit or (
                self.table.column(column, case_sensitive=case_sensitive) is not None
            )
        if self.names is WILDCARD:
            return True
        if case_sensitive:
            return column in self.names
        return column.lower() in {n.lower() for n in self.names}

    @property
    def known(self) -> bool:
        return self.table is not None or self.names is not WILDCARD


class Verifier:
    def __init__(self, catalog: Catalog, dialect: str) -> None:
        self.catalog = catalog
        self.dialect = dialect
        self.case_sensitive = catalog.case_sensitive
        self.findings: list[Finding] = []
        #: Columns resolved to a catalog column, for the type checks.
        self.resolved: dict[int, Column] = {}
        #: The same, with the table each resolved column belongs to.
        self.resolved_tables: dict[int, Table] = {}

    # --- tables ------------------------------------------------------------------------------

    def check_tables(self, tree: exp.Expr) -> None:
        ctes = {self._fold(cte.alias_or_name) for cte in tree.find_all(exp.CTE)}
        reported: set[str] = set()
        for table in tree.find_all(exp.Table):
            if not isinstance(table.this, exp.Identifier):
                continue  # a table function; the guard has already judged it
            name = table.name
            if not table.db and not table.catalog and self._fold(name) in ctes:
                continue
            shown = ".".join(p for p in (table.catalog, table.db, name) if p)
            if self.catalog.resolve(name, table.db, table.catalog) is not None:
                continue
            if shown in reported:
                continue
            reported.add(shown)
            problem = self.catalog.scope_problem(table.db, table.catalog)
            if problem is not None:
                self.findings.append(
                    Finding(
                        "unknown_table",
                        f"{shown!r} is outside what this connection exposes: {problem}.",
                        subject=shown,
                    )
                )
                continue
            self.findings.append(
                Finding(
                    "unknown_table",
                    f"There is no table {shown!r} in this database.",
                    suggestions=closest(name, {t.name: [t.name] for t in self.catalog.tables}),
                    subject=shown,
                )
            )

    # --- columns -----------------------------------------------------------------------------

    def _fold(self, name: str) -> str:
        return name if self.case_sensitive else name.lower()

    def _sources(self, scope: Scope) -> dict[str, _Source]:
        result: dict[str, _Source] = {}
        for alias, source in scope.sources.items():
            if isinstance(source, exp.Table):
                table = (
                    self.catalog.resolve(source.name, source.db, source.catalog)
                    if isinstance(source.this, exp.Identifier)
                    else None
                )
                implicit = _ROWID if self.dialect == "sqlite" else frozenset()
                result[self._fold(alias)] = _Source(alias, table=table, implicit=implicit)
            elif isinstance(source, Scope):
                result[self._fold(alias)] = _Source(alias, names=_output_names(source))
            else:
                result[self._fold(alias)] = _Source(alias)
        return result

    def check_columns(self, tree: exp.Expr) -> None:
        try:
            scopes = list(traverse_scope(tree))
        except OptimizeError:
            return  # sqlglot cannot scope it; the database will judge
        sources_of = {id(scope): self._sources(scope) for scope in scopes}
        for scope in scopes:
            if isinstance(scope.expression, exp.SetOperation):
                continue  # ORDER BY of a UNION names its output columns
            for column in scope.columns:
                if isinstance(column.this, exp.Star):
                    continue
                if column.find_ancestor(exp.Select, exp.SetOperation) is not scope.expression:
                    continue  # belongs to a nested scope, checked there
                self._check_column(column, scope, sources_of)

    def _visible(
        self, scope: Scope, sources_of: dict[int, dict[str, _Source]]
    ) -> list[dict[str, _Source]]:
        chain = []
        current: Scope | None = scope
        while current is not None:
            chain.append(sources_of.get(id(current)) or self._sources(current))
            current = current.parent
        return chain

    def _check_column(
        self, column: exp.Column, scope: Scope, sources_of: dict[int, dict[str, _Source]]
    ) -> None:
        name = column.name
        chain = self._visible(scope, sources_of)
        if column.table:
            qualifier = self._fold(column.table)
            source = next((level[qualifier] for level in chain if qualifier in level), None)
            if source is None:
                known = self.catalog.table(column.table)
                hint = (
                    f" Add it to the query (JOIN {known.name} ON ...) or take the value from a "
                    "table the query already uses."
                    if known is not None
                    else ""
                )
                self.findings.append(
                    Finding(
                        "unknown_table",
                        f"{column.table!r} in {column.sql(self.dialect)!r} is not a table or "
                        "alias in this query." + hint,
                        suggestions=closest(
                            column.table, {s.alias: [s.alias] for s in chain[0].values()}
                        ),
                        subject=column.table,
                    )
                )
                return
            if source.has(name, self.case_sensitive):
                self._remember(column, source)
                return
            self._unknown_column(column, [source], qualified=True)
            return
        for level in chain:
            matches = [s for s in level.values() if s.has(name, self.case_sensitive)]
            definite = [s for s in matches if s.known]
            if (
                len(definite) > 1
                and not _joined_using(scope, name)
                and len(matches) == len(definite)
            ):
                self.findings.append(
                    Finding(
                        "ambiguous_column",
                        f"Column {name!r} is in more than one table of this query "
                        f"({', '.join(s.alias for s in definite)}); qualify it.",
                        suggestions=[f"{s.alias}.{name}" for s in definite],
                        subject=name,
                    )
                )
                return
            if matches:
                if len(definite) == 1:
                    self._remember(column, definite[0])
                return
        if self._fold(name) in {self._fold(n) for n in _select_aliases(scope)}:
            return
        self._unknown_column(column, list(chain[0].values()), qualified=False)

    def _remember(self, column: exp.Column, source: _Source) -> None:
        if source.table is not None:
            found = source.table.column(column.name, case_sensitive=self.case_sensitive)
            if found is not None:
                self.resolved[id(column)] = found
                self.resolved_tables[id(column)] = source.table

    def _unknown_column(
        self, column: exp.Column, in_scope: list[_Source], *, qualified: bool
    ) -> None:
        name = column.name
        local: dict[str, list[str]] = {}
        for source in in_scope:
            if source.table is None:
                continue
            for col in source.table.columns:
                local[f"{source.alias}.{col.name}"] = table_column_texts(
                    source.table.name, col.name
                )
        suggestions = closest(name, local)
        if not suggestions and not qualified:
            everywhere = {
                f"{t.name}.{c.name}": table_column_texts(t.name, c.name)
                for t in self.catalog.tables
                for c in t.columns
            }
            suggestions = closest(name, everywhere)
        tables = ", ".join(s.alias for s in in_scope) or "no table"
        hint = ""
        if column.this.args.get("quoted") and self.dialect == "sqlite":
            hint = " Double quotes name identifiers; write text values in single quotes."
        self.findings.append(
            Finding(
                "unknown_column",
                f"There is no column {column.sql(self.dialect)!r} in {tables}.{hint}",
                suggestions=suggestions,
                subject=column.sql(self.dialect),
            )
        )

    # --- literal types -----------------------------------------------------------------------

    def check_types(self, tree: exp.Expr) -> None:
        for node in tree.find_all(
            exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In, exp.Between
        ):
            column = node.this if isinstance(node.this, exp.Column) else None
            if isinstance(node, exp.In | exp.Between):
                others = (
                    node.expressions
                    if isinstance(node, exp.In)
                    else [node.args.get("low"), node.args.get("high")]
                )
            else:
                other = node.expression
                if column is None and isinstance(node.expression, exp.Column):
                    column, other = node.expression, node.this
                others = [other]
            if column is None or id(column) not in self.resolved:
                continue
            catalog_column = self.resolved[id(column)]
            for literal in others:
                if isinstance(literal, exp.Neg):
                    literal = literal.this
                if isinstance(literal, exp.Literal):
                    problem = literal_problem(catalog_column.type, literal)
                    if problem:
                        self.findings.append(
                            Finding(
                                "type_mismatch",
                                f"{column.sql(self.dialect)} is {catalog_column.type} but is compared "
                                f"with {literal.sql(self.dialect)} ({problem}).",
                                severity="warning",
                                subject=column.sql(self.dialect),
                            )
                        )


def _output_names(scope: Scope) -> frozenset[str]:
    expression = scope.expression
    holder = expression.parent
    while isinstance(holder, exp.SetOperation):  # a recursive CTE: SELECT ... UNION ALL ...
        holder = holder.parent
    alias = holder.args.get("alias") if isinstance(holder, exp.Subquery | exp.CTE) else None
    if isinstance(alias, exp.TableAlias) and alias.columns:
        return frozenset(c.name for c in alias.columns)
    while isinstance(expression, exp.SetOperation):
        expression = expression.left
    if not isinstance(expression, exp.Select):
        return WILDCARD
    if any(
        isinstance(e, exp.Star) or (isinstance(e, exp.Column) and isinstance(e.this, exp.Star))
        for e in expression.expressions
    ):
        return WILDCARD
    return frozenset(expression.named_selects)


def _select_aliases(scope: Scope) -> list[str]:
    expression = scope.expression
    if isinstance(expression, exp.Select):
        return [e.alias for e in expression.expressions if isinstance(e, exp.Alias)]
    return []


def _joined_using(scope: Scope, name: str) -> bool:
    expression = scope.expression
    if not isinstance(expression, exp.Select):
        return False
    for join in expression.args.get("joins") or []:
        if (
            join.args.get("kind", "").upper() == "NATURAL"
            or join.args.get("method", "").upper() == "NATURAL"
        ):
            return True
        for ident in join.args.get("using") or []:
            if ident.name.lower() == name.lower():
                return True
    return False


def verify(expression: exp.Expr, catalog: Catalog, dialect: str) -> list[Finding]:
    """Check a parsed query against the catalog; returns errors first, then warnings."""
    tree = normalize_identifiers(expression.copy(), dialect=dialect)
    verifier = Verifier(catalog, dialect)
    verifier.check_tables(tree)
    verifier.check_columns(tree)
    verifier.check_types(tree)
    return sorted(verifier.findings, key=lambda f: f.severity != "error")


def qualify_tables(expression: exp.Query, catalog: Catalog) -> exp.Query:
    """A copy of a verified query in which every table of the default schema carries the schema
    name, so the database resolves each name to exactly the table that was verified
    (PostgreSQL searches ``pg_catalog`` before the search path for unqualified names)."""
    tree = expression.copy()
    if not catalog.default_schema:
        return tree
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if (
            isinstance(table.this, exp.Identifier)
            and not table.db
            and table.name.lower() not in ctes
        ):
            table.set("db", exp.to_identifier(catalog.default_schema, quoted=True))
    return tree
