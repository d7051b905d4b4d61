"""Schema-grounded verification on the fixture schema, in every dialect, tested by executing."""

from __future__ import annotations

import sys

import pytest
import sqlglot

import honestsql

# Written in PostgreSQL syntax; transpiled by sqlglot to each dialect before checking.
VALID = [
    "SELECT name FROM customers",
    "SELECT c.name, o.total FROM customers AS c JOIN orders AS o ON o.customer_id = c.id WHERE o.total > 100",
    "WITH spend AS (SELECT customer_id, SUM(total) AS s FROM orders GROUP BY customer_id) "
    "SELECT c.name, spend.s FROM customers c JOIN spend ON spend.customer_id = c.id ORDER BY spend.s DESC",
    "SELECT name FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE total > 200)",
    "SELECT c.name, (SELECT COUNT(*) FROM orders o WHERE o.customer_id = c.id) AS n FROM customers c",
    "SELECT name FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.total > 250)",
    'SELECT "Display Name" FROM customers WHERE "Display Name" IS NOT NULL',
    'SELECT c."Display Name" AS shown FROM customers AS c ORDER BY shown',
    "SELECT NAME, Country_Code FROM customers WHERE Age > 30",
    "SELECT t.n FROM (SELECT country_code, COUNT(*) AS n FROM customers GROUP BY country_code) AS t WHERE t.n > 1",
    "SELECT name FROM customers UNION SELECT name FROM products ORDER BY name",
    "SELECT country_code AS cc, COUNT(*) AS n FROM customers GROUP BY country_code ORDER BY n DESC",
    "SELECT c.name, COUNT(o.id) FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.name HAVING COUNT(o.id) >= 0",
    "SELECT a.name, b.name FROM customers a JOIN customers b ON a.country_code = b.country_code AND a.id < b.id",
    "SELECT code, name FROM countries JOIN (SELECT country_code AS code FROM customers) x USING (code)",
    "SELECT COUNT(*) FROM orders WHERE ordered_at >= '2024-06-01'",
    "SELECT COUNT(*) FROM customers WHERE signup_date BETWEEN '2021-01-01' AND '2023-12-31'",
    "SELECT 1 + 1 AS two",
    "SELECT name, CASE WHEN age >= 40 THEN 'senior' ELSE 'junior' END AS band FROM customers",
    "SELECT name, RANK() OVER (ORDER BY age DESC) AS r FROM customers",
    "SELECT p.name, SUM(oi.quantity) FROM order_items oi JOIN products p ON p.id = oi.product_id "
    "JOIN orders o ON o.id = oi.order_id GROUP BY p.name",
    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT r.i + 1 FROM r WHERE r.i < 5) SELECT SUM(i) FROM r",
    "SELECT * FROM countries ORDER BY code",
    "SELECT c.* FROM countries c",
    "SELECT x.name FROM (SELECT * FROM customers) x",
    "SELECT COUNT(DISTINCT country_code) FROM customers",
    "SELECT name FROM customers WHERE country_code IN ('DE', 'FR') AND age BETWEEN 30 AND 60",
    "SELECT name FROM customers WHERE age = '34' OR id = -1",
    "SELECT customers.name FROM customers WHERE customers.age IS NULL",
    "SELECT UPPER(name), LENGTH(email), COALESCE(age, 0) FROM customers",
    "SELECT name, '100%' AS share FROM customers WHERE email LIKE '%@example.com' AND name LIKE 'A%'",
    "EXPLAIN SELECT name FROM customers",
]


def _in(dialect: str, sql: str) -> str:
    if sql.startswith("EXPLAIN "):
        return "EXPLAIN " + _in(dialect, sql[len("EXPLAIN ") :])
    return sqlglot.transpile(sql, read="postgres", write=dialect)[0]


@pytest.fixture
def db(test_db):  # type: ignore[no-untyped-def]
    with honestsql.connect(test_db.url) as database:
        yield database


