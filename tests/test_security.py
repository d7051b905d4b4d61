"""The holes a hostile tester found: functions by allow-list, exact names, least privilege,
bounded results, and the smaller defects, each against real databases."""

from __future__ import annotations

import pytest

import honestsql
from honestsql.errors import PrivilegedLogin
from honestsql.guard import GuardedStatement, guard


def refused_for(sql: str, dialect: str) -> set[str]:
    result = guard(sql, dialect)
    return set() if isinstance(result, GuardedStatement) else {f.kind for f in result}


# --- functions by allow-list -----------------------------------------------------------------

PURE = [
    ("postgres", "SELECT date_trunc('month', now()), to_char(now(), 'YYYY'), coalesce(1, 2)"),
    ("postgres", "SELECT * FROM generate_series(1, 3) AS g"),
    (
        "postgres",
        "SELECT string_agg(x, ','), count(*) FILTER (WHERE x > '') FROM (SELECT 'a' AS x) s",
    ),
    ("mysql", "SELECT date_format(now(), '%Y'), ifnull(1, 2), concat('a', 'b')"),
    ("sqlite", "SELECT strftime('%Y', '2024-01-01'), iif(1, 2, 3), group_concat('a')"),
    ("duckdb", "SELECT date_trunc('month', DATE '2024-03-05'), list_value(1, 2), median(1)"),
]


@pytest.mark.parametrize(("dialect", "sql"), PURE)
def test_pure_functions_pass(dialect: str, sql: str) -> None:
    assert refused_for(sql, dialect) == set()


UNLISTED = [
    (
        "postgres",
        "SELECT * FROM ts_stat('SELECT to_tsvector(''simple'', pg_read_file(''/etc/hostname''))')",
    ),
    ("postgres", "SELECT ts_rewrite('a'::tsquery, 'SELECT 1')"),
    ("postgres", "SELECT table_to_xml_and_xmlschema('customers', true, true, '')"),
    ("postgres", "SELECT schema_to_xml_and_xmlschema('public', true, true, '')"),
    ("postgres", "SELECT pg_create_physical_replication_slot('s')"),
    ("postgres", "SELECT pg_drop_replication_slot('s')"),
    ("postgres", "SELECT pg_stat_reset()"),
    ("postgres", "SELECT pg_backup_start('x')"),
    ("postgres", "SELECT * FROM pg_stat_get_activity(NULL)"),
    ("postgres", "SELECT current_setting('data_directory')"),
    ("postgres", "SELECT version()"),
    ("postgres", "SELECT current_user"),
    ("postgres", "SELECT 'pg_shadow'::regclass"),
    ("postgres", "SELECT CAST('pg_authid' AS regclass)"),
    ("postgres", "SELECT pg_catalog.lower('x')"),
    ("postgres", "SELECT * FROM pg_catalog.generate_series(1, 2)"),
    ("postgres", "SELECT some_user_function(1)"),
    ("mysql", "SELECT @@datadir"),
    ("mysql", "SELECT @@session.version"),
    ("mysql", "SELECT user(), database()"),
    ("mysql", "SELECT connection_id()"),
    ("sqlite", "SELECT randomblob(500000000)"),
    ("sqlite", "SELECT sqlite_version()"),
    ("duckdb", "SELECT * FROM glob('/etc/*')"),
    ("duckdb", "SELECT current_setting('threads')"),
]


@pytest.mark.parametrize(("dialect", "sql"), UNLISTED)
def test_unlisted_functions_are_refused_with_their_name(dialect: str, sql: str) -> None:
    result = guard(sql, dialect)
    assert not isinstance(result, GuardedStatement), sql
    assert {f.kind for f in result} == {"forbidden_function"}
    assert all(f.subject for f in result)


def test_the_allow_list_can_be_extended_by_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    assert refused_for("SELECT my_pure(1)", "postgres") == {"forbidden_function"}
    monkeypatch.setenv("HONESTSQL_ALLOWED_FUNCTIONS", "postgres:my_pure, other")
    assert refused_for("SELECT my_pure(1)", "postgres") == set()
    assert refused_for("SELECT my_pure(1)", "mysql") == {"forbidden_function"}
    assert refused_for("SELECT other(1)", "mysql") == set()
    # The deny-list stays a second check: configuration cannot open it.
    monkeypatch.setenv("HONESTSQL_ALLOWED_FUNCTIONS", "pg_read_file")
    assert refused_for("SELECT pg_read_file('/etc/passwd')", "postgres") == {"forbidden_function"}


# --- names resolved exactly ------------------------------------------------------------------


