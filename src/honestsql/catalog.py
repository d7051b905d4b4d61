"""The schema catalog: tables, columns, types, keys, comments, descriptions, samples, row counts.

Introspection goes through SQLAlchemy's inspector (its bulk ``get_multi_*`` calls, so a
PostgreSQL schema of thousands of tables costs a handful of queries). Sample values are read with
one query per table. The result is cached on disk as JSON, keyed by a fingerprint of the schema
(one query listing every table, column and type), so a changed schema is introspected again.
Human descriptions are applied after loading, so editing them never needs a rebuild.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs
import sqlalchemy as sa
import yaml
from pydantic import BaseModel, Field, PrivateAttr
from sqlalchemy.engine import Connection

from honestsql.errors import CatalogError

if TYPE_CHECKING:
    from honestsql.db.dialects import Dialect

#: Bump when the cached JSON layout or the sampling changes, so old caches are ignored.
CACHE_VERSION = 3
SAMPLE_ROWS = 200
SAMPLES_PER_COLUMN = 5
SAMPLE_MAX_CHARS = 80


class Column(BaseModel):
    name: str
    type: str
    nullable: bool = True
    primary_key: bool = False
    comment: str | None = None
    description: str | None = None
    samples: list[str] = Field(default_factory=list)


class ForeignKey(BaseModel):
    columns: list[str]
    ref_table: str
    ref_columns: list[str]


class Table(BaseModel):
    name: str
    columns: list[Column]
    primary_key: list[str] = Field(default_factory=list)
    foreign_keys: list[ForeignKey] = Field(default_factory=list)
    comment: str | None = None
    description: str | None = None
    row_count: int | None = None
    #: True when ``row_count`` comes from the database's statistics rather than COUNT(*).
    row_count_estimated: bool = False
    is_view: bool = False
    #: The schema of a table exposed from outside the default schema (``--schemas``); its
    #: ``name`` is then qualified (``sales.orders``). ``None`` for the default schema.
    schema_name: str | None = None

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


def fingerprint(conn: Connection, dialect: Dialect) -> str:
    rows = conn.exec_driver_sql(dialect.fingerprint_sql).fetchall()
    digest = hashlib.sha256(f"v{CACHE_VERSION}".encode())
    for row in rows:
        digest.update(("\x1f".join("" if v is None else str(v) for v in row) + "\x1e").encode())
    return digest.hexdigest()[:24]


def introspect(
    conn: Connection,
    dialect: Dialect,
    *,
    samples: bool = True,
    schemas: Iterable[str] = (),
) -> Catalog:
    """Read the whole schema of the connection's default schema, plus the ``schemas`` exposed."""
    started = time.perf_counter()
    schema_fingerprint = fingerprint(conn, dialect)
    exposed = list(schemas)
    try:
        database_name, default_schema = dialect.current_names(conn)
        tables = dialect.read_tables(conn)
        for schema in exposed:
            tables += dialect.read_tables(conn, schema)
    except sa.exc.SQLAlchemyError as exc:
        detail = getattr(exc, "orig", None) or exc
        raise CatalogError(f"Could not read the schema: {str(detail).splitlines()[0]}") from None
    try:
        counts = dialect.row_counts(conn, [t.name for t in tables if not t.is_view], None)
    except sa.exc.SQLAlchemyError:
        counts = {}
    for table in tables:
        if table.schema_name is not None:
            if samples and not table.is_view:
                _sample(conn, dialect, table)
            continue
        if table.name in counts:
            table.row_count = counts[table.name]
            table.row_count_estimated = dialect.estimated_row_counts
        if samples and not table.is_view:
            _sample(conn, dialect, table)
    return Catalog(
        dialect=dialect.name,
        fingerprint=schema_fingerprint,
        tables=tables,
        build_seconds=round(time.perf_counter() - started, 4),
        case_sensitive=dialect.case_sensitive,
        table_case_sensitive=dialect.tables_case_sensitive(conn),
        default_schema=default_schema,
        database_name=database_name,
        exposed_schemas=exposed,
    )


_TEXT_MARKERS = ("CHAR", "TEXT", "CLOB", "STRING", "ENUM")


def _sample(conn: Connection, dialect: Dialect, table: Table) -> None:
    """Fill ``samples`` of the text columns with a few distinct values from the first rows."""
    text_columns = [c for c in table.columns if any(m in c.type.upper() for m in _TEXT_MARKERS)]
    if not text_columns or table.row_count == 0:
        return
    select = ", ".join(dialect.quote(c.name) for c in text_columns)
    source = dialect.quote(table.name)
    if table.schema_name is not None:
        bare = table.name[len(table.schema_name) + 1 :]
        source = f"{dialect.quote(table.schema_name)}.{dialect.quote(bare)}"
    sql = f"SELECT {select} FROM {source} LIMIT {SAMPLE_ROWS}"
    try:
        rows = conn.exec_driver_sql(sql).fetchall()
    except sa.exc.SQLAlchemyError:
        conn.rollback()  # an aborted PostgreSQL transaction would fail every later sample
        return
    for index, column in enumerate(text_columns):
        seen: dict[str, None] = {}
        for row in rows:
            value = row[index]
            if value is None:
                continue
            text = str(value)[:SAMPLE_MAX_CHARS]
            if text.strip():
                seen.setdefault(text)
            if len(seen) >= SAMPLES_PER_COLUMN:
                break
        column.samples = list(seen)