@pytest.mark.parametrize("sql", VALID)
def test_valid_queries_raise_no_finding_and_run(db, sql: str) -> None:  # type: ignore[no-untyped-def]
    if db.sql_dialect == "spark" and "RECURSIVE" in sql:
        pytest.skip("Spark 4.0 has no recursive common table expressions (4.1 adds them)")
    result = honestsql.check(db, _in(db.sql_dialect, sql))
    assert result.ok, result.to_dict()
    assert result.warnings == []
    assert result.result is not None


# (query, kind, a suggestion that must be offered or None)
INVALID = [
    ("SELECT custmer_name FROM customers", "unknown_column", "customers.name"),
    ("SELECT nme FROM customers c", "unknown_column", "c.name"),
    (
        "SELECT c.totl FROM customers c JOIN orders o ON o.customer_id = c.id",
        "unknown_column",
        None,
    ),
    (
        "SELECT o.totl FROM customers c JOIN orders o ON o.customer_id = c.id",
        "unknown_column",
        "o.total",
    ),
    ("SELECT email_address FROM customers", "unknown_column", "customers.email"),
    (
        "SELECT name FROM customers WHERE countrycode = 'DE'",
        "unknown_column",
        "customers.country_code",
    ),
    ("SELECT t.n2 FROM (SELECT COUNT(*) AS n FROM customers) t", "unknown_column", None),
    ("SELECT * FROM custmers", "unknown_table", "customers"),
    ("SELECT * FROM order_item", "unknown_table", "order_items"),
    ("SELECT x.name FROM customers c", "unknown_table", None),
    (
        "SELECT id FROM customers JOIN orders ON orders.customer_id = customers.id",
        "ambiguous_column",
        "customers.id",
    ),
    ("SELECT name FROM customers c JOIN products p ON p.id = c.id", "ambiguous_column", "p.name"),
    ("SELECT ABS() FROM products", "wrong_arity", None),
    ("SELECT LOWER(name, 'x') FROM customers", "wrong_arity", None),
    ("SELECT SUM(price, id) FROM products", "wrong_arity", None),
    ("SELECT FROM WHERE", "syntax", None),
    # One alias for two tables: refused with a finding, not a crash of the resolver.
    (
        "SELECT t1.name FROM customers AS t1 JOIN orders AS t1 ON t1.id = t1.customer_id",
        "unresolved",
        None,
    ),
]


@pytest.mark.parametrize(("sql", "kind", "suggestion"), INVALID)
def test_each_kind_is_found(db, sql: str, kind: str, suggestion: str | None) -> None:  # type: ignore[no-untyped-def]
    text = sql if kind in {"syntax", "wrong_arity"} else _in(db.sql_dialect, sql)
    result = honestsql.check(db, text)
    assert result.status == "rejected", result.to_dict()
    assert result.result is None, "a rejected query must not run"
    assert result.errors[0].kind == kind, result.to_dict()
    if suggestion is not None:
        assert suggestion in result.errors[0].suggestions


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("SELECT name FROM customers WHERE age = 'old'", "type_mismatch"),
        ("SELECT name FROM customers WHERE name = 42", "type_mismatch"),
        ("SELECT name FROM customers WHERE signup_date > 'yesterday'", "type_mismatch"),
        ("SELECT name FROM customers WHERE age IN (30, 'forty')", "type_mismatch"),
        ("SELECT AVG(customer_id) FROM orders", "identifier_arithmetic"),
        ("SELECT SUM(o.id) FROM orders AS o", "identifier_arithmetic"),
        ("SELECT CAST(order_id AS REAL) / 2 FROM order_items", "identifier_arithmetic"),
    ],
)
def test_a_suspicious_query_is_warned_of_and_still_runs(
    test_databases, sql: str, kind: str
) -> None:  # type: ignore[no-untyped-def]
    with honestsql.connect(test_databases["sqlite"].url) as db:
        result = honestsql.check(db, sql)
        assert [w.kind for w in result.warnings] == [kind]
        # A warning does not block: SQLite runs it; in `ask` it lowers the answer's confidence.
        assert result.ok