@pytest.fixture(scope="module")
def other_schema(test_databases):  # type: ignore[no-untyped-def]
    """A second PostgreSQL schema with a table named like one of the default schema's."""
    import psycopg

    url = test_databases["postgres"].url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS other_schema")
        conn.execute("CREATE TABLE IF NOT EXISTS other_schema.orders (secret TEXT)")
        conn.execute("INSERT INTO other_schema.orders VALUES ('hidden')")
    return url


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM other_schema.orders",
        "SELECT * FROM pg_catalog.pg_authid",
        "SELECT * FROM information_schema.tables",
        "SELECT * FROM nope.public.orders",
        "SELECT o.secret FROM other_schema.orders AS o",
    ],
)
def test_postgres_names_outside_the_default_schema_are_refused(other_schema: str, sql: str) -> None:
    result = honestsql.check(honestsql.connect(other_schema), sql)
    assert result.status == "rejected", result.to_dict()
    assert result.errors[0].kind == "unknown_table"


@pytest.mark.postgres
def test_postgres_exposed_schema_and_qualified_default(other_schema: str) -> None:
    plain = honestsql.connect(other_schema)
    ok = honestsql.check(plain, "SELECT count(*) FROM public.orders")
    assert ok.ok, ok.to_dict()
    # Executed names carry the schema, so nothing resolves through pg_catalog first.
    assert '"public".orders' in (ok.sql or "") or "public.orders" in (ok.sql or "")
    exposed = honestsql.connect(other_schema, schemas=["other_schema"])
    result = honestsql.check(exposed, "SELECT secret FROM other_schema.orders")
    assert result.ok, result.to_dict()
    assert result.result is not None and result.result.rows == [("hidden",)]
    assert exposed.catalog().table("other_schema.orders") is not None


@pytest.mark.mysql
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM mysql.user",
        "SELECT user, authentication_string FROM mysql.user",
        "SELECT * FROM information_schema.tables",
        "SELECT * FROM performance_schema.threads",
        "SELECT * FROM sys.processlist",
    ],
)
def test_mysql_other_databases_are_refused(test_databases, sql: str) -> None:  # type: ignore[no-untyped-def]
    result = honestsql.check(honestsql.connect(test_databases["mysql"].url), sql)
    assert result.status == "rejected", result.to_dict()


@pytest.mark.mysql
def test_mysql_own_database_may_be_named(test_databases) -> None:  # type: ignore[no-untyped-def]
    url = test_databases["mysql"].url
    name = url.rsplit("/", 1)[-1]
    result = honestsql.check(honestsql.connect(url), f"SELECT count(*) FROM {name}.customers")
    assert result.ok, result.to_dict()


# --- least privilege -------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_superuser_is_refused_and_a_reader_is_not(test_databases, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import psycopg

    monkeypatch.delenv("HONESTSQL_ALLOW_PRIVILEGED")
    url = test_databases["postgres"].url
    with pytest.raises(PrivilegedLogin) as caught:
        honestsql.connect(url).catalog()
    assert "superuser" in caught.value.message and "GRANT SELECT" in caught.value.message
    assert honestsql.connect(url, allow_privileged=True).catalog().table("customers")
    database = url.rsplit("/", 1)[-1]
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS honestsql_test_reader")
        admin.execute("DROP ROLE IF EXISTS honestsql_test_filer")
        admin.execute("CREATE ROLE honestsql_test_reader LOGIN")
        admin.execute(f'GRANT CONNECT ON DATABASE "{database}" TO honestsql_test_reader')
        admin.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO honestsql_test_reader")
        admin.execute("CREATE ROLE honestsql_test_filer LOGIN IN ROLE pg_read_server_files")
    try:
        base = url.replace("postgres@", "{}@", 1)
        reader = honestsql.connect(base.format("honestsql_test_reader"))
        assert honestsql.check(reader, "SELECT count(*) FROM customers").ok
        reader.close()
        with pytest.raises(PrivilegedLogin, match="pg_read_server_files"):
            honestsql.connect(base.format("honestsql_test_filer")).catalog()
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("DROP OWNED BY honestsql_test_reader")
            admin.execute("DROP ROLE honestsql_test_reader")
            admin.execute("DROP ROLE honestsql_test_filer")


