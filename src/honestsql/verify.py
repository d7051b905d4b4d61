"""Schema-grounded verification without any LLM: does this query mean something in this database?

Reads the scope resolver (``honestsql.resolve``): every table must exist (or be a CTE visible
where it is named), every column must resolve to exactly one source in its scope (or an
enclosing one, for correlated subqueries), a reference that cannot be placed is an error, and literals
compared with columns should fit the column's type. Findings are structured data with
suggestions of the closest real names.
"""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.scope import Scope

from honestsql.catalog import Catalog, Column, Table
from honestsql.db import dialects
from honestsql.findings import Finding
from honestsql.resolve import ColumnRef, Reference, Resolution, Source, resolve, visible_cte
from honestsql.sqltypes import literal_problem
from honestsql.suggest import closest, singular, table_column_texts


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

    def resolve(self, expression: exp.Expr) -> Resolution:
        """Resolve ``expression`` (a copy of it) and check every reference; the resolution's
        ``tree`` is the copy the node ids of ``resolved`` refer to."""
        resolution = resolve(expression, self.catalog, self.dialect)
        self.findings.extend(resolution.problems)
        self.check_tables(resolution)
        self.check_columns(resolution)
        return resolution

    # --- tables ------------------------------------------------------------------------------

    def check_tables(self, resolution: Resolution) -> None:
        reported: set[str] = set()
        for table, found in resolution.tables:
            if found is not None:
                continue
            name = table.name
            shown = ".".join(p for p in (table.catalog, table.db, name) if p)
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

    def check_columns(self, resolution: Resolution) -> None:
        for ref in resolution.columns:
            if isinstance(ref.scope.expression, exp.SetOperation) and not ref.node.table:
                # ORDER BY of a UNION names its output columns, and nothing else.
                outputs = {n.lower() for n in ref.scope.expression.named_selects}
                if ref.node.name.lower() not in outputs:
                    self._unknown_column(ref.node, [], qualified=False)
                continue
            self._check_column(ref, resolution)

    def _check_column(self, ref: ColumnRef, resolution: Resolution) -> None:
        column = ref.node
        name = column.name
        chain = resolution.chain(ref.scope)
        if column.table:
            if not ref.references:
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
            source = ref.references[0].source
            if source.may_have(name, self.case_sensitive):
                self._remember(column, ref.references[0])
                return
            self._unknown_column(column, [source], qualified=True, nearby=list(chain[0].values()))
            return
        if ref.references:
            definite = [r for r in ref.references if r.source.known]
            if (
                len(definite) > 1
                and len(definite) == len(ref.references)
                and not _joined_using(ref.scope, name)
            ):
                self.findings.append(
                    Finding(
                        "ambiguous_column",
                        f"Column {name!r} is in more than one table of this query "
                        f"({', '.join(r.source.alias for r in definite)}); qualify it.",
                        suggestions=[f"{r.source.alias}.{name}" for r in definite],
                        subject=name,
                    )
                )
                return
            if len(definite) == 1:
                self._remember(column, definite[0])
            return
        if ref.alias or ref.whole_rows:
            return
        self._unknown_column(column, list(chain[0].values()), qualified=False)

    def _remember(self, column: exp.Column, reference: Reference) -> None:
        if reference.source.table is not None and reference.column is not None:
            self.resolved[id(column)] = reference.column
            self.resolved_tables[id(column)] = reference.source.table

    def _unknown_column(
        self,
        column: exp.Column,
        in_scope: list[Source],
        *,
        qualified: bool,
        nearby: list[Source] | None = None,
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
        hint = self._owner_hint(name, in_scope if nearby is None else nearby)
        if column.this.args.get("quoted") and dialects.named(self.dialect).quote_name("")[0] == '"':
            hint = " Double quotes name identifiers; write text values in single quotes."
        self.findings.append(
            Finding(
                "unknown_column",
                f"There is no column {column.sql(self.dialect)!r} in {tables}.{hint}",
                suggestions=suggestions,
                subject=column.sql(self.dialect),
            )
        )

    def _owner_hint(self, name: str, in_scope: list[Source]) -> str:
        """Where a column of that exact name is: under an alias of this query, or in a table to
        join (the repair message a small model needs to fix ``oi.ordered_at``)."""
        owners = [
            t.name
            for t in self.catalog.tables
            if any(c.name.lower() == name.lower() for c in t.columns)
        ]
        if not owners:
            return ""
        here = [s.alias for s in in_scope if s.table is not None and s.table.name in owners]
        if here:
            return f" {name} is a column of {here[0]} here: write {here[0]}.{name}."
        joins = " or ".join(owners[:3])
        return f" {name} is a column of {joins}: JOIN {owners[0]} ON ... to use it."

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

    # --- arithmetic on identifiers ------------------------------------------------------------

    def check_arithmetic(self, tree: exp.Expr) -> None:
        """An average, a sum or arithmetic over an identifier (``AVG(jid)``, ``rid - 2``): a
        number that names a row has no size, so the query answers another question. Of the
        candidates of the 1.5B `full` run that ran, 23 did this; none was right."""
        for node in tree.find_all(exp.Avg, exp.Sum, exp.Add, exp.Sub, exp.Mul, exp.Div):
            whole = isinstance(node, exp.Avg | exp.Sum)
            for operand in [node.this] if whole else [node.this, node.expression]:
                while isinstance(operand, exp.Cast | exp.Paren):
                    operand = operand.this
                column = self.resolved.get(id(operand))
                if column is None or not _identifier(column, self.catalog):
                    continue
                name = operand.sql(self.dialect)
                self.findings.append(
                    Finding(
                        "identifier_arithmetic",
                        f"{node.sql(self.dialect)}: {name} is an identifier, and a number that "
                        "names a row has no size to add or average.",
                        severity="warning",
                        subject=name,
                    )
                )


#: Names of identifier columns: ``id``, ``..._id``; a table's name with ``id`` (``paperid``)
#: and one letter with ``id`` (``jid``) are checked against the catalog in ``_identifier``.
_ID_NAME = re.compile(r"^(?:id|.+_id)$", re.IGNORECASE)


def _identifier(column: Column, catalog: Catalog) -> bool:
    """Whether a column names rows rather than measures them, by its name: ``id``, ``..._id``,
    a table's name and ``id`` (``paperid``), or an integer named by a table's initial and
    ``id`` (``jid`` beside a table ``journal``)."""
    name = column.name.lower()
    if _ID_NAME.match(name):
        return True
    if not name.endswith("id") or len(name) < 3:
        return False
    stem, tables = name[:-2], [t.name.lower() for t in catalog.tables]
    if any(stem in (t, singular(t)) for t in tables):
        return True
    return (
        len(stem) == 1 and "INT" in column.type.upper() and any(t.startswith(stem) for t in tables)
    )


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
    verifier = Verifier(catalog, dialect)
    resolution = verifier.resolve(expression)
    verifier.check_types(resolution.tree)
    verifier.check_arithmetic(resolution.tree)
    return sorted(verifier.findings, key=lambda f: f.severity != "error")


def qualify_tables(expression: exp.Query, catalog: Catalog, dialect: str) -> exp.Query:
    """A copy of a verified query in which every base table of the default schema carries the
    schema name, so the database resolves each name to exactly the table that was verified
    (PostgreSQL searches ``pg_catalog`` before the search path for unqualified names). A name
    is left alone only where a CTE of that name is visible, as the resolver decides."""
    tree = expression.copy()
    if not catalog.default_schema:
        return tree
    normalized = normalize_identifiers(tree.copy(), dialect=dialect)
    for table, folded in zip(list(tree.walk()), list(normalized.walk()), strict=True):
        if (
            isinstance(table, exp.Table)
            and isinstance(folded, exp.Table)
            and isinstance(table.this, exp.Identifier)
            and not table.db
            and visible_cte(folded) is None
        ):
            table.set("db", exp.to_identifier(catalog.default_schema, quoted=True))
    return tree