def test_identifiers_are_told_by_their_names_against_the_catalog(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    path = tmp_path / "papers.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript(
            """
            CREATE TABLE journal (jid INTEGER, name TEXT);
            CREATE TABLE paper (paperid INTEGER, jid INTEGER, cited INTEGER);
            CREATE TABLE bids (bid REAL, paid INTEGER, uid INTEGER);
            INSERT INTO paper VALUES (1, 7, 3);
            INSERT INTO bids VALUES (2.5, 1, 9);
            """
        )
    flagged = ["SELECT AVG(jid) FROM paper", "SELECT SUM(paperid) FROM paper"]
    plain = [
        "SELECT AVG(bid) FROM bids",  # a real amount, whatever its initial
        "SELECT SUM(paid) FROM bids",
        "SELECT AVG(uid) FROM bids",  # no table begins with u
        "SELECT AVG(cited), MAX(jid), COUNT(paperid) FROM paper",
    ]
    with honestsql.connect(str(path)) as db:
        for sql in flagged:
            assert [w.kind for w in honestsql.check(db, sql).warnings] == [
                "identifier_arithmetic"
            ], sql
        for sql in plain:
            assert honestsql.check(db, sql).warnings == [], sql


def test_syntax_finding_has_position(test_databases) -> None:  # type: ignore[no-untyped-def]
    with honestsql.connect(test_databases["sqlite"].url) as db:
        finding = honestsql.check(db, "SELECT name\nFROM customers WHERE").errors[0]
        assert finding.kind == "syntax"
        assert finding.line == 2


def test_postgres_quoted_identifiers_are_case_sensitive(test_databases) -> None:  # type: ignore[no-untyped-def]
    with honestsql.connect(test_databases["postgres"].url) as db:
        assert honestsql.check(db, 'SELECT "Display Name" FROM customers').ok
        wrong = honestsql.check(db, 'SELECT "display name" FROM customers')
        assert wrong.errors[0].kind == "unknown_column"
        assert honestsql.check(db, "SELECT NAME FROM CUSTOMERS").ok  # unquoted names fold


def test_mysql_table_names_follow_the_server_setting(test_databases) -> None:  # type: ignore[no-untyped-def]
    with honestsql.connect(test_databases["mysql"].url) as db:
        # lower_case_table_names = 0 on Linux: the server itself refuses CUSTOMERS.
        assert db.catalog().table_case_sensitive
        assert honestsql.check(db, "SELECT name FROM CUSTOMERS").errors[0].kind == "unknown_table"
        assert honestsql.check(db, "SELECT NAME FROM customers").ok


def test_an_unknown_column_names_the_table_that_has_it(db) -> None:  # type: ignore[no-untyped-def]
    """The repair message a small model needs: where a column of that name is."""
    result = honestsql.check(db, _in(db.sql_dialect, "SELECT oi.ordered_at FROM order_items oi"))
    message = result.errors[0].message
    assert result.errors[0].kind == "unknown_column"
    assert "ordered_at is a column of orders: JOIN orders ON ... to use it." in message
    result = honestsql.check(
        db,
        _in(
            db.sql_dialect,
            "SELECT ordered_at FROM order_items oi JOIN orders o ON o.id = oi.order_id "
            "WHERE oi.ordered_at > '2024-01-01'",
        ),
    )
    assert "ordered_at is a column of o here: write o.ordered_at." in result.errors[0].message


@pytest.mark.parametrize("step", ["guard", "verify"])
def test_a_check_that_fails_inside_honestsql_refuses_and_runs_nothing(  # type: ignore[no-untyped-def]
    db, monkeypatch, step: str
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise AttributeError("'NoneType' object has no attribute 'name'")

    # honestsql.check is also the name of the function; the module is the one to patch.
    monkeypatch.setattr(sys.modules["honestsql.check"], step, broken)
    result = honestsql.check(db, "SELECT name FROM customers")
    assert result.status == "rejected", result.to_dict()
    assert result.result is None, "a query that could not be checked must not run"
    assert [e.kind for e in result.errors] == ["internal"]
    assert "AttributeError" in result.errors[0].message
