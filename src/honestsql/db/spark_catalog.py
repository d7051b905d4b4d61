"""Reading a Spark catalog into a ``Catalog``, and the tables of a local folder of files.

One ``SHOW TABLE EXTENDED`` lists every table and view of a database with its type, comment,
statistics, partition columns and schema: the fingerprint is computed from it. Columns (with
their comments and partition flags) come from the catalog API, sample values from a query with a
``LIMIT`` (Spark reads only as many file splits as it needs for that), several tables at a time.
Row counts are the table statistics' estimate (``ANALYZE TABLE ... COMPUTE STATISTICS``) when
there is one; a table is never counted in full.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from honestsql.cache import CACHE_VERSION
from honestsql.catalog import Catalog, Column, Table
from honestsql.db.introspect import SAMPLE_MAX_CHARS, SAMPLE_ROWS, SAMPLES_PER_COLUMN
from honestsql.errors import CatalogError

if TYPE_CHECKING:
    from honestsql.policy import Policy

#: Tables read at the same time (columns, samples): each is one round trip to the server.
PARALLEL = 8
#: Lines of ``SHOW TABLE EXTENDED`` that describe the structure (not times, sizes or owners).
_STRUCTURE = ("Table:", "Type:", "Provider:", "Partition Columns:", "Schema:", " |")
_ROWS = re.compile(r"Statistics:.*?(\d+) rows")


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@dataclass
class _Listed:
    """One table or view as ``SHOW TABLE EXTENDED`` describes it."""

    name: str
    info: dict[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def is_view(self) -> bool:
        return self.info.get("Type", "").upper() == "VIEW"


def _parse(information: str) -> dict[str, str]:
    info: dict[str, str] = {}
    for line in information.splitlines():
        key, sep, value = line.partition(": ")
        if sep and not line.startswith(" "):
            info.setdefault(key.strip(), value.strip())
    return info


class SparkSchemaReader:
    """The schema of a Spark Connect session's current database (and the exposed ones)."""

    def __init__(self, session: Any, display_url: str) -> None:
        self.session, self.display_url = session, display_url

    def _sql(self, text: str) -> list[Any]:
        from pyspark.errors import PySparkException

        try:
            return list(self.session.sql(text).collect())
        except PySparkException as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CatalogError(
                f"Could not read the schema of {self.display_url}: {message}"
            ) from None

    def _listing(self, schema: str | None = None) -> list[_Listed]:
        where = f" IN {_quote(schema)}" if schema else ""
        rows = self._sql(f"SHOW TABLE EXTENDED{where} LIKE '*'")
        listed = []
        for row in rows:
            if schema is None and row["isTemporary"] and row["namespace"]:
                continue  # a global temporary view of another namespace
            text = str(row["information"] or "")
            listed.append(_Listed(str(row["tableName"]), _parse(text), text))
        return sorted(listed, key=lambda t: t.name)

    def fingerprint(self) -> str:
        digest = hashlib.sha256(f"v{CACHE_VERSION}|spark".encode())
        for table in self._listing():
            for line in table.text.splitlines():
                if line.startswith(_STRUCTURE):
                    digest.update((line + "\x1e").encode())
        return digest.hexdigest()[:24]

    def read(self, *, samples: bool, schemas: list[str], policy: Policy | None) -> Catalog:
        started = time.perf_counter()
        database = str(self.session.catalog.currentDatabase())
        catalog_name = str(self.session.catalog.currentCatalog())
        fingerprint = self.fingerprint()
        scopes: list[str | None] = [None, *schemas]
        listed = [(scope, t) for scope in scopes for t in self._listing(scope)]
        with ThreadPoolExecutor(PARALLEL) as pool:
            tables = list(pool.map(lambda item: self._table(database, *item), listed))
            if samples:
                wanted = [t for t in tables if not t.is_view]
                hidden = [policy.unsampled(t) if policy is not None else set() for t in wanted]
                list(pool.map(self._sample, wanted, hidden))
        return Catalog(
            dialect="spark",
            fingerprint=fingerprint,
            tables=tables,
            build_seconds=round(time.perf_counter() - started, 4),
            case_sensitive=False,
            table_case_sensitive=False,
            default_schema=database,
            database_name=catalog_name,
            exposed_schemas=list(schemas),
        )

    def _table(self, database: str, schema: str | None, listed: _Listed) -> Table:
        owner = schema or database
        source = f"{_quote(owner)}.{_quote(listed.name)}"
        try:
            columns = self.session.catalog.listColumns(source)
        except Exception:  # a temporary view: its columns come from its plan
            columns = []
        if not columns:
            schema_of = self.session.sql(f"SELECT * FROM {source} LIMIT 0").schema
            columns = [
                _Field(f.name, f.dataType.simpleString(), f.nullable) for f in schema_of.fields
            ]
        rows = _ROWS.search(listed.text)
        return Table(
            name=(f"{schema}." if schema else "") + listed.name,
            schema_name=schema,
            is_view=listed.is_view,
            comment=listed.info.get("Comment") or None,
            row_count=int(rows.group(1)) if rows else None,
            row_count_estimated=True,
            columns=[
                Column(
                    name=c.name,
                    type=str(c.dataType),
                    nullable=bool(c.nullable),
                    comment=getattr(c, "description", None) or None,
                    partition=bool(getattr(c, "isPartition", False)),
                )
                for c in columns
            ],
        )

    def _sample(self, table: Table, hidden: set[str] | None) -> None:
        if hidden is None:
            return
        text_columns = [
            c
            for c in table.columns
            if c.type.lower().startswith(("string", "varchar", "char")) and c.name not in hidden
        ]
        if not text_columns or table.known_empty:
            return
        source = ".".join(_quote(p) for p in _source_parts(table))
        select = ", ".join(_quote(c.name) for c in text_columns)
        try:
            rows = self.session.sql(f"SELECT {select} FROM {source} LIMIT {SAMPLE_ROWS}").collect()
        except Exception:  # a table that cannot be read has no samples; its schema stands
            return
        for index, column in enumerate(text_columns):
            seen: dict[str, None] = {}
            for row in rows:
                value = row[index]
                text = "" if value is None else str(value)[:SAMPLE_MAX_CHARS]
                if text.strip():
                    seen.setdefault(text)
                if len(seen) >= SAMPLES_PER_COLUMN:
                    break
            column.samples = list(seen)

    def view_sql(self, view: Table) -> str | None:
        """The view's ``CREATE VIEW`` statement as Spark shows it (its whole text, however many
        lines), or ``None`` when it cannot be read."""
        source = ".".join(_quote(p) for p in _source_parts(view))
        try:
            rows = self.session.sql(f"SHOW CREATE TABLE {source}").collect()
        except Exception:  # the policy then denies the view: the safe side
            return None
        return str(rows[0][0]) if rows else None


