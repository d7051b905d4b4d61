"""PostgreSQL: read-only transactions with a statement timeout, cancelled from another thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Connection, Engine

from honestsql.db.dialects.base import Dialect


class PostgreSQL(Dialect):
    """PostgreSQL in a ``READ ONLY`` transaction with ``statement_timeout``."""

    name = "postgres"
    display_name = "PostgreSQL"
    prompt_name = "PostgreSQL"
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
            "SELECT c.relname, GREATEST(c.reltuples, 0)::bigint FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm')"
        ).fetchall()
        return {str(name): int(count) for name, count in rows}
