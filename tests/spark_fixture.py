"""The fixture shop on a real Spark Connect server (``.ci/run`` starts one on 127.0.0.1:15002).

The tables are built from the same PostgreSQL script as on the other engines, transpiled to Spark
SQL with the key constraints taken out (Spark 4.0 keeps none), as Parquet tables in a database of
their own, with comments and table statistics. ``SparkWritable`` gives the tests a DB-API-like
cursor for building fixtures and taking checksums, through a Spark session of its own.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from honestsql.resolve import visible_cte

SPARK_URL = os.environ.get("HONESTSQL_TEST_SPARK", "sc://127.0.0.1:15002")
#: The Spark web UI of that server (``.ci/run`` puts it on 4045): running jobs are read there.
SPARK_UI = os.environ.get("HONESTSQL_TEST_SPARK_UI", "http://127.0.0.1:4045")
_CONSTRAINTS = (exp.PrimaryKeyColumnConstraint, exp.Reference, exp.PrimaryKey, exp.ForeignKey)


def spark_statements(script: str, database: str) -> list[str]:
    """The fixture script as Spark SQL in ``database``."""
    statements = []
    for tree in sqlglot.parse(script, read="postgres"):
        if tree is None:
            continue
        for node in list(tree.find_all(*_CONSTRAINTS)):
            parent = node.parent
            node.pop()
            if isinstance(parent, exp.ColumnConstraint) and parent.args.get("kind") is None:
                parent.pop()
        for table in list(tree.find_all(exp.Table)):
            if visible_cte(table) is None:  # a CTE's name stays unqualified
                table.set("db", exp.to_identifier(database))
        sql = tree.sql(dialect="spark", comments=False)
        if isinstance(tree, exp.Create) and str(tree.args.get("kind", "")).upper() == "TABLE":
            sql += " USING parquet"
        statements.append(sql)
    return statements


#: Every session the tests opened: never stopped or collected before the end (pyspark's ``close``
#: of one session shuts down a thread pool all sessions share; see ``honestsql.db.spark``).
_KEPT: list[Any] = []


class SparkWritable:
    """A Spark session with the ``cursor().execute/fetchall`` shape of a DB-API connection."""

    def __init__(self, database: str) -> None:
        from pyspark.sql import SparkSession

        self.session: Any = SparkSession.builder.remote(SPARK_URL).create()
        _KEPT.append(self.session)
        self.session.catalog.setCurrentDatabase(database)
        self._rows: list[tuple[Any, ...]] = []

    def cursor(self) -> SparkWritable:
        return self

    def execute(self, sql: str) -> None:
        self._rows = [tuple(r) for r in self.session.sql(sql).collect()]

    def commit(self) -> None:
        """Nothing: Spark has no transactions (every statement takes effect at once)."""

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows

    def close(self) -> None:
        """Nothing: the session stays open until the tests end (``_KEPT``)."""


def state_queries(cur: SparkWritable, database: str) -> list[str]:
    """What a hostile statement could change: every table's structure, the databases,
    functions, jars and files of the server, and global temporary views; and the tables' rows,
    read as a query only when their files are not on this machine (``files_digest``)."""
    cur.execute(f"SHOW TABLE EXTENDED IN {database} LIKE '*'")
    if files_digest([str(r[3]) for r in cur.fetchall()]) is not None:
        tables = []
    else:
        cur.execute(f"SHOW TABLES IN {database}")
        tables = sorted(str(r[1]) for r in cur.fetchall() if not r[2])
    sums = ", ".join(
        f"(SELECT COUNT(*) || ':' || COALESCE(SUM(HASH(*)), 0) FROM {database}.`{t}`)"
        for t in tables
    )
    return [
        f"SHOW TABLE EXTENDED IN {database} LIKE '*'",
        "SHOW DATABASES",
        "SHOW USER FUNCTIONS",
        "LIST JARS",
        "LIST FILES",
        "SHOW TABLES IN global_temp",
        f"SELECT {sums}" if sums else "SELECT 1",
    ]


def files_digest(informations: list[str]) -> str | None:
    """A digest of every file under the tables' locations (name, size, modification time):
    any write to a table changes it. ``None`` when a location is not a local folder."""
    digest = hashlib.sha256()
    for information in informations:
        for line in information.splitlines():
            if not line.startswith("Location: "):
                continue
            location = line.removeprefix("Location: ")
            if not location.startswith("file:"):
                return None
            folder = Path(location.removeprefix("file:"))
            for path in sorted(folder.rglob("*")) if folder.exists() else []:
                stat = path.stat()
                digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def build(database: str, script: str) -> None:
    """Create ``database`` with the fixture shop, comments and statistics."""
    conn = SparkWritable("default")
    try:
        cur = conn.cursor()
        # The script's dates are strings ('2021-03-04'), which ANSI inserts do not cast.
        conn.session.conf.set("spark.sql.storeAssignmentPolicy", "LEGACY")
        cur.execute(f"DROP DATABASE IF EXISTS {database} CASCADE")
        cur.execute(f"CREATE DATABASE {database}")
        for statement in spark_statements(script, database):
            cur.execute(statement)
        cur.execute(f"COMMENT ON TABLE {database}.customers IS 'People who buy'")
        cur.execute(f"ALTER TABLE {database}.customers ALTER COLUMN age COMMENT 'Age in years'")
        for table in ("countries", "customers", "products", "orders", "order_items"):
            cur.execute(f"ANALYZE TABLE {database}.{table} COMPUTE STATISTICS")
    finally:
        conn.close()


def drop(database: str) -> None:
    conn = SparkWritable("default")
    try:
        conn.execute(f"DROP DATABASE IF EXISTS {database} CASCADE")
    finally:
        conn.close()
