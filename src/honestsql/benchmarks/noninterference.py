"""Noninterference of the access policy: what the policy lets run cannot depend on denied data.

Two copies of one fixture database differ *only* in what the policy denies: the rows of a denied
table, the values of a denied column, and objects outside the exposed schema (PostgreSQL and
DuckDB: a schema ``hidden``; the server's own catalogs differ on their own, by database name,
statistics and sizes). Every query is checked on both copies with the same policy; anything a
user can see (the decision, the findings, the columns, the rows, a database error's text) must be
the same on both. A difference is a leak.

Queries come from the hostile corpus below plus a seeded generator that combines the shapes the
second hostile tester used: CTEs shadowing names, HAVING, QUALIFY, ORDER BY aliases, windows,
stars inside functions, set operations, LATERAL, nested and correlated subqueries, casts whose
errors quote a value.
"""

from __future__ import annotations

import random
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    if dialect in ("postgres", "duckdb"):
        script.append("CREATE SCHEMA hidden")
        script.append("CREATE TABLE hidden.secrets (v VARCHAR(20))")
        script.append(
            "INSERT INTO hidden.secrets VALUES " + ", ".join(f"({text(v)})" for v in hidden)
        )
    if dialect == "postgres":
        script.append("ANALYZE")
    return script


# --- the queries --------------------------------------------------------------------------------

