"""The schema model: tables, columns, types, keys, comments, descriptions, samples, row counts.

Only the model lives here. Reading it from a database is ``honestsql.db.introspect``, caching it
on disk is ``honestsql.cache``, reading human descriptions is ``honestsql.descriptions``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, PrivateAttr

#: Markers of the column types that hold text (sampled, indexed for values, compared as text).
TEXT_TYPE_MARKERS = ("CHAR", "TEXT", "CLOB", "STRING", "ENUM")


def is_text_type(type_text: str) -> bool:
    """Whether a column of this declared type holds text."""
    upper = type_text.upper()
    return any(marker in upper for marker in TEXT_TYPE_MARKERS)


class Column(BaseModel):
    name: str
    type: str
    nullable: bool = True
    primary_key: bool = False
    comment: str | None = None
    description: str | None = None
    samples: list[str] = Field(default_factory=list)
    #: The access policy lets it be used only inside AVG, SUM or COUNT (``honestsql.policy``).
    aggregate_only: bool = False
    #: The table is partitioned by this column (Spark): a filter on it skips whole partitions.
    partition: bool = False

    @property
    def is_text(self) -> bool:
        return is_text_type(self.type)


class ForeignKey(BaseModel):
    columns: list[str]
    ref_table: str
    ref_columns: list[str]


class Table(BaseModel):
    name: str
    columns: list[Column]
    primary_key: list[str] = Field(default_factory=list)
    foreign_keys: list[ForeignKey] = Field(default_factory=list)
    #: Column sets declared UNIQUE (constraints and unique indexes), besides the primary key.
    unique: list[list[str]] = Field(default_factory=list)
    #: The tables this one inherits from or is a partition of (PostgreSQL), nearest first.
    inherits: list[str] = Field(default_factory=list)
    comment: str | None = None
    description: str | None = None
    row_count: int | None = None
    #: True when ``row_count`` comes from the database's statistics rather than COUNT(*).
    row_count_estimated: bool = False
    is_view: bool = False
    #: The schema of a table exposed from outside the default schema (``--schemas``); its
    #: ``name`` is then qualified (``sales.orders``). ``None`` for the default schema.
    schema_name: str | None = None

    @property
    def bare_name(self) -> str:
        """The name without its schema (``orders`` for ``sales.orders``)."""
        if self.schema_name is None:
            return self.name
        return self.name[len(self.schema_name) + 1 :]

    @property
    def known_empty(self) -> bool:
        """Counted and found empty. An estimate of none (a table never analyzed, or statistics
        gone stale) says nothing: its rows are sampled and its count is not shown."""
        return self.row_count == 0 and not self.row_count_estimated

    # Lookup indexes, built on first use (building them for every table on load is slow).
    _by_name: dict[str, Column] | None = PrivateAttr(default=None)
    _by_folded: dict[str, Column] = PrivateAttr(default_factory=dict)

    def column(self, name: str, *, case_sensitive: bool = False) -> Column | None:
        if self._by_name is None:
            self._by_name = {c.name: c for c in self.columns}
            self._by_folded = {c.name.lower(): c for c in self.columns}
        found = self._by_name.get(name)
        if found is None and not case_sensitive:
            found = self._by_folded.get(name.lower())
        return found


class Catalog(BaseModel):
    """Everything honestsql knows about one database's schema."""

    dialect: str
    fingerprint: str
    tables: list[Table]
    build_seconds: float = 0.0
    #: Column names compare case-sensitively (after sqlglot's normalization of the query).
    case_sensitive: bool = False
    #: Table names compare case-sensitively (MySQL on Linux, PostgreSQL).
    table_case_sensitive: bool = False
    #: The connection's default schema (``current_schema()``, MySQL's ``DATABASE()``, ``main``)
    #: and database (PostgreSQL's ``current_database()``, DuckDB's catalog): the only qualifiers
    #: an unexposed name may carry.
    default_schema: str = ""
    database_name: str = ""
    #: Schemas exposed besides the default one (``--schemas``); their tables are named
    #: ``schema.table``.
    exposed_schemas: list[str] = Field(default_factory=list)

    _by_name: dict[str, Table] | None = PrivateAttr(default=None)
    _by_folded: dict[str, Table] = PrivateAttr(default_factory=dict)

    def table(self, name: str) -> Table | None:
        if self._by_name is None:
            self._by_name = {t.name: t for t in self.tables}
            self._by_folded = {t.name.lower(): t for t in self.tables}
        found = self._by_name.get(name)
        if found is None and not self.table_case_sensitive:
            found = self._by_folded.get(name.lower())
        return found

    def _same(self, a: str, b: str) -> bool:
        return a == b if self.table_case_sensitive else a.lower() == b.lower()

    def _is_default_schema(self, schema: str) -> bool:
        """No schema given, or the connection's default one."""
        return not schema or bool(self.default_schema and self._same(schema, self.default_schema))

    def scope_problem(self, schema: str = "", database: str = "") -> str | None:
        """Why a name qualified with ``database.schema`` is outside what this catalog exposes."""
        if database and not (self.database_name and self._same(database, self.database_name)):
            return f"the database {database!r} is not the one connected"
        if self._is_default_schema(schema):
            return None
        if any(self._same(schema, s) for s in self.exposed_schemas):
            return None
        return (
            f"the schema {schema!r} is not exposed (only {self.default_schema or 'the default'}"
            + "".join(f", {s}" for s in self.exposed_schemas)
            + "; expose more with --schemas)"
        )

    def resolve(self, name: str, schema: str = "", database: str = "") -> Table | None:
        """The table a possibly qualified name means, or ``None`` when it means none exposed."""
        if self.scope_problem(schema, database) is not None:
            return None
        if not self._is_default_schema(schema):
            return self.table(f"{schema}.{name}")
        found = self.table(name)
        return found if found is None or found.schema_name is None else None

    @property
    def column_count(self) -> int:
        return sum(len(t.columns) for t in self.tables)

    def describe(self, descriptions: dict[str, Any]) -> None:
        """Apply human descriptions: ``{table: {"description": str, "columns": {col: str}}}``."""
        for table_name, entry in descriptions.items():
            table = self.table(table_name)
            if table is None:
                continue
            if isinstance(entry, str):
                table.description = entry
                continue
            if entry.get("description"):
                table.description = str(entry["description"])
            for column_name, text in (entry.get("columns") or {}).items():
                column = table.column(column_name)
                if column is not None and text:
                    column.description = str(text)
