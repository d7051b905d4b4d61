"""MySQL and MariaDB: read-only transactions with a time limit, cancelled with KILL QUERY."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Connection, Engine

from honestsql.db.dialects.base import Dialect

#: ``GRANT <privileges> ON *.* TO ...``: a grant over every database of the server.
_GLOBAL_GRANT = re.compile(r"^\s*GRANT\s+(.+?)\s+ON\s+\*\.\*\s+TO\b", re.I)


class MySQL(Dialect):
    """MySQL/MariaDB in a ``READ ONLY`` transaction with a server statement time limit.

    A read-only transaction in MySQL does not stop DDL (it commits implicitly), so for these
    servers the statement guard is the barrier against DDL; connect as a user with only SELECT
    privileges for a second one.
    """

    name = "mysql"
    display_name = "MySQL"
    prompt_name = "MySQL"
    pitfalls = (
        "In a query that aggregates, every column of SELECT outside an aggregate should be in "
        "GROUP BY.",
        "Dates: CURDATE(), YEAR(d), MONTH(d), DATEDIFF(a, b) in days.",
    )
    schemes = ("mysql", "mariadb")
    drivers = {"mysql": "mysql+pymysql", "mariadb": "mariadb+pymysql"}
    extra = "mysql"
    names_sql = "SELECT '', DATABASE()"
    fingerprint_sql = (
        "SELECT table_name, column_name, column_type, ordinal_position "
        "FROM information_schema.columns WHERE table_schema = DATABASE() "
        "ORDER BY table_name, ordinal_position"
    )

    def begin_read_only(self, conn: Connection, timeout: float) -> Callable[[], None] | None:
        # The limit is a session setting, so it is reset afterwards: the pooled connection is
        # reused for schema reading, which must not inherit a short query's limit.
        if getattr(conn.dialect, "is_mariadb", False):
            setting, value = "max_statement_time", f"{max(0.001, timeout):.3f}"
        else:
            setting, value = "max_execution_time", str(max(1, int(timeout * 1000)))
        conn.exec_driver_sql(f"SET SESSION {setting} = {value}")
        conn.exec_driver_sql("START TRANSACTION READ ONLY")

        def reset() -> None:
            conn.exec_driver_sql(f"SET SESSION {setting} = DEFAULT")

        return reset

    def canceller(self, conn: Connection, engine: Engine) -> Callable[[], None]:
        raw: Any = conn.connection.driver_connection
        thread_id = int(raw.thread_id())

        def cancel() -> None:
            with engine.connect() as killer:
                killer.exec_driver_sql(f"KILL QUERY {thread_id}")

        return cancel

    def streams(self, sql: str) -> bool:
        return True  # PyMySQL's unbuffered cursor

    def stop_unread(self, cancel: Callable[[], None]) -> None:
        cancel()  # else closing the cursor reads (and drops) every remaining row

    def row_counts(self, conn: Connection, tables: list[str], schema: str | None) -> dict[str, int]:
        rows = conn.exec_driver_sql(
            "SELECT table_name, table_rows FROM information_schema.tables "
            "WHERE table_schema = DATABASE()"
        ).fetchall()
        return {str(name): int(count or 0) for name, count in rows}

    def privileges(self, conn: Connection) -> list[str]:
        reasons = []
        for (grant,) in conn.exec_driver_sql("SHOW GRANTS FOR CURRENT_USER()").fetchall():
            match = _GLOBAL_GRANT.match(str(grant))
            if match and match.group(1).strip().upper() != "USAGE":
                reasons.append(f"global privileges ({match.group(1).strip()} ON *.*)")
            elif re.search(r"\bWITH\b.*\bGRANT OPTION\b", str(grant), re.I):
                reasons.append("can grant privileges to others (WITH GRANT OPTION)")
        return reasons

    def least_privilege_hint(self) -> str:
        database = self.url.database or "mydb"
        return (
            "CREATE USER 'honestsql_reader'@'%' IDENTIFIED BY '...';\n"
            f"GRANT SELECT, SHOW VIEW ON `{database}`.* TO 'honestsql_reader'@'%';"
        )

    def tables_case_sensitive(self, conn: Connection) -> bool:
        # 0: names are stored and compared as given (the Linux default).
        return bool(conn.exec_driver_sql("SELECT @@lower_case_table_names").scalar_one() == 0)

    @classmethod
    def quote_name(cls, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"