#: Hand-written attacks of the second hostile tester's classes, on this fixture.
CORPUS: list[str] = [
    "SELECT employee_id, iban FROM payroll",
    "SELECT iban FROM payroll WHERE EXISTS (WITH payroll AS (SELECT 1 AS x) SELECT x FROM payroll)",
    "SELECT * FROM payroll WHERE EXISTS (WITH payroll AS (SELECT 1 AS x) SELECT x FROM payroll)",
    "WITH p AS (SELECT 1 AS x) SELECT iban FROM payroll WHERE EXISTS (SELECT x FROM p)",
    "SELECT v FROM secrets WHERE EXISTS (WITH secrets AS (SELECT 1 AS x) SELECT x FROM secrets)",
    "SELECT id FROM employees GROUP BY id HAVING max(email) LIKE 'a%'",
    "SELECT id FROM employees GROUP BY id HAVING CAST(max(email) AS INTEGER) > 0",
    "SELECT dept_id FROM employees GROUP BY dept_id HAVING count(email) > 1",
    "SELECT name AS salary FROM employees ORDER BY salary * 1 DESC",
    "SELECT name AS email FROM employees ORDER BY email DESC",
    "SELECT id, salary FROM employees",
    "SELECT id, SUM(salary) FROM employees GROUP BY 1",
    "SELECT id AS k, SUM(salary) FROM employees GROUP BY k",
    "SELECT login, SUM(salary) FROM employees GROUP BY login",
    "SELECT SUM(salary) FROM employees GROUP BY id + 0",
    "SELECT SUM(salary) FROM employees GROUP BY ROLLUP (id)",
    "SELECT SUM(salary) FROM employees GROUP BY GROUPING SETS ((id), ())",
    "SELECT SUM(salary) OVER (PARTITION BY id) FROM employees",
    "SELECT e.name, (SELECT SUM(e2.salary) FROM employees e2 WHERE e2.id = e.id) FROM employees e",
    "SELECT d.name, AVG(e.salary) FROM departments d JOIN employees e ON e.dept_id = d.id GROUP BY d.name",
    "SELECT dept_id, AVG(salary) FROM employees GROUP BY dept_id",
    "SELECT e FROM employees e",
    "SELECT e.* FROM employees e",
    "SELECT count(*) FROM employees",
    "SELECT name FROM employees WHERE email IS NULL",
    "SELECT name FROM employees UNION SELECT iban FROM payroll",
    "SELECT name FROM employees UNION SELECT email FROM employees",
    "SELECT x FROM (SELECT email AS x FROM employees) t",
    "SELECT name FROM employees e WHERE EXISTS (SELECT 1 FROM payroll p WHERE p.employee_id = e.id)",
]
_DIALECT_CORPUS: dict[str, list[str]] = {
    "sqlite": [
        "SELECT name FROM sqlite_master",
        "SELECT sql FROM sqlite_master WHERE EXISTS (WITH sqlite_master AS (SELECT 1 AS x) SELECT x FROM sqlite_master)",
        "SELECT SUM(salary) FROM employees GROUP BY rowid",
    ],
    "duckdb": [
        "SELECT * FROM duckdb_databases WHERE EXISTS (WITH duckdb_databases AS (SELECT 1 AS x) SELECT x FROM duckdb_databases)",
        "SELECT * FROM duckdb_columns WHERE EXISTS (WITH duckdb_columns AS (SELECT 1 AS x) SELECT x FROM duckdb_columns)",
        "SELECT * FROM (SUMMARIZE employees)",
        "WITH s AS (SUMMARIZE payroll) SELECT * FROM s",
        "SELECT id FROM employees QUALIFY max(email) OVER () LIKE 'a%'",
        "SELECT id, SUM(salary) FROM employees GROUP BY ALL",
        "SELECT SUM(salary) FROM employees GROUP BY rowid",
        "SELECT v FROM hidden.secrets",
    ],
    "postgres": [
        "SELECT histogram_bounds::text FROM pg_stats WHERE EXISTS (WITH pg_stats AS (SELECT 1 AS x) SELECT x FROM pg_stats)",
        "SELECT * FROM pg_settings WHERE EXISTS (WITH pg_settings AS (SELECT 1 AS x) SELECT x FROM pg_settings)",
        "SELECT datname FROM pg_database WHERE EXISTS (WITH pg_database AS (SELECT 1 AS x) SELECT x FROM pg_database)",
        "SELECT concat(e.*) FROM employees e",
        "SELECT row_to_json(e.*) FROM employees e",
        "SELECT to_jsonb(e.*) FROM employees e",
        "SELECT json_agg(e.*) FROM employees e",
        "SELECT (e.*)::text FROM employees e",
        "SELECT format('%s', e.*) FROM employees e",
        "SELECT SUM(salary) IGNORE NULLS OVER (ORDER BY id) FROM employees",
        "SELECT SUM(salary) FILTER (WHERE id > 0) OVER (PARTITION BY id) FROM employees",
        "SELECT e.name, l.s FROM employees e, LATERAL (SELECT SUM(e2.salary) AS s FROM employees e2 WHERE e2.id = e.id) l",
        "SELECT v FROM hidden.secrets",
    ],
    "mysql": [
        "SELECT e.name, (SELECT SUM(e2.salary) FROM employees e2 WHERE e2.login = e.login) FROM employees e",
    ],
}

_TABLES = {
    "employees": ["id", "login", "name", "dept_id", "salary", "email"],
    "departments": ["id", "name"],
    "payroll": ["employee_id", "iban", "amount"],
}
_OUTSIDE = {
    "sqlite": ["sqlite_master", "sqlite_schema"],
    "duckdb": ["duckdb_columns", "duckdb_databases", "duckdb_tables", "secrets"],
    "postgres": ["pg_stats", "pg_settings", "pg_roles", "pg_database", "secrets", "pg_class"],
    "mysql": ["user", "secrets"],
}
_AGGREGATES = ["SUM", "AVG", "COUNT", "MAX", "MIN"]
_TESTS = ["> 0", "LIKE 'a%'", "IS NULL"]


def corpus(dialect: str) -> list[str]:
    return CORPUS + _DIALECT_CORPUS.get(dialect, [])


