"""honestsql: answers over SQL databases that are verified, read-only and honest about doubt.

The public API::

    import honestsql
    db = honestsql.connect("demo")                 # or a path, or a SQLAlchemy URL
    result = honestsql.check(db, "SELECT name FROM countries")
    result.ok, result.errors, result.result.rows
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from honestsql import demo
from honestsql.catalog import Catalog
from honestsql.check import CheckResult
from honestsql.check import check as _check
from honestsql.db import Database, QueryResult
from honestsql.errors import HonestSQLError
from honestsql.findings import Finding
from honestsql.policy import Policy
from honestsql.policy import load as load_policy

__version__ = "0.1.0"

__all__ = [
    "Catalog",
    "CheckResult",
    "Database",
    "Finding",
    "HonestSQLError",
    "Policy",
    "QueryResult",
    "check",
    "connect",
]


def connect(
    target: str | Path,
    *,
    descriptions: str | Path | None = None,
    samples: bool = True,
    schemas: list[str] | None = None,
    allow_privileged: bool | None = None,
    policy: str | Path | Mapping[str, Any] | Policy | None = None,
) -> Database:
    """Open a database read-only.

    ``target`` is ``"demo"`` (the bundled shop database), a file path (SQLite; ``.duckdb`` for
    DuckDB), a SQLAlchemy URL (``postgresql://``, ``mysql://``, ``duckdb:///``, ``sqlite:///``),
    a Spark Connect URL (``sc://host:15002``) or ``spark-local:///folder`` (Parquet, ORC and Delta
    files, through a local Spark: ``honestsql.db.spark``).
    ``descriptions`` names a YAML/JSON file or a BIRD ``database_description`` folder.
    ``schemas`` exposes schemas besides the default one (default: ``$HONESTSQL_SCHEMAS``,
    comma-separated). ``allow_privileged`` lets honestsql run as a login that can do more than
    read (a superuser, a role that reads server files, ...); default ``$HONESTSQL_ALLOW_PRIVILEGED``.
    ``policy`` is an access policy (a YAML file, a mapping like ``{"deny": ["payroll"]}`` or a
    ``Policy``; default ``$HONESTSQL_POLICY``): see ``honestsql.policy``.
    """
    text = str(target)
    if text == demo.NAME:
        text = str(demo.ensure())
        descriptions = descriptions or demo.descriptions_path()
    from honestsql.db.spark import SparkDatabase, is_spark

    return (SparkDatabase if is_spark(text) else Database)(
        text,
        descriptions=str(descriptions) if descriptions else None,
        samples=samples,
        schemas=schemas,
        allow_privileged=allow_privileged,
        policy=load_policy(policy),
    )


def check(
    db: Database | str | Path,
    sql: str | bytes,
    *,
    timeout: float = 10.0,
    max_rows: int = 1000,
    execute: bool = True,
) -> CheckResult:
    """Verify ``sql`` against the schema and, if it passes, run it read-only."""
    database = db if isinstance(db, Database) else connect(db)
    return _check(database, sql, timeout=timeout, max_rows=max_rows, execute=execute)
