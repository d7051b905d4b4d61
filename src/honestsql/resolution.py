"""What the scope resolver (``honestsql.resolve``) finds: the sources each scope sees and every
table, column, star and whole-row reference of a query, placed."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from honestsql.catalog import Column, Table
from honestsql.findings import Finding


@dataclass
class Source:
    """What a name in a FROM clause stands for, as one scope sees it."""

    alias: str
    #: The catalog object a base-table reference resolves to (``None``: not one, or unknown).
    table: Table | None = None
    #: The ``exp.Table`` node of a base-table reference.
    node: exp.Table | None = None
    #: Output names of a derived source; ``None`` when unknown (any name may come from it).
    names: frozenset[str] | None = None
    #: Columns the engine adds to every row of a base table (SQLite's ``rowid``).
    implicit: frozenset[str] = frozenset()
    #: Column names given with the alias (``employees AS x(a, b, c)``), in order: they rename
    #: the table's first columns, so ``x.c`` reads the third column whatever its own name.
    renamed: tuple[str, ...] = ()

    @property
    def base(self) -> bool:
        return self.node is not None

    def column(self, name: str, case_sensitive: bool) -> Column | None:
        """The catalog column ``name`` reads through this source (renames applied)."""
        if self.table is None:
            return None
        if name.lower() in self.implicit:
            return Column(name=name.lower(), type="INTEGER", primary_key=True)
        if self.renamed:
            wanted = name if case_sensitive else name.lower()
            columns = self.table.columns
            for index, given in enumerate(self.renamed):
                if (given if case_sensitive else given.lower()) == wanted:
                    return columns[index] if index < len(columns) else None
            rest = columns[len(self.renamed) :]
            return next(
                (c for c in rest if (c.name if case_sensitive else c.name.lower()) == wanted), None
            )
        return self.table.column(name, case_sensitive=case_sensitive)

    def may_have(self, name: str, case_sensitive: bool) -> bool:
        """Whether a column ``name`` can come from this source."""
        if self.table is not None:
            return self.column(name, case_sensitive) is not None
        if self.base:
            return False  # a base table the catalog does not know: reported on its own
        if self.names is None:
            return True
        if case_sensitive:
            return name in self.names
        return name.lower() in {n.lower() for n in self.names}

    @property
    def known(self) -> bool:
        return self.table is not None or self.names is not None


@dataclass
class Reference:
    """One resolution of a column reference: the source and catalog column it may read."""

    source: Source
    column: Column | None
    #: How many scopes out the source is (0: the column's own scope; more: correlated).
    depth: int


@dataclass
class ColumnRef:
    """A column reference, the scope it belongs to and everything it may mean."""

    node: exp.Column
    scope: Scope
    #: Every source column the name may read at the innermost level that has it (more than
    #: one when ambiguous: the checks count each).
    references: list[Reference] = field(default_factory=list)
    #: The name is also a select alias of its scope (it may mean that instead).
    alias: bool = False
    #: The name is a source alias used as a value: the whole row (PostgreSQL).
    whole_rows: list[Source] = field(default_factory=list)


@dataclass
class StarRef:
    """A ``*`` or ``t.*`` and the sources whose every column it reads."""

    node: exp.Expr
    sources: list[Source]


@dataclass
class Resolution:
    tree: exp.Expr
    scopes: list[Scope]
    #: Every base-table reference (not a visible CTE) with the catalog table it resolves to.
    tables: list[tuple[exp.Table, Table | None]]
    columns: list[ColumnRef]
    stars: list[StarRef]
    #: Sources of each scope by folded alias, keyed by ``id(scope)``.
    sources: dict[int, dict[str, Source]]
    problems: list[Finding]
    _by_node: dict[int, ColumnRef] | None = field(default=None, repr=False)

    def by_node(self) -> dict[int, ColumnRef]:
        """The column references by ``id`` of their node."""
        if self._by_node is None:
            self._by_node = {id(ref.node): ref for ref in self.columns}
        return self._by_node

    def chain(self, scope: Scope) -> list[dict[str, Source]]:
        """The sources a name in ``scope`` can see, innermost scope first."""
        levels = []
        current: Scope | None = scope
        while current is not None:
            levels.append(self.sources.get(id(current), {}))
            current = current.parent
        return levels
