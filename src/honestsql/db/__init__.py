"""Database access: read-only connections per dialect and guarded execution."""

from honestsql.db.database import Database
from honestsql.db.result import QueryResult, ResultColumn

__all__ = ["Database", "QueryResult", "ResultColumn"]
