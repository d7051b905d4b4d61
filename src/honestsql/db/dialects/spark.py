"""Spark SQL: the facts of the dialect. The connection itself is ``honestsql.db.spark``.

Spark is reached through Spark Connect (``sc://host:15002``), not SQLAlchemy, so only the facts
the rest of honestsql reads live here: the sqlglot name, the wording of the prompt, quoting and
the extra that installs the client.
"""

from __future__ import annotations

from typing import Any

from honestsql.db.dialects.base import Dialect


class Spark(Dialect):
    """Apache Spark SQL (on-premise clusters, Databricks, EMR, Dataproc) over Spark Connect."""

    name = "spark"
    display_name = "Spark SQL"
    prompt_name = "Spark"
    schemes = ("sc", "spark-local")
    extra = "spark"
    #: Spark resolves identifiers case-insensitively (``spark.sql.caseSensitive`` is off).
    case_sensitive = False
    estimated_row_counts = True

    def __init__(self, url: Any = None) -> None:
        self.url = url

    @classmethod
    def quote_name(cls, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def least_privilege_hint(self) -> str:
        return (
            "GRANT USE SCHEMA ON SCHEMA main.default TO `honestsql-reader`;\n"
            "GRANT SELECT ON SCHEMA main.default TO `honestsql-reader`;  -- Unity Catalog"
        )
