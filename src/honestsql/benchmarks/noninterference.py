"""Noninterference of the access policy: what the policy lets run cannot depend on denied data.

Two copies of one fixture database differ *only* in what the policy denies: the rows of a denied
table, the values of a denied column, and objects outside the exposed schema (PostgreSQL and
DuckDB: a schema ``hidden``; the server's own catalogs differ on their own, by database name,
statistics and sizes). Every query is checked on both copies with the same policy; anything a
user can see (the decision, the findings, the columns, the rows, a database error's text) must be
the same on both. A difference is a leak.

Queries come from ``noninterference_queries``: the hostile corpus plus a seeded generator.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from honestsql.benchmarks.noninterference_queries import corpus, generated

__all__ = ["DIALECTS", "POLICY", "build", "compare", "corpus", "generated", "run", "statements"]

#: Extra runs of a query whose views differ, to tell an unstable engine from a leak.
RETRIES = 4

POLICY = {"deny": ["payroll", "employees.email"], "aggregate_only": ["employees.salary"]}
DIALECTS = ("sqlite", "duckdb", "postgres", "mysql")

_SCHEMA = """
CREATE TABLE departments (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL);
CREATE TABLE employees (
  id INTEGER PRIMARY KEY, login VARCHAR(20) UNIQUE, name VARCHAR(40) NOT NULL,
  dept_id INTEGER REFERENCES departments(id), salary INTEGER, email VARCHAR(80)
);
CREATE TABLE payroll (employee_id INTEGER REFERENCES employees(id), iban VARCHAR(40), amount INTEGER);
"""
#: Views over the fixture: one the policy allows, one over a denied column, one whose definition
#: hides a denied table behind a CTE of the same name in another scope.
VIEWS = [
    "CREATE VIEW staff AS SELECT id, name, dept_id FROM employees",
    "CREATE VIEW staff_mail AS SELECT id, email FROM employees",
    "CREATE VIEW tricky AS SELECT iban FROM payroll "
    "WHERE EXISTS (WITH payroll AS (SELECT 1 AS x) SELECT x FROM payroll)",
]
_DEPARTMENTS = [(1, "Sales"), (2, "Research"), (3, "Support")]
_EMPLOYEES = [
    (1, "ann", "Ann", 1, 4100),
    (2, "bo", "Bo", 1, 3900),
    (3, "cy", "Cy", 2, 5200),
    (4, "di", "Di", 2, None),
    (5, "ed", "Ed", 3, 3000),
    (6, "fay", "Sam", 3, 3300),
    (7, "gus", "Sam", 3, 3100),
]


def _secrets(copy: str) -> tuple[list[str | None], list[tuple[int, str, int]], list[str]]:
    """The denied values of copy ``a`` or ``b``: emails, payroll rows, hidden rows."""
    if copy == "a":
        emails: list[str | None] = [
            "ann@a.example",
            "bo@a.example",
            None,
            "di@a.example",
            "ed@a.example",
            "fay@a.example",
            "gus@a.example",
        ]
        payroll = [(1, "DE89 3704 0044 0532 0130 00", 4100), (3, "FR14 2004 1010 0505 0001", 5200)]
        hidden = ["alpha", "7"]
    else:
        emails = [
            "zed@b.example",
            None,
            "99",
            "yo@b.example",
            "xi@b.example",
            "wu@b.example",
            "vic@b.example",
        ]
        payroll = [
            (2, "GB29 NWBK 6016 1331 9268 19", 7),
            (5, "NL91 ABNA 0417 1643 00", 9999),
            (7, "ES91 2100 0418 4502 0005", 1),
        ]
        hidden = ["omega"]
    return emails, payroll, hidden


def statements(dialect: str, copy: str) -> list[str]:
    """The fixture script of one copy, in ``dialect``."""
    import sqlglot

    emails, payroll, hidden = _secrets(copy)
    script = [s for s in sqlglot.transpile(_SCHEMA, read="postgres", write=dialect) if s.strip()]

    def text(value: str | None) -> str:
        return "NULL" if value is None else "'" + value.replace("'", "''") + "'"

    script.append(
        "INSERT INTO departments VALUES " + ", ".join(f"({i}, {text(n)})" for i, n in _DEPARTMENTS)
    )
    script.append(
        "INSERT INTO employees VALUES "
        + ", ".join(
            f"({i}, {text(lg)}, {text(n)}, {d}, {'NULL' if s is None else s}, {text(e)})"
            for (i, lg, n, d, s), e in zip(_EMPLOYEES, emails, strict=True)
        )
    )
    script.append(
        "INSERT INTO payroll VALUES " + ", ".join(f"({e}, {text(i)}, {a})" for e, i, a in payroll)
    )
    script += [sqlglot.transpile(v, read="postgres", write=dialect)[0] for v in VIEWS]
    if dialect in ("postgres", "duckdb"):
        script.append("CREATE SCHEMA hidden")
        script.append("CREATE TABLE hidden.secrets (v VARCHAR(20))")
        script.append(
            "INSERT INTO hidden.secrets VALUES " + ", ".join(f"({text(v)})" for v in hidden)
        )
    if dialect == "postgres":
        script.append("ANALYZE")
    return script


# --- the comparison ---------------------------------------------------------------------------


@dataclass
class Leak:
    sql: str
    a: dict[str, Any]
    b: dict[str, Any]


@dataclass
class Outcome:
    dialect: str
    queries: int = 0
    allowed: int = 0
    ran: int = 0
    leaks: list[Leak] = field(default_factory=list)
    #: Queries whose result differed between two runs on the same copy (set apart, listed).
    unstable: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dialect": self.dialect,
            "queries": self.queries,
            "allowed": self.allowed,
            "ran": self.ran,
            "differences": len(self.leaks),
            "unstable": len(self.unstable),
            "examples": [{"sql": leak.sql, "a": leak.a, "b": leak.b} for leak in self.leaks[:5]],
        }


def observed(db: Any, sql: str, names: tuple[str, str]) -> dict[str, Any]:
    """What a user sees of ``check(sql)``: decision, findings, columns and rows (timings off,
    the copy's own name replaced by a neutral one)."""
    import honestsql

    result = honestsql.check(db, sql, timeout=10.0, max_rows=200)
    shown = result.to_dict()
    shown.pop("elapsed_ms", None)
    if result.expression is None or not result.expression.args.get("order"):
        # Without ORDER BY the engine may return rows in any order (hash joins, threads): the
        # rows compare as a multiset. With one, their order is part of what is seen.
        shown["rows"] = sorted(shown["rows"], key=repr)
    text = repr(shown)
    for name in names:
        text = text.replace(name, "<db>")
    return {"status": shown["status"], "view": re.sub(r"0x[0-9a-f]+", "0x", text)}


def compare(
    dialect: str,
    a: Any,
    b: Any,
    queries: list[str],
    names: tuple[str, str],
    *,
    progress: Any = None,
) -> Outcome:
    outcome = Outcome(dialect)
    for sql in queries:
        first = observed(a, sql, names)
        second = observed(b, sql, names)
        outcome.queries += 1
        outcome.allowed += first["status"] != "rejected"
        outcome.ran += first["status"] == "ok"
        if first != second:
            _judge(outcome, sql, (a, first), (b, second), names)
        if progress is not None:
            progress()
    return outcome


def _judge(
    outcome: Outcome,
    sql: str,
    a: tuple[Any, dict[str, Any]],
    b: tuple[Any, dict[str, Any]],
    names: tuple[str, str],
) -> None:
    """A difference is a leak unless the engine itself varies: asked again, a view both copies
    can give is no evidence about denied data (Spark's error names whichever row a parallel
    task hit first), and one that varies on a copy is set apart as unstable."""
    seen_a = [a[1]] + [observed(a[0], sql, names) for _ in range(RETRIES)]
    seen_b = [b[1]] + [observed(b[0], sql, names) for _ in range(RETRIES)]
    if any(view in seen_b for view in seen_a):
        return
    if any(v != a[1] for v in seen_a) or any(v != b[1] for v in seen_b):
        outcome.unstable.append(sql)
    else:
        outcome.leaks.append(Leak(sql, a[1], b[1]))


# --- building the two copies ------------------------------------------------------------------


@dataclass
class Copies:
    dialect: str
    urls: tuple[str, str]
    names: tuple[str, str]
    drop: Callable[[], None]


def _files(dialect: str, folder: Path) -> Copies:
    """Both copies as SQLite or DuckDB files, in folders ``a`` and ``b`` under ``folder``."""
    paths = []
    for copy in "ab":
        path = folder / copy / f"fixture.{dialect}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        if dialect == "duckdb":
            import duckdb

            conn: Any = duckdb.connect(str(path))
        else:
            conn = sqlite3.connect(path)
        for statement in statements(dialect, copy):
            conn.execute(statement)
        conn.commit()
        conn.close()
        paths.append(path)
    urls = [str(p) if dialect == "sqlite" else f"duckdb:///{p}" for p in paths]
    return Copies(
        dialect, (urls[0], urls[1]), (str(paths[0].parent), str(paths[1].parent)), lambda: None
    )


def build(dialect: str, folder: Path, *, pg_admin: str, mysql_host: str = "127.0.0.1") -> Copies:
    """Both copies of the fixture on ``dialect`` (files under ``folder``; databases on the
    servers named ``honestsql_ni_<pid>_a/b``, dropped by ``drop``)."""
    import os

    tag = f"honestsql_ni_{os.getpid()}"
    if dialect in ("sqlite", "duckdb"):
        return _files(dialect, folder)
    names = (f"{tag}_a", f"{tag}_b")
    if dialect == "postgres":
        import psycopg

        base = pg_admin.rsplit("/", 1)[0]
        from honestsql.benchmarks.catalog import drop_postgres

        for name, copy in zip(names, "ab", strict=True):
            drop_postgres(pg_admin, name)
            with psycopg.connect(pg_admin, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            with psycopg.connect(f"{base}/{name}", autocommit=True) as pg:
                for statement in statements("postgres", copy):
                    pg.execute(statement)

        def drop_pg() -> None:
            for name in names:
                drop_postgres(pg_admin, name)

        return Copies(dialect, (f"{base}/{names[0]}", f"{base}/{names[1]}"), names, drop_pg)
    import pymysql

    admin = pymysql.connect(host=mysql_host, port=3306, user="root", password="", autocommit=True)
    with admin.cursor() as cur:
        for name, copy in zip(names, "ab", strict=True):
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cur.execute(f"CREATE DATABASE `{name}`")
            cur.execute(f"USE `{name}`")
            for statement in statements("mysql", copy):
                cur.execute(statement)
    admin.close()

    def drop_mysql() -> None:
        conn = pymysql.connect(
            host=mysql_host, port=3306, user="root", password="", autocommit=True
        )
        with conn.cursor() as cur:
            for name in names:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()

    urls = tuple(f"mysql://root@{mysql_host}:3306/{name}" for name in names)
    return Copies(dialect, (urls[0], urls[1]), names, drop_mysql)


def run(
    dialect: str,
    folder: Path,
    *,
    count: int,
    seed: int,
    pg_admin: str = "postgresql://postgres@127.0.0.1:5432/postgres",
    progress: Any = None,
) -> Outcome:
    """Build both copies on ``dialect``, compare the corpus and ``count`` generated queries."""
    import honestsql

    copies = build(dialect, folder, pg_admin=pg_admin)
    try:
        # The test servers' logins are superusers: the check runs as the most powerful login.
        a = honestsql.connect(copies.urls[0], policy=POLICY, allow_privileged=True)
        b = honestsql.connect(copies.urls[1], policy=POLICY, allow_privileged=True)
        try:
            queries = corpus(dialect) + generated(dialect, seed, count)
            return compare(dialect, a, b, queries, copies.names, progress=progress)
        finally:
            a.close()
            b.close()
    finally:
        copies.drop()
