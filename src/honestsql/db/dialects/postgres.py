"""PostgreSQL: read-only transactions with a statement timeout, cancelled from another thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Connection, Engine

from honestsql.catalog import Table
from honestsql.db.dialects.base import Dialect


class PostgreSQL(Dialect):
    """PostgreSQL in a ``READ ONLY`` transaction with ``statement_timeout``."""

    name = "postgres"
    display_name = "PostgreSQL"
    prompt_name = "PostgreSQL"
    pitfalls = (
        "In a query that aggregates, every column of SELECT, HAVING or ORDER BY outside an "
        "aggregate must be in GROUP BY.",
        "An integer divided by an integer is truncated and a division by zero fails: write "
        "CAST(a AS FLOAT) / NULLIF(b, 0) for a ratio.",
        "Text comparisons are case-sensitive: ILIKE matches text whatever its case.",
        "Dates: CURRENT_DATE, d - INTERVAL '1 month', EXTRACT(YEAR FROM d), "
        "DATE_TRUNC('month', d).",
    )
    schemes = ("postgresql", "postgres")
    drivers = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}
    extra = "postgres"
    case_sensitive = True
    names_sql = "SELECT current_database(), current_schema()"
    qualify_names = True
    # Hashed on the server from pg_catalog: information_schema.columns is slow on wide schemas.
    fingerprint_sql = (
        "SELECT md5(coalesce(string_agg(c.relname || '.' || a.attname || ':' "
        "|| format_type(a.atttypid, a.atttypmod) || ':' || c.relkind::text, ',' "
        "ORDER BY c.relname, a.attnum), '')) "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND a.attnum > 0 AND NOT a.attisdropped "
        "AND c.relkind IN ('r', 'p', 'v', 'm', 'f')"
    )

    def read_tables(self, conn: Connection, schema: str | None = None) -> list[Table]:
        """The base reading, plus what PostgreSQL adds: materialized views are views (their
        definitions are checked like a view's), and each table knows the tables it inherits
        from or is a partition of (a policy that denies a table denies its children)."""
        tables = super().read_tables(conn, schema)
        where = "n.nspname = current_schema()" if schema is None else "n.nspname = %(schema)s"
        rows = conn.exec_driver_sql(
            "SELECT c.relname, c.relkind, p.relname, pn.nspname = n.nspname "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "LEFT JOIN pg_inherits i ON i.inhrelid = c.oid "
            "LEFT JOIN pg_class p ON p.oid = i.inhparent "
            "LEFT JOIN pg_namespace pn ON pn.oid = p.relnamespace "
            f"WHERE {where} AND c.relkind IN ('r', 'p', 'm', 'f') ORDER BY c.relname, i.inhseqno",
            {"schema": schema} if schema else {},
        ).fetchall()
        prefix = f"{schema}." if schema else ""
        by_name = {t.bare_name: t for t in tables}
        for name, kind, parent, same_schema in rows:
            table = by_name.get(name)
            if table is None:
                continue
            if kind == "m":
                table.is_view = True
            if parent is not None:
                table.inherits.append(prefix + parent if same_schema else parent)
        by_full = {t.name: t for t in tables}
        for table in tables:  # every ancestor, nearest first (partitions of partitions)
            for ancestor in table.inherits:
                above = by_full.get(ancestor)
                for name in above.inherits if above is not None else []:
                    if name not in table.inherits and name != table.name:
                        table.inherits.append(name)
        return tables

    def begin_read_only(self, conn: Connection, timeout: float) -> Callable[[], None] | None:
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(timeout * 1000))}")
        return None

    def canceller(self, conn: Connection, engine: Engine) -> Callable[[], None]:
        raw: Any = conn.connection.driver_connection
        return lambda: raw.cancel_safe(timeout=2.0)

    def streams(self, sql: str) -> bool:
        # A named cursor (DECLARE ... CURSOR) takes only a SELECT, not an EXPLAIN.
        return not sql.lstrip().upper().startswith("EXPLAIN")

    #: Predefined roles whose members read or write server files, run programs or signal
    #: other sessions.
    _POWERFUL_ROLES = (
        "pg_read_server_files",
        "pg_write_server_files",
        "pg_execute_server_program",
        "pg_signal_backend",
        "pg_checkpoint",
        "pg_create_subscription",
    )

    def privileges(self, conn: Connection) -> list[str]:
        flags = conn.exec_driver_sql(
            "SELECT rolsuper, rolreplication, rolbypassrls, rolcreaterole FROM pg_roles "
            "WHERE rolname = current_user"
        ).one()
        reasons = [
            what
            for what, on in zip(
                ("superuser", "replication", "bypasses row-level security", "creates roles"),
                flags,
                strict=True,
            )
            if on
        ]
        names = ", ".join(f"'{r}'" for r in self._POWERFUL_ROLES)
        members = conn.exec_driver_sql(
            f"SELECT rolname FROM pg_roles WHERE rolname IN ({names}) "
            "AND pg_has_role(current_user, oid, 'MEMBER') ORDER BY rolname"
        ).fetchall()
        reasons += [f"member of {row[0]}" for row in members]
        return reasons

    def least_privilege_hint(self) -> str:
        database = self.url.database or "mydb"
        return (
            "CREATE ROLE honestsql_reader LOGIN PASSWORD '...';\n"
            f'GRANT CONNECT ON DATABASE "{database}" TO honestsql_reader;\n'
            "GRANT USAGE ON SCHEMA public TO honestsql_reader;\n"
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO honestsql_reader;"
        )

    def row_counts(self, conn: Connection, tables: list[str], schema: str | None) -> dict[str, int]:
        rows = conn.exec_driver_sql(
            "SELECT c.relname, c.reltuples::bigint FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm') "
            # -1: never analyzed (a small table loaded at once may never be): not counted
            "AND c.reltuples >= 0"
        ).fetchall()
        return {str(name): int(count) for name, count in rows}
