"""DuckDB: a read-only file connection, with external access and extensions turned off."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from honestsql.catalog import Column, ForeignKey, Table
from honestsql.db.dialects.base import Dialect
from honestsql.errors import ConnectionFailed


class DuckDB(Dialect):
    """DuckDB opened ``read_only`` with external (file and network) access off and locked.

    Schema reading uses DuckDB's own ``duckdb_*()`` functions: duckdb-engine inherits
    PostgreSQL's reflection queries, which DuckDB cannot run.
    """

    name = "duckdb"
    display_name = "DuckDB"
    prompt_name = "Duckdb"
    pitfalls = (
        "In a query that aggregates, every column of SELECT, HAVING or ORDER BY outside an "
        "aggregate must be in GROUP BY.",
        "Dates: current_date, d - INTERVAL '1 month', EXTRACT(YEAR FROM d), "
        "date_trunc('month', d).",
    )
    schemes = ("duckdb",)
    extra = "duckdb"
    fingerprint_sql = (
        "SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns() "
        "WHERE NOT internal ORDER BY schema_name, table_name, column_index"
    )

    def create_engine(self) -> Engine:
        path = Path(self.url.database or "")
        if self.url.database in {None, "", ":memory:"}:
            raise ConnectionFailed(
                "An in-memory DuckDB database has no schema to answer from; give a file path."
            )
        if not path.is_file():
            raise ConnectionFailed(f"The DuckDB file {str(path)!r} does not exist. Check the path.")
        config = {"enable_external_access": False, "lock_configuration": True}
        return sa.create_engine(
            self.url, connect_args={"read_only": True, "config": config}, poolclass=sa.pool.NullPool
        )

    def canceller(self, conn: Connection, engine: Engine) -> Callable[[], None]:
        raw: Any = conn.connection.driver_connection
        return lambda: raw.interrupt()

    def row_counts(self, conn: Connection, tables: list[str], schema: str | None) -> dict[str, int]:
        rows = conn.exec_driver_sql(
            "SELECT table_name, estimated_size FROM duckdb_tables() WHERE schema_name = current_schema()"
        ).fetchall()
        return {str(name): int(size or 0) for name, size in rows}

    names_sql = "SELECT current_database(), current_schema()"

    def read_tables(self, conn: Connection, schema: str | None = None) -> list[Table]:
        where = "schema_name = current_schema() AND database_name = current_database()"
        prefix = ""
        if schema:
            literal = "'" + schema.replace("'", "''") + "'"
            where = f"schema_name = {literal} AND database_name = current_database()"
            prefix = f"{schema}."
        comments: dict[str, str | None] = {
            str(name): comment
            for name, comment in conn.exec_driver_sql(
                f"SELECT table_name, comment FROM duckdb_tables() WHERE {where}"
            ).fetchall()
        }
        views = {
            r[0]
            for r in conn.exec_driver_sql(
                f"SELECT view_name FROM duckdb_views() WHERE NOT internal AND {where}"
            ).fetchall()
        }
        pks: dict[str, list[str]] = {}
        unique: dict[str, list[list[str]]] = {}
        fks: dict[str, list[ForeignKey]] = {}
        for table, kind, cols, ref_table, ref_cols in conn.exec_driver_sql(
            "SELECT table_name, constraint_type, constraint_column_names, referenced_table, "
            f"referenced_column_names FROM duckdb_constraints() WHERE {where} "
            "AND constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY', 'UNIQUE') "
            "ORDER BY table_name, constraint_index"
        ).fetchall():
            if kind == "PRIMARY KEY":
                pks[table] = list(cols)
            elif kind == "UNIQUE":
                unique.setdefault(table, []).append(list(cols))
            else:
                fks.setdefault(table, []).append(
                    ForeignKey(columns=list(cols), ref_table=ref_table, ref_columns=list(ref_cols))
                )
        columns: dict[str, list[Column]] = {}
        for table, name, data_type, nullable, comment in conn.exec_driver_sql(
            "SELECT table_name, column_name, data_type, is_nullable, comment FROM duckdb_columns() "
            f"WHERE NOT internal AND {where} ORDER BY table_name, column_index"
        ).fetchall():
            columns.setdefault(table, []).append(
                Column(
                    name=name,
                    type=str(data_type),
                    nullable=bool(nullable),
                    primary_key=name in pks.get(table, []),
                    comment=comment or None,
                )
            )
        for keys in fks.values():
            for fk in keys:
                fk.ref_table = prefix + fk.ref_table
        return [
            Table(
                name=prefix + name,
                schema_name=schema,
                columns=cols,
                primary_key=pks.get(name, []),
                foreign_keys=fks.get(name, []),
                unique=unique.get(name, []),
                comment=comments.get(name) or None,
                is_view=name in views,
            )
            for name, cols in sorted(columns.items())
        ]
