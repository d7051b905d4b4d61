"""The base of the dialects: what every database does alike, and the registry of dialects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

from honestsql.catalog import Column, ForeignKey, Table


class Dialect:
    """Behaviour shared by every database; subclasses override what differs.

    A subclass registers itself under its URL ``schemes`` when it is defined (as sqlglot's
    dialects do under their names); ``for_url`` and ``named`` find it there.
    """

    #: sqlglot dialect name.
    name: ClassVar[str] = ""
    #: How people write the database's name (in messages).
    display_name: ClassVar[str] = ""
    #: How the prompt names it: the wording the figures in docs/BENCHMARKS.md were measured
    #: with (changing it changes what a model writes: measure it with ``bench ask`` first).
    prompt_name: ClassVar[str] = ""
    #: What a model gets wrong in this dialect, said in the prompt where ``Settings.dialect_notes``
    #: asks (each a sentence the grammar lets the model follow).
    pitfalls: ClassVar[tuple[str, ...]] = ()
    #: URL schemes (SQLAlchemy backend names) that mean this database.
    schemes: ClassVar[tuple[str, ...]] = ()
    #: The SQLAlchemy driver used for a scheme when the URL names none (the extras install it).
    drivers: ClassVar[dict[str, str]] = {}
    #: The honestsql extra that installs the driver.
    extra: ClassVar[str] = "databases"
    #: Every registered dialect class, by URL scheme.
    registry: ClassVar[dict[str, type[Dialect]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for scheme in cls.schemes:
            Dialect.registry[scheme] = cls

    #: Whether identifiers are compared case-sensitively after sqlglot's normalization.
    case_sensitive: ClassVar[bool] = False
    #: A query listing every (table, column, type) of the introspected schema, in a stable order.
    fingerprint_sql: ClassVar[str] = ""
    #: Whether row counts come from statistics (estimates) rather than COUNT(*).
    estimated_row_counts: ClassVar[bool] = True
    #: Whether executed SQL names tables with their schema (where unqualified names could
    #: resolve to a system catalog first).
    qualify_names: ClassVar[bool] = False

    def __init__(self, url: URL) -> None:
        self.url = url

    def create_engine(self) -> Engine:
        return sa.create_engine(self.url, pool_pre_ping=True)

    def begin_read_only(self, conn: Connection, timeout: float) -> Callable[[], None] | None:
        """Make the current transaction read-only with a server-side time limit.

        Returns a cleanup function to call after the query (or ``None``).
        """
        return None

    def canceller(self, conn: Connection, engine: Engine) -> Callable[[], None]:
        """A function that, called from another thread, stops the query running on ``conn``."""
        return lambda: None

    def streams(self, sql: str) -> bool:
        """Whether ``sql`` is read through a server-side cursor (rows fetched as they are
        needed, so memory is bounded by the row cap, not by the size of the result)."""
        return False

    def stop_unread(self, cancel: Callable[[], None]) -> None:
        """Called when rows are left unread on a streamed result, before it is closed."""

    def row_counts(self, conn: Connection, tables: list[str], schema: str | None) -> dict[str, int]:
        """Row counts per table; estimates where the database keeps statistics."""
        return {}

    def tables_case_sensitive(self, conn: Connection) -> bool:
        return self.case_sensitive

    #: The query giving (database, default schema) of a connection.
    names_sql: ClassVar[str] = ""

    def current_names(self, conn: Connection) -> tuple[str, str]:
        """The connection's database and default schema: the only qualifiers a name may carry
        unless more schemas are exposed."""
        database, schema = conn.exec_driver_sql(self.names_sql).one()
        return str(database or ""), str(schema or "")

    def read_tables(self, conn: Connection, schema: str | None = None) -> list[Table]:
        """Tables and views of the default schema (or of ``schema``, named ``schema.table``),
        with columns, keys and comments.

        Uses SQLAlchemy's bulk ``get_multi_*`` reflection (a few queries for any number of
        tables on PostgreSQL; per-table PRAGMAs on SQLite).
        """
        inspector = sa.inspect(conn)
        kinds = sa.engine.reflection.ObjectKind
        scope = sa.engine.reflection.ObjectScope.DEFAULT
        views = set(inspector.get_view_names(schema=schema))
        columns = inspector.get_multi_columns(schema=schema, kind=kinds.ANY, scope=scope)
        pks = inspector.get_multi_pk_constraint(schema=schema, kind=kinds.TABLE, scope=scope)
        fks = inspector.get_multi_foreign_keys(schema=schema, kind=kinds.TABLE, scope=scope)
        unique = _unique_sets(inspector, schema, kinds.TABLE, scope)
        try:
            comments: dict[Any, Any] = dict(
                inspector.get_multi_table_comment(schema=schema, kind=kinds.ANY, scope=scope)
            )
        except NotImplementedError:
            comments = {}
        prefix = f"{schema}." if schema else ""
        tables = []
        for (owner, name), cols in sorted(columns.items(), key=lambda kv: kv[0][1]):
            key = (owner, name)
            pk_info: dict[str, Any] = dict(pks.get(key) or {})
            pk = list(pk_info.get("constrained_columns") or [])
            tables.append(
                Table(
                    name=prefix + name,
                    schema_name=schema,
                    is_view=name in views,
                    columns=[
                        Column(
                            name=c["name"],
                            type=_type_text(c["type"]),
                            nullable=bool(c.get("nullable", True)),
                            primary_key=c["name"] in pk,
                            comment=c.get("comment") or None,
                        )
                        for c in cols
                    ],
                    primary_key=pk,
                    foreign_keys=[
                        ForeignKey(
                            columns=list(fk["constrained_columns"]),
                            ref_table=(
                                f"{fk['referred_schema']}.{fk['referred_table']}"
                                if fk.get("referred_schema") and fk["referred_schema"] != owner
                                else prefix + fk["referred_table"]
                            ),
                            ref_columns=list(fk["referred_columns"]),
                        )
                        for fk in fks.get(key) or []
                    ],
                    unique=unique.get(key, []),
                    comment=(comments.get(key) or {}).get("text") or None,
                )
            )
        return tables

    @classmethod
    def quote_name(cls, name: str) -> str:
        """``name`` as a quoted identifier."""
        return '"' + name.replace('"', '""') + '"'

    def quote(self, name: str) -> str:
        return self.quote_name(name)

    def privileges(self, conn: Connection) -> list[str]:
        """What the login may do beyond reading this database's data (empty when nothing):
        the reasons honestsql refuses to run as it without ``--allow-privileged``."""
        return []

    def least_privilege_hint(self) -> str:
        """The statements that create a login which can only read."""
        return ""


def _unique_sets(inspector: Any, schema: str | None, kind: Any, scope: Any) -> dict[Any, Any]:
    """Column sets declared UNIQUE, by (schema, table): constraints and unique indexes."""
    found: dict[Any, list[list[str]]] = {}
    readers = (
        (inspector.get_multi_unique_constraints, "column_names", None),
        (inspector.get_multi_indexes, "column_names", "unique"),
    )
    for read, names, flag in readers:
        try:
            entries = read(schema=schema, kind=kind, scope=scope)
        except (NotImplementedError, sa.exc.SQLAlchemyError):
            continue
        for key, items in dict(entries).items():
            for item in items or []:
                columns = [c for c in item.get(names) or [] if c]
                if (
                    columns
                    and (flag is None or item.get(flag))
                    and columns not in found.get(key, [])
                ):
                    found.setdefault(key, []).append(columns)
    return found


def _type_text(sa_type: Any) -> str:
    try:
        return str(sa_type)
    except Exception:  # some reflected types cannot compile without a dialect
        return type(sa_type).__name__.upper()


def for_url(url: URL) -> Dialect:
    """The dialect of a parsed URL (``honestsql.db.url.parse`` admits only registered schemes)."""
    return Dialect.registry[url.get_backend_name()](url)


def named(name: str) -> type[Dialect]:
    """The dialect class with this sqlglot name (the base class for a name none registered,
    e.g. a benchmark's dialect honestsql cannot connect to)."""
    for cls in Dialect.registry.values():
        if cls.name == name:
            return cls
    return Dialect