# --- on-disk cache ---------------------------------------------------------------------------


def cache_dir() -> Path:
    """Where catalogs are cached: ``$HONESTSQL_CACHE_DIR`` or the user cache directory."""
    configured = os.environ.get("HONESTSQL_CACHE_DIR")
    return Path(configured) if configured else Path(platformdirs.user_cache_dir("honestsql"))


def cache_path(key: str, kind: str = "catalogs") -> Path:
    return cache_dir() / kind / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.json"


def write_cache(path: Path, data: bytes) -> None:
    """Write a cache file atomically; a cache that cannot be written is not an error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError:
        pass


class _CacheEntry(BaseModel):
    cache_version: int
    fingerprint: str
    catalog: Catalog


def load_cached(key: str, current_fingerprint: str) -> Catalog | None:
    """The cached catalog for ``key`` if it was built for the same schema, else ``None``."""
    try:
        entry = _CacheEntry.model_validate_json(cache_path(key).read_bytes())
    except (OSError, ValueError):
        return None
    if entry.cache_version != CACHE_VERSION or entry.fingerprint != current_fingerprint:
        return None
    return entry.catalog


def store(key: str, catalog: Catalog) -> None:
    """Write the cache atomically; a cache that cannot be written is not an error."""
    entry = _CacheEntry(
        cache_version=CACHE_VERSION, fingerprint=catalog.fingerprint, catalog=catalog
    )
    write_cache(cache_path(key), entry.model_dump_json().encode())


# --- human descriptions ----------------------------------------------------------------------


def load_descriptions(source: str | Path) -> dict[str, Any]:
    """Read descriptions from a YAML/JSON file or a BIRD ``database_description`` folder.

    File layout: ``{"tables": {name: {"description": ..., "columns": {col: text}}}}`` (the
    ``tables`` wrapper is optional). Folder layout: one ``<table>.csv`` per table with the BIRD
    columns ``original_column_name, column_name, column_description, value_description``.
    """
    path = Path(source)
    if path.is_dir():
        return _bird_descriptions(path)
    if not path.is_file():
        raise CatalogError(f"The descriptions file {str(path)!r} does not exist.")
    try:
        data = yaml.safe_load(_read_text(path))
    except yaml.YAMLError as exc:
        raise CatalogError(
            f"The descriptions file {str(path)!r} is not valid YAML/JSON: {exc}"
        ) from None
    if isinstance(data, dict) and isinstance(data.get("tables"), dict):
        data = data["tables"]
    if not isinstance(data, dict):
        raise CatalogError(
            f"The descriptions file {str(path)!r} must map table names to "
            '{"description": ..., "columns": {column: description}}.'
        )
    return data


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")


def _bird_descriptions(folder: Path) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for csv_path in sorted(folder.glob("*.csv")):
        columns: dict[str, str] = {}
        reader = csv.DictReader(io.StringIO(_read_text(csv_path)))
        for row in reader:
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            name = row.get("original_column_name")
            if not name:
                continue
            parts = [row.get("column_description") or row.get("column_name") or ""]
            if row.get("value_description"):
                parts.append(row["value_description"])
            text = " — ".join(p for p in parts if p)
            if text:
                columns[name] = text
        result[csv_path.stem] = {"columns": columns}
    return result


def iter_columns(catalog: Catalog) -> Iterable[tuple[Table, Column]]:
    for table in catalog.tables:
        for column in table.columns:
            yield table, column


def from_spider_tables(entry: dict[str, Any], dialect: str = "sqlite") -> Catalog:
    """A catalog (names, types, keys; no data) from one entry of a Spider-format tables.json.

    The entry's readable names ("number of test takers" for ``NumTstTakr``) become descriptions.
    """
    names = entry["table_names_original"]
    readable_tables = entry.get("table_names") or names
    readable_columns = entry.get("column_names") or entry["column_names_original"]
    columns: dict[int, list[Column]] = {i: [] for i in range(len(names))}
    index_of: dict[int, tuple[int, str]] = {}
    primary = set()
    for key in entry.get("primary_keys", []):
        primary.update(key if isinstance(key, list) else [key])
    for position, ((table, name), kind) in enumerate(
        zip(entry["column_names_original"], entry["column_types"], strict=False)
    ):
        if table < 0:
            continue
        readable = readable_columns[position][1] if position < len(readable_columns) else ""
        description = (
            readable if readable and readable.lower() != name.lower().replace("_", " ") else None
        )
        columns[table].append(
            Column(
                name=name,
                type=str(kind).upper(),
                primary_key=position in primary,
                description=description,
            )
        )
        index_of[position] = (table, name)
    foreign: dict[int, list[ForeignKey]] = {i: [] for i in range(len(names))}
    for source, target in entry.get("foreign_keys", []):
        if source in index_of and target in index_of:
            (s_table, s_col), (t_table, t_col) = index_of[source], index_of[target]
            foreign[s_table].append(
                ForeignKey(columns=[s_col], ref_table=names[t_table], ref_columns=[t_col])
            )
    tables = [
        Table(
            name=name,
            columns=columns[i],
            primary_key=[c.name for c in columns[i] if c.primary_key],
            foreign_keys=foreign[i],
            description=readable_tables[i] if readable_tables[i].lower() != name.lower() else None,
        )
        for i, name in enumerate(names)
    ]
    return Catalog(dialect=dialect, fingerprint=str(entry.get("db_id", "")), tables=tables)
