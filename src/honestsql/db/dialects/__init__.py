"""What differs between databases, one short subclass each (the sqlglot way).

The base class holds the common behaviour and every per-database fact (sqlglot name, display
name, URL schemes, default driver, extra, quoting); each subclass overrides only what its
database does differently: how a read-only connection is opened, how a transaction is made
read-only with a server-side time limit, how a running query is cancelled from another thread,
and the one query whose result fingerprints the schema.
"""

from honestsql.db.dialects.base import Dialect, for_url, named
from honestsql.db.dialects.duckdb import DuckDB
from honestsql.db.dialects.mysql import MySQL
from honestsql.db.dialects.postgres import PostgreSQL
from honestsql.db.dialects.spark import Spark
from honestsql.db.dialects.sqlite import SQLite

__all__ = ["Dialect", "DuckDB", "MySQL", "PostgreSQL", "SQLite", "Spark", "for_url", "named"]