@dataclass
class _Field:
    name: str
    dataType: str  # noqa: N815 (the catalog API's name)
    nullable: bool


def _source_parts(table: Table) -> list[str]:
    return [table.schema_name, table.bare_name] if table.schema_name else [table.name]


#: Formats a folder of ``spark-local://`` may hold, by the file suffix that shows them.
LOCAL_FORMATS = {".parquet": "parquet", ".orc": "orc"}
_NAME = re.compile(r"[^A-Za-z0-9_]+")


def local_tables(folder: Path, quote: Callable[[str], str]) -> Iterable[str]:
    """The statements that expose every dataset in ``folder`` as a table named after it: a Delta
    table (a folder with ``_delta_log``), a folder of Parquet or ORC files (Hive-style
    ``key=value`` sub-folders become partition columns) or a single Parquet or ORC file."""
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "_")):
            continue
        name = _NAME.sub("_", entry.stem if entry.is_file() else entry.name).strip("_").lower()
        if entry.is_dir() and (entry / "_delta_log").is_dir():
            fmt = "delta"
        elif entry.is_file():
            fmt = LOCAL_FORMATS.get(entry.suffix.lower(), "")
        else:
            suffixes = {p.suffix.lower() for p in entry.rglob("*") if p.is_file()}
            fmt = next((f for s, f in LOCAL_FORMATS.items() if s in suffixes), "")
        if not fmt or not name:
            continue
        location = str(entry.resolve()).replace("\\", "\\\\").replace("'", "\\'")
        yield f"CREATE TABLE {quote(name)} USING {fmt} LOCATION '{location}'"
        if entry.is_dir() and fmt != "delta" and any(p.is_dir() for p in entry.rglob("*=*")):
            yield f"MSCK REPAIR TABLE {quote(name)}"