class Generator:
    """Random queries over the fixture that combine the shapes of the hostile corpus."""

    def __init__(self, dialect: str, seed: int) -> None:
        self.dialect = dialect
        self.rng = random.Random(f"{seed}:{dialect}")

    def table(self) -> str:
        if self.rng.random() < 0.1:
            return self.rng.choice(_OUTSIDE[self.dialect])
        return self.rng.choice(list(_TABLES))

    def column(self, table: str, alias: str = "") -> str:
        columns = _TABLES.get(table) or ["v", "name", "x"]
        name = self.rng.choice(columns)
        return f"{alias}.{name}" if alias and self.rng.random() < 0.6 else name

    def value(self, table: str, alias: str = "") -> str:
        column = self.column(table, alias)
        shape = self.rng.randrange(6)
        if shape == 0:
            return f"{self.rng.choice(_AGGREGATES)}({column})"
        if shape == 1:
            return f"CAST({column} AS INTEGER)"
        if shape == 2:
            return f"COALESCE({column}, {self.column(table, alias)})"
        return column

    def condition(self, table: str, alias: str = "") -> str:
        column = self.column(table, alias)
        return self.rng.choice(
            [
                f"{column} IS NULL",
                f"{column} LIKE 'a%'",
                f"{column} > 3",
                f"CAST({column} AS INTEGER) > 0",
                f"{column} IN (SELECT {self.column('payroll')} FROM payroll)",
                f"EXISTS (SELECT 1 FROM {self.table()} WHERE {self.column('employees')} IS NOT NULL)",
            ]
        )

    def query(self, depth: int = 0) -> str:
        t = self.table()
        a = "t" + str(depth)
        shapes: list[Callable[[], str]] = [
            lambda: f"SELECT {self.value(t, a)} FROM {t} {a}",
            lambda: f"SELECT {self.column(t, a)} FROM {t} {a} WHERE {self.condition(t, a)}",
            lambda: (
                f"SELECT {self.column(t)} FROM {t} WHERE EXISTS (WITH {t} AS (SELECT 1 AS x) "
                f"SELECT x FROM {t})"
            ),
            lambda: (
                f"WITH {self.rng.choice(list(_TABLES))} AS (SELECT 1 AS x) "
                f"SELECT {self.column(t)} FROM {t}"
            ),
            lambda: (
                f"SELECT {self.column(t)} FROM {t} GROUP BY {self.column(t)} "
                f"HAVING {self.rng.choice(_AGGREGATES)}({self.column(t)}) "
                f"{self.rng.choice(_TESTS)}"
            ),
            lambda: (
                f"SELECT {self.column(t)} AS {self.column(t)} FROM {t} ORDER BY "
                f"{self.column(t)}{self.rng.choice(['', ' * 1', ' DESC'])} LIMIT 1"
            ),
            lambda: (
                f"SELECT {self.column(t)}, {self.rng.choice(['SUM', 'AVG', 'COUNT'])}"
                f"({self.column(t)}) OVER (PARTITION BY {self.column(t)}) FROM {t}"
            ),
            lambda: (
                f"SELECT {self.rng.choice(['COUNT', 'SUM', 'AVG'])}({self.column(t)}) FROM {t} "
                f"GROUP BY {self.rng.choice(['1', self.column(t), 'ROLLUP (' + self.column(t) + ')'])}"
            ),
            lambda: (
                f"SELECT {self.column(t)} FROM {t} UNION SELECT {self.column(t)} FROM {self.table()}"
            ),
            lambda: (
                f"SELECT x FROM ({self.query(depth + 1)}) AS q{depth} (x)"
                if depth < 2
                else f"SELECT {self.column(t)} FROM {t}"
            ),
            lambda: (
                f"SELECT {a}.{self.column(t)}, (SELECT {self.rng.choice(['SUM', 'COUNT'])}"
                f"(i.{self.column('employees')}) FROM employees i WHERE i.id = {a}.{_TABLES.get(t, ['id'])[0]}) "
                f"FROM {t} {a}"
            ),
            lambda: f"SELECT {self.rng.choice(self._star_calls())} FROM {t} {a}",
            lambda: f"SELECT {a} FROM {t} {a}",
        ]
        if self.dialect == "duckdb":
            shapes.append(
                lambda: (
                    f"SELECT {self.column(t)} FROM {t} QUALIFY "
                    f"{self.rng.choice(_AGGREGATES)}({self.column(t)}) OVER () IS NOT NULL"
                )
            )
            shapes.append(
                lambda: f"SELECT {self.column(t)}, SUM({self.column(t)}) FROM {t} GROUP BY ALL"
            )
        if self.dialect in ("postgres", "duckdb", "mysql"):
            shapes.append(
                lambda: (
                    f"SELECT l.v FROM {t} {a}, LATERAL (SELECT {self.column('employees', 'i')} AS v "
                    f"FROM employees i WHERE i.id = {a}.{_TABLES.get(t, ['id'])[0]}) l"
                )
            )
        return self.rng.choice(shapes)()

    def _star_calls(self) -> list[str]:
        a = "t0"
        calls = [f"COUNT({a}.*)", f"COALESCE({a}.*)"]
        if self.dialect == "postgres":
            calls += [f"concat({a}.*)", f"row_to_json({a}.*)", f"({a}.*)::text", f"to_jsonb({a}.*)"]
        return calls

    def __iter__(self) -> Iterator[str]:
        while True:
            yield self.query()


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "dialect": self.dialect,
            "queries": self.queries,
            "allowed": self.allowed,
            "ran": self.ran,
            "differences": len(self.leaks),
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
        if first["status"] != "rejected":
            outcome.allowed += 1
        if first["status"] == "ok":
            outcome.ran += 1
        if first != second:
            outcome.leaks.append(Leak(sql, first, second))
        if progress is not None:
            progress()
    return outcome