@pytest.mark.mysql
def test_mysql_root_is_refused_and_a_reader_is_not(test_databases, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import pymysql

    monkeypatch.delenv("HONESTSQL_ALLOW_PRIVILEGED")
    url = test_databases["mysql"].url
    with pytest.raises(PrivilegedLogin, match="global privileges"):
        honestsql.connect(url).catalog()
    database = url.rsplit("/", 1)[-1]
    admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
    with admin.cursor() as cur:
        cur.execute("DROP USER IF EXISTS 'hsql_reader'@'%'")
        cur.execute("CREATE USER 'hsql_reader'@'%'")
        cur.execute(f"GRANT SELECT ON `{database}`.* TO 'hsql_reader'@'%'")
    try:
        reader = honestsql.connect(f"mysql://hsql_reader@127.0.0.1:3306/{database}")
        assert honestsql.check(reader, "SELECT count(*) FROM customers").ok
        reader.close()
    finally:
        with admin.cursor() as cur:
            cur.execute("DROP USER 'hsql_reader'@'%'")
        admin.close()


# --- bounded results -------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", ["postgres", "mysql", "sqlite"])
def test_a_huge_product_returns_the_capped_rows(test_databases, dialect: str) -> None:  # type: ignore[no-untyped-def]
    """60^6 (4.7 x 10^10) rows with max_rows 5: only a streamed read returns them in time."""
    db = honestsql.connect(test_databases[dialect].url)
    sql = "SELECT a.id, f.total FROM orders a, orders b, orders c, orders d, orders e, orders f"
    result = honestsql.check(db, sql, max_rows=5, timeout=8)
    assert result.ok, result.to_dict()
    assert result.result is not None and len(result.result.rows) == 5 and result.result.truncated
    again = honestsql.check(db, "SELECT count(*) FROM customers")  # the connection still works
    assert again.ok, again.to_dict()
    db.close()


def test_sqlite_values_are_bounded_inside_sqlite(test_databases, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HONESTSQL_ALLOWED_FUNCTIONS", "sqlite:randomblob")
    db = honestsql.connect(test_databases["sqlite"].url)
    result = honestsql.check(db, "SELECT randomblob(500000000)", timeout=5)
    assert result.status == "error" and "too big" in result.errors[0].message


# --- the smaller defects ---------------------------------------------------------------------


@pytest.mark.mysql
def test_mariadb_regexp_runs(test_databases) -> None:  # type: ignore[no-untyped-def]
    db = honestsql.connect(test_databases["mysql"].url)
    for sql in (
        "SELECT count(*) FROM customers WHERE name REGEXP '^A'",
        "SELECT count(*) FROM customers WHERE name RLIKE '^A'",
    ):
        result = honestsql.check(db, sql)
        assert result.ok, result.to_dict()


@pytest.mark.postgres
def test_postgres_explain_with_options(test_databases) -> None:  # type: ignore[no-untyped-def]
    db = honestsql.connect(test_databases["postgres"].url)
    result = honestsql.check(db, "EXPLAIN (FORMAT JSON) SELECT * FROM customers")
    assert result.ok, result.to_dict()
    refused = honestsql.check(db, "EXPLAIN (ANALYZE) SELECT * FROM customers")
    assert refused.status == "rejected"


def test_sqlite_rowid_and_json_each(test_databases) -> None:  # type: ignore[no-untyped-def]
    db = honestsql.connect(test_databases["sqlite"].url)
    rowid = honestsql.check(db, "SELECT rowid, name FROM customers ORDER BY rowid LIMIT 1")
    assert rowid.ok, rowid.to_dict()
    each = honestsql.check(db, "SELECT key, value FROM json_each('[10, 20]')")
    assert each.ok, each.to_dict()
    assert each.result is not None and each.result.rows == [(0, 10), (1, 20)]


def test_byte_order_mark_and_statement_names(test_databases) -> None:  # type: ignore[no-untyped-def]
    db = honestsql.connect(test_databases["sqlite"].url)
    assert honestsql.check(db, "\ufeffSELECT count(*) FROM customers").ok
    listen = guard("LISTEN a", "postgres")
    assert not isinstance(listen, GuardedStatement)
    assert "LISTEN statement" in listen[0].message


def test_ask_without_a_model_offline_says_so_at_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_ENDPOINT": "http://127.0.0.1:9", "HONESTSQL_MODELS_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "honestsql", "ask", "--db", "demo", "--no-audit"]
        + ["--model", "arctic-text2sql-r1-7b", "How many?"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "cannot be reached" in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr and "Retrying" not in proc.stderr


@pytest.mark.parametrize("dialect", ["sqlite", "duckdb", "postgres", "mysql"])
def test_a_long_run_of_joins_without_on_is_refused_before_sqlglot_parses_it(dialect: str) -> None:
    """sqlglot's time doubles with each JOIN without ON (18 take it seconds, 25 a quarter of an
    hour): a looping model or a hostile user could stall a question or the server."""
    from honestsql.parsing import MAX_OPEN_JOINS
    from honestsql.prompts import extract_sql

    def chain(n: int, on: bool = False) -> str:
        join = " JOIN flights AS t{0}" + (" ON t{0}.id = a.id" if on else "")
        return "SELECT a.name FROM airlines AS a" + "".join(join.format(i) for i in range(n))

    refused = guard(chain(18), dialect)
    assert isinstance(refused, list) and "18 JOINs in a row without ON" in refused[0].message
    assert isinstance(guard(chain(MAX_OPEN_JOINS), dialect), GuardedStatement)
    # With their ON conditions, as many joins as anyone likes; CROSS JOINs do not count.
    assert isinstance(guard(chain(60, on=True), dialect), GuardedStatement)
    cross = "SELECT a.name FROM airlines AS a" + " CROSS JOIN flights" * 18
    assert isinstance(guard(cross, dialect), GuardedStatement)
    # A candidate the model wrote looping is read as a query (and refused by check), quickly.
    assert extract_sql(chain(18)) == (chain(18), None)
