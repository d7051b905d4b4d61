"""The queries of the noninterference bench (``honestsql.benchmarks.noninterference``): the
second hostile tester's attacks written for its fixture, and a seeded generator that combines
their shapes (CTEs shadowing names, HAVING, QUALIFY, ORDER BY aliases, windows, stars inside
functions, set operations, LATERAL, nested and correlated subqueries, casts whose errors quote
a value) over the fixture's tables, denied ones included."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

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
    "SELECT name FROM employees e WHERE EXISTS (SELECT 1 FROM departments d WHERE email LIKE 'a%')",
    "SELECT name FROM employees JOIN (SELECT 'ann@a.example' AS email) x USING (email)",
    "SELECT name FROM employees ORDER BY (SELECT email)",
    "SELECT name, (SELECT email) FROM employees",
    "SELECT row_number() OVER (ORDER BY email), name FROM employees",
    "SELECT count(*) FROM employees GROUP BY name, email HAVING count(*) > 0",
    "SELECT name FROM employees t1 JOIN employees t2 USING (id) WHERE t2.email IS NULL",
    "SELECT * FROM departments payroll, LATERAL (SELECT iban FROM payroll) x",
    "SELECT email FROM staff_mail",
    "SELECT iban FROM tricky",
    "SELECT count(*) FROM tricky",
    "SELECT name FROM employees UNION SELECT name FROM departments ORDER BY email",
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
        "SELECT #6 FROM employees",
        "SELECT name FROM employees ORDER BY #6",
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
    "postgres_duckdb": [
        "SELECT x.name FROM employees AS x(id, login, email, dept_id, salary, name)",
        "SELECT name FROM employees AS x(id, login, email, dept_id, salary, name)",
        "SELECT x.dept_id, x.name FROM employees AS x(id, login, salary) GROUP BY 1, 2",
        "SELECT count(*) FILTER (WHERE email LIKE 'a%') FROM employees",
        "SELECT string_agg(name, ',' ORDER BY email) FROM employees",
    ],
    "mysql": [
        "SELECT e.name, (SELECT SUM(e2.salary) FROM employees e2 WHERE e2.login = e.login) FROM employees e",
    ],
}

_TABLES = {
    "employees": ["id", "login", "name", "dept_id", "salary", "email"],
    "departments": ["id", "name"],
    "payroll": ["employee_id", "iban", "amount"],
    "staff": ["id", "name", "dept_id"],
    "staff_mail": ["id", "email"],
    "tricky": ["iban"],
}
_OUTSIDE = {
    "sqlite": ["sqlite_master", "sqlite_schema"],
    "duckdb": ["duckdb_columns", "duckdb_databases", "duckdb_tables", "secrets"],
    "postgres": ["pg_stats", "pg_settings", "pg_roles", "pg_database", "secrets", "pg_class"],
    "mysql": ["user", "secrets"],
    "spark": ["secrets", "default.employees"],
}
_AGGREGATES = ["SUM", "AVG", "COUNT", "MAX", "MIN"]
_TESTS = ["> 0", "LIKE 'a%'", "IS NULL"]


def corpus(dialect: str) -> list[str]:
    both = _DIALECT_CORPUS["postgres_duckdb"] if dialect in ("postgres", "duckdb") else []
    return CORPUS + _DIALECT_CORPUS.get(dialect, []) + both


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
            shapes.append(lambda: f"SELECT #{self.rng.randint(1, 6)} FROM {t}")
        if self.dialect in ("postgres", "duckdb"):
            shapes.append(lambda: self.renamed(t, a))
        if self.dialect in ("postgres", "duckdb", "mysql", "spark"):
            shapes.append(
                lambda: (
                    f"SELECT l.v FROM {t} {a}, LATERAL (SELECT {self.column('employees', 'i')} AS v "
                    f"FROM employees i WHERE i.id = {a}.{_TABLES.get(t, ['id'])[0]}) l"
                )
            )
        return self.rng.choice(shapes)()

    def renamed(self, t: str, a: str) -> str:
        """A table alias with a column list, which renames the table's columns in order."""
        names = list(_TABLES.get(t) or ["v"])
        self.rng.shuffle(names)
        names = names[: self.rng.randint(1, len(names))]
        return f"SELECT {a}.{self.rng.choice(names)} FROM {t} AS {a}({', '.join(names)})"

    def _star_calls(self) -> list[str]:
        a = "t0"
        calls = [f"COUNT({a}.*)", f"COALESCE({a}.*)"]
        if self.dialect == "postgres":
            calls += [f"concat({a}.*)", f"row_to_json({a}.*)", f"({a}.*)::text", f"to_jsonb({a}.*)"]
        return calls

    def __iter__(self) -> Iterator[str]:
        while True:
            yield self.query()


def generated(dialect: str, seed: int, count: int) -> list[str]:
    out: list[str] = []
    for sql in Generator(dialect, seed):
        out.append(sql)
        if len(out) >= count:
            return out
    return out