def generated(dialect: str, seed: int, count: int) -> list[str]:
    out: list[str] = []
    for sql in Generator(dialect, seed):
        out.append(sql)
        if len(out) >= count:
            return out
    return out


# --- building the two copies ------------------------------------------------------------------


@dataclass
class Copies:
    dialect: str
    urls: tuple[str, str]
    names: tuple[str, str]
    drop: Callable[[], None]


def build(dialect: str, folder: Path, *, pg_admin: str, mysql_host: str = "127.0.0.1") -> Copies:
    """Both copies of the fixture on ``dialect`` (files under ``folder``; databases on the
    servers named ``honestsql_ni_<pid>_a/b``, dropped by ``drop``)."""
    import os

    tag = f"honestsql_ni_{os.getpid()}"
    if dialect == "sqlite":
        paths = []
        for copy in "ab":
            path = folder / copy / "fixture.sqlite"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
            conn = sqlite3.connect(path)
            for statement in statements("sqlite", copy):
                conn.execute(statement)
            conn.commit()
            conn.close()
            paths.append(path)
        return Copies(
            dialect,
            (str(paths[0]), str(paths[1])),
            (str(paths[0].parent), str(paths[1].parent)),
            lambda: None,
        )
    if dialect == "duckdb":
        import duckdb

        paths = []
        for copy in "ab":
            path = folder / copy / "fixture.duckdb"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.unlink(missing_ok=True)
            duck = duckdb.connect(str(path))
            for statement in statements("duckdb", copy):
                duck.execute(statement)
            duck.close()
            paths.append(path)
        return Copies(
            dialect,
            (f"duckdb:///{paths[0]}", f"duckdb:///{paths[1]}"),
            (str(paths[0].parent), str(paths[1].parent)),
            lambda: None,
        )
    names = (f"{tag}_a", f"{tag}_b")
    if dialect == "postgres":
        import psycopg

        base = pg_admin.rsplit("/", 1)[0]
        with psycopg.connect(pg_admin, autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
                admin.execute(f'CREATE DATABASE "{name}"')
        for name, copy in zip(names, "ab", strict=True):
            with psycopg.connect(f"{base}/{name}", autocommit=True) as pg:
                for statement in statements("postgres", copy):
                    pg.execute(statement)

        def drop_pg() -> None:
            with psycopg.connect(pg_admin, autocommit=True) as admin:
                for name in names:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

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
