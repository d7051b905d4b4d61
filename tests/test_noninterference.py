"""The access policy's acceptance test: two copies of a fixture that differ only in denied data
must look the same through every query the policy lets run (``honestsql.benchmarks.
noninterference``; the full run of 10,000 generated queries per engine is
``honestsql bench noninterference``). Plus the refusals noninterference cannot see (the
aggregate-only rules: both copies hold the same salaries), the round trip of every hostile
statement, and PostgreSQL's partitions and materialized views."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

import honestsql
from honestsql.benchmarks import noninterference as ni
from honestsql.guard import GuardedStatement, guard

from .conftest import PG_ADMIN

sys.path.insert(0, str(Path(__file__).parent))
from hostile import cases  # noqa: E402

#: The fast slice: the corpus plus this many generated queries per engine, from a fixed seed.
FAST_SLICE = 400
SEED = 27


def _answers(dialect: str) -> None:
    if dialect == "postgres":
        import psycopg

        try:
            psycopg.connect(PG_ADMIN, connect_timeout=3).close()
        except psycopg.OperationalError as exc:
            pytest.skip(f"PostgreSQL does not answer: {exc}")
    if dialect == "mysql":
        import pymysql

        try:
            pymysql.connect(host="127.0.0.1", port=3306, user="root", connect_timeout=3).close()
        except pymysql.err.OperationalError as exc:
            pytest.skip(f"MariaDB does not answer: {exc}")


@pytest.fixture(scope="module", params=ni.DIALECTS)
def copies(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    dialect = request.param
    _answers(dialect)
    built = ni.build(dialect, tmp_path_factory.mktemp(f"ni-{dialect}"), pg_admin=PG_ADMIN)
    # The test servers' logins are superusers (see conftest).
    a = honestsql.connect(built.urls[0], policy=ni.POLICY, allow_privileged=True)
    b = honestsql.connect(built.urls[1], policy=ni.POLICY, allow_privileged=True)
    try:
        yield dialect, a, b, built
    finally:
        a.close()
        b.close()
        built.drop()


def test_the_copies_differ_in_denied_data(copies: Any) -> None:
    """Without the policy the difference is there to find (else the test could not fail)."""
    dialect, _, _, built = copies
    plain = [honestsql.connect(url, allow_privileged=True) for url in built.urls]
    try:
        rows = [honestsql.check(db, "SELECT iban FROM payroll").result for db in plain]
        assert rows[0] is not None and rows[1] is not None
        assert rows[0].json_rows() != rows[1].json_rows()
    finally:
        for db in plain:
            db.close()


def test_no_allowed_query_tells_the_copies_apart(copies: Any) -> None:
    dialect, a, b, built = copies
    queries = ni.corpus(dialect) + ni.generated(dialect, SEED, FAST_SLICE)
    outcome = ni.compare(dialect, a, b, queries, built.names)
    assert outcome.queries == len(queries)
    assert outcome.ran > FAST_SLICE // 5, "the generator must produce queries that run"
    assert not outcome.leaks, [leak.sql for leak in outcome.leaks[:10]]


def test_the_hostile_tester_s_queries_are_refused(copies: Any) -> None:
    dialect, a, _, _ = copies
    refused = [q for q in ni.corpus(dialect) if not q.startswith(ALLOWED_PREFIXES)]
    for sql in refused:
        result = honestsql.check(a, sql)
        assert result.status == "rejected", (sql, result.to_dict())


ALLOWED_PREFIXES = (
    "SELECT dept_id, AVG(salary) FROM employees GROUP BY dept_id",
    "SELECT d.name, AVG(e.salary)",
    "SELECT count(*) FROM employees",
)

#: Aggregate-only uses that single out a row, in every spelling the tester found.
ROW_BY_ROW = {
    "common": [
        "SELECT id, SUM(salary) FROM employees GROUP BY 1",
        "SELECT id AS k, SUM(salary) FROM employees GROUP BY k",
        "SELECT login, SUM(salary) FROM employees GROUP BY login",
        "SELECT SUM(salary) FROM employees GROUP BY id + 0",
        "SELECT SUM(salary) FROM employees GROUP BY ROLLUP (id)",
        "SELECT e.name, (SELECT SUM(e2.salary) FROM employees e2 WHERE e2.id = e.id) FROM employees e",
        "SELECT p.employee_id FROM employees e JOIN departments d ON d.id = e.dept_id "
        "JOIN employees p ON p.id = e.id GROUP BY p.employee_id",
        "SELECT name AS salary FROM employees ORDER BY salary * 1 DESC",
        "SELECT dept_id FROM employees GROUP BY dept_id HAVING salary > 1",
        "SELECT SUM(salary) OVER (PARTITION BY dept_id) FROM employees",
    ],
    "sqlite": ["SELECT SUM(salary) FROM employees GROUP BY rowid"],
    "duckdb": [
        "SELECT id, SUM(salary) FROM employees GROUP BY ALL",
        "SELECT SUM(salary) FROM employees GROUP BY rowid",
        "SELECT id FROM employees QUALIFY SUM(salary) OVER (PARTITION BY id) > 0",
    ],
    "postgres": [
        "SELECT SUM(salary) FILTER (WHERE id > 0) OVER (PARTITION BY id) FROM employees",
        "SELECT SUM(salary) IGNORE NULLS OVER (ORDER BY id) FROM employees",
        "SELECT SUM(salary) FROM employees GROUP BY GROUPING SETS ((id), ())",
        "SELECT e.name, l.s FROM employees e, LATERAL "
        "(SELECT SUM(e2.salary) AS s FROM employees e2 WHERE e2.dept_id = e.dept_id) l",
    ],
    "mysql": [],
}
AGGREGATES_ALLOWED = [
    ("SELECT dept_id, AVG(salary) FROM employees GROUP BY dept_id ORDER BY dept_id", 3),
    ("SELECT SUM(salary), COUNT(salary) FROM employees", 1),
    (
        "SELECT d.name, AVG(e.salary) FROM departments d JOIN employees e ON e.dept_id = d.id "
        "GROUP BY d.name",
        3,
    ),
    ("SELECT name, COUNT(salary) FROM employees GROUP BY name HAVING SUM(salary) > 0", 5),
]


def test_aggregate_only_never_singles_out_a_row(copies: Any) -> None:
    dialect, a, _, _ = copies
    for sql in ROW_BY_ROW["common"] + ROW_BY_ROW[dialect]:
        result = honestsql.check(a, sql)
        assert result.status == "rejected", (sql, result.to_dict())
    for sql, rows in AGGREGATES_ALLOWED:
        result = honestsql.check(a, sql)
        assert result.ok and result.result is not None, (sql, result.to_dict())
        assert len(result.result.rows) == rows


def _reads_back(statement: Any, executable: str, dialect: str) -> bool:
    """Whether ``executable`` parses back to the checked tree: the same nodes, but a dollar
    quote reads back as a quote, and types are left to sqlglot's dialects (MySQL's INTEGER is
    written SIGNED and read back as BIGINT)."""

    def plain(tree: Any) -> Any:
        tree = tree.copy()
        for raw in list(tree.find_all(exp.RawString)):
            raw.replace(exp.Literal.string(raw.this))
        for kind in list(tree.find_all(exp.DataType)):
            if kind.parent is not None:
                kind.replace(exp.Var(this="type"))
        for node in tree.walk():
            node.args.pop("_type", None)  # sqlglot's inferred type, not part of the SQL
        return tree

    return bool(plain(sqlglot.parse_one(executable, read=dialect)) == plain(statement))


def test_what_runs_is_what_was_checked() -> None:
    """Every hostile and generated statement the guard lets through reads back as the tree it
    checked; a construct the generator would drop is refused."""
    statements = [(d, sql) for d, _, sql in cases()] + [
        (d, sql) for d in ni.DIALECTS for sql in ni.corpus(d) + ni.generated(d, SEED, FAST_SLICE)
    ]
    passed = 0
    for dialect, sql in statements:
        guarded = guard(sql, dialect)
        if isinstance(guarded, GuardedStatement):
            passed += 1
            assert _reads_back(guarded.expression, guarded.sql, dialect), sql[:200]
    assert passed > 1000
    refused = guard("SELECT SUM(x) IGNORE NULLS OVER (ORDER BY y) FROM t", "postgres")
    assert isinstance(refused, list) and refused[0].subject == "round trip"


@pytest.mark.postgres
def test_postgres_children_and_materialized_views_of_denied_data(test_databases: Any) -> None:
    fixture = test_databases["postgres"]
    statements = [
        "CREATE TABLE pay (employee_id INT, iban TEXT, year INT) PARTITION BY LIST (year)",
        "CREATE TABLE pay_2024 PARTITION OF pay FOR VALUES IN (2024)",
        "INSERT INTO pay VALUES (1, 'DE00 SECRET', 2024)",
        "CREATE TABLE notes (customer_id INT, body TEXT)",
        "CREATE TABLE notes_old () INHERITS (notes)",
        "INSERT INTO notes_old VALUES (1, 'hidden note')",
        "CREATE MATERIALIZED VIEW mv_emails AS SELECT name, email FROM customers",
        "CREATE MATERIALIZED VIEW mv_names AS SELECT name FROM customers",
    ]
    conn = fixture.connect_writable()
    for statement in statements:
        conn.execute(statement)
    try:
        db = honestsql.connect(fixture.url, policy={"deny": ["pay", "notes", "customers.email"]})
        try:
            names = {t.name for t in db.catalog().tables}
            assert {"pay", "pay_2024", "notes", "notes_old", "mv_emails"}.isdisjoint(names)
            assert "mv_names" in names
            for sql in (
                "SELECT iban FROM pay_2024",
                "SELECT body FROM notes_old",
                "SELECT email FROM mv_emails",
            ):
                result = honestsql.check(db, sql)
                assert result.status == "rejected" and result.errors[0].kind == "denied", sql
            assert honestsql.check(db, "SELECT name FROM mv_names").ok
            samples = repr(db.catalog(refresh=True).model_dump())
            assert "SECRET" not in samples and "hidden note" not in samples
        finally:
            db.close()
    finally:
        for name in (
            "MATERIALIZED VIEW mv_names",
            "MATERIALIZED VIEW mv_emails",
            "TABLE notes_old",
            "TABLE notes",
            "TABLE pay",
        ):
            conn.execute(f"DROP {name}")
        conn.close()


def test_a_100_kb_statement_is_answered_within_its_timeout(test_databases: Any) -> None:
    import time

    with honestsql.connect(test_databases["sqlite"].url) as db:
        for n in (7_000, 12_000):
            sql = "SELECT id FROM customers WHERE " + " OR ".join(f"id = {i}" for i in range(n))
            assert len(sql) > 90_000 or n == 7_000
            started = time.perf_counter()
            result = honestsql.check(db, sql[:100_000].rsplit(" OR ", 1)[0], timeout=10.0)
            assert time.perf_counter() - started < 10.0
            assert not result.ok and result.errors
        too_many = "SELECT 1 WHERE " + " OR ".join("1 = 1" for _ in range(9_000))
        result = honestsql.check(db, too_many)
        assert result.status == "rejected" and "terms" in result.errors[0].message


def test_noninterference_on_spark() -> None:
    """The same comparison on a Spark Connect server (``.ci/run`` starts one): two databases of
    Parquet tables that differ only in denied data."""
    from honestsql.db.spark_server import answers

    from . import spark_fixture

    where = spark_fixture.SPARK_URL.split("//", 1)[1].split("/", 1)[0]
    host, _, port = where.partition(":")
    if not answers(int(port or 15002), host or "127.0.0.1"):
        pytest.skip(f"Spark Connect at {spark_fixture.SPARK_URL} does not answer")
    names = (f"honestsql_ni_{os.getpid()}_a", f"honestsql_ni_{os.getpid()}_b")
    conn = spark_fixture.SparkWritable("default")
    try:
        conn.session.conf.set("spark.sql.storeAssignmentPolicy", "LEGACY")
        for name, copy in zip(names, "ab", strict=True):
            script = ";\n".join(
                s for s in ni.statements("postgres", copy) if "hidden" not in s and s != "ANALYZE"
            ).replace(" UNIQUE", "")
            conn.execute(f"DROP DATABASE IF EXISTS {name} CASCADE")
            conn.execute(f"CREATE DATABASE {name}")
            for statement in spark_fixture.spark_statements(script, name):
                conn.execute(statement)
    finally:
        conn.close()
    urls = [f"{spark_fixture.SPARK_URL}/;database={name}" for name in names]
    a, b = (honestsql.connect(url, policy=ni.POLICY, allow_privileged=True) for url in urls)
    try:
        queries = ni.corpus("spark") + ni.generated("spark", SEED, FAST_SLICE // 4)
        outcome = ni.compare("spark", a, b, queries, names)
        assert outcome.ran > 10
        assert not outcome.leaks, [(leak.sql, leak.a, leak.b) for leak in outcome.leaks[:3]]
    finally:
        a.close()
        b.close()
        for name in names:
            spark_fixture.drop(name)
