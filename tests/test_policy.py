"""The access policy on all four databases: denied objects never reach a prompt and no query
reaches them, wherever they hide. Real databases, hostile queries, no mocks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import honestsql
from honestsql import policy, prompts
from honestsql.errors import InvalidInput
from honestsql.pipeline import Pipeline, Settings

from .chat_server import ChatServer, is_repair

POLICY = {"deny": ["order_items", "customers.email"], "aggregate_only": ["customers.age"]}
VIEWS = [
    ("pol_emails", "SELECT name, email FROM customers"),
    ("pol_names", "SELECT name, country_code FROM customers"),
    ("pol_over", "SELECT * FROM pol_emails"),
    ("pol_ages", "SELECT country_code, AVG(age) AS mean_age FROM customers GROUP BY country_code"),
]

DENIED = [
    "SELECT email FROM customers",
    "SELECT * FROM customers",
    "SELECT c.* FROM customers c",
    "SELECT c.* FROM orders o JOIN customers c ON c.id = o.customer_id",
    "SELECT x FROM (SELECT email AS x FROM customers) t",
    "WITH e AS (SELECT email FROM customers) SELECT * FROM e",
    "SELECT name FROM customers WHERE email LIKE '%example%'",
    "SELECT name FROM customers ORDER BY email",
    "SELECT COUNT(*) FROM order_items",
    "SELECT name FROM products WHERE id IN (SELECT product_id FROM order_items)",
    "SELECT name FROM customers UNION SELECT email FROM customers",
    "SELECT c FROM customers c",
    "SELECT name FROM customers c WHERE EXISTS "
    "(SELECT 1 FROM orders o WHERE o.customer_id = c.id AND c.email LIKE 'a%')",
    "SELECT o.total FROM orders o JOIN customers c USING (email)",
    "SELECT name FROM customers NATURAL JOIN orders",
    "SELECT Email FROM customers",
    "SELECT age FROM customers",
    "SELECT MAX(age) FROM customers",
    "SELECT name FROM customers ORDER BY age DESC",
    "SELECT name FROM customers WHERE age > 40",
    "SELECT id, AVG(age) FROM customers GROUP BY id",
    "SELECT SUM(CASE WHEN id = 1 THEN age END) FROM customers",
    "SELECT AVG(age) OVER (PARTITION BY id) FROM customers",
    "SELECT * FROM pol_emails",
    "SELECT name FROM pol_over",
]
ALLOWED = [
    ("SELECT COUNT(*) FROM customers", [[5]]),
    ("SELECT name FROM customers WHERE country_code = 'DE' ORDER BY name", [["Anna"], ["Emil"]]),
    ("SELECT COUNT(age) FROM customers", [[4]]),
    ("SELECT country_code, COUNT(age) FROM customers GROUP BY country_code ORDER BY 1", None),
    ("SELECT o.id FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.id = 1", [[1]]),
    ("SELECT name FROM pol_names WHERE country_code = 'FR'", [["Ben"]]),
    ("SELECT country_code FROM pol_ages WHERE country_code = 'JP'", [["JP"]]),
]


def _run(test_db: Any, statements: list[str]) -> None:
    conn = test_db.connect_writable()
    cur = conn.cursor()
    for statement in statements:
        cur.execute(statement)
    conn.commit()
    conn.close()


@pytest.fixture
def guarded(test_db) -> Any:  # type: ignore[no-untyped-def]
    _run(test_db, [f"CREATE VIEW {name} AS {body}" for name, body in VIEWS])
    db = honestsql.connect(test_db.url, policy=POLICY)
    try:
        yield test_db, db
    finally:
        db.close()
        _run(test_db, [f"DROP VIEW {name}" for name, _ in reversed(VIEWS)])


def _schema_qualified(test_db: Any, db: honestsql.Database) -> str:
    catalog = db.catalog()
    schema = catalog.default_schema or "main"
    return f"SELECT {schema}.customers.email FROM {schema}.customers"


def test_denied_queries_never_run(guarded: Any) -> None:
    test_db, db = guarded
    before = test_db.checksum()
    for sql in [*DENIED, _schema_qualified(test_db, db)]:
        result = honestsql.check(db, sql)
        assert result.status == "rejected", sql
        assert result.result is None and [f.kind for f in result.errors] == ["denied"], (
            sql,
            result.errors,
        )
    assert test_db.checksum() == before


def test_allowed_queries_run(guarded: Any) -> None:
    _, db = guarded
    for sql, rows in ALLOWED:
        result = honestsql.check(db, sql)
        assert result.ok, (sql, result.errors)
        if rows is not None:
            assert result.result is not None and result.result.json_rows() == rows


def test_denied_objects_never_reach_the_prompt(guarded: Any) -> None:
    test_db, db = guarded
    catalog = db.catalog()
    names = {t.name for t in catalog.tables}
    assert "order_items" not in names and {"pol_emails", "pol_over"}.isdisjoint(names)
    assert {"pol_names", "pol_ages", "customers"} <= names
    customers = catalog.table("customers")
    assert customers is not None and customers.column("email") is None
    age = customers.column("age")
    assert age is not None and age.aggregate_only and age.samples == []
    # Nothing was even sampled from the denied column: the raw catalog holds no value of it.
    raw = db.access.catalog.table("customers")  # type: ignore[union-attr]
    assert raw.column("email").samples == []  # type: ignore[union-attr]
    assert raw.column("name").samples  # type: ignore[union-attr]
    text = prompts.render_schema(catalog, db.sql_dialect).text
    assert "email" not in text.lower() and "order_items" not in text and "example.com" not in text
    assert "AVG(col)" in text  # the model is told how the aggregate-only column may be used
    assert db.access.denied_views.keys() == {"pol_emails", "pol_over"}  # type: ignore[union-attr]


def test_the_model_cannot_reach_a_denied_column(tmp_path: Path, test_databases: Any) -> None:
    from honestsql.llm.openai_compat import OpenAICompatible

    bad = "SELECT email FROM customers WHERE name = 'Anna'"

    def reply(request: dict[str, Any]) -> list[str]:
        return [bad] * max(1, request.get("n") or 1)

    with (
        honestsql.connect(test_databases["sqlite"].url, policy=POLICY) as db,
        ChatServer(reply) as server,
    ):
        backend = OpenAICompatible(base_url=server.base_url, model="scripted", max_retries=2)
        answer = Pipeline(db, backend, Settings(candidates=3, calibrated=False)).ask(
            "What is Anna's email address?"
        )
        repairs = [r for r in server.requests if is_repair(r)]
    assert answer.decision == "abstain" and answer.rows == []
    assert all(c["status"] == "rejected" for c in answer.candidates)
    assert answer.candidates[0]["errors"][0]["kind"] == "denied"
    assert repairs and "The policy denies customers.email" in repairs[0]["messages"][-1]["content"]
    first = server.requests[0]["messages"][-1]["content"]
    assert "email" not in first.split("Question")[0].lower()


def test_policy_files_are_checked(tmp_path: Path, test_databases: Any) -> None:
    url = test_databases["sqlite"].url
    cases = [
        ("deny: [payrol]\n", "'payrol', which is no table"),
        ("deny: [customers.emial]\n", "'customers.emial'"),
        ("aggregate_only: [customers]\n", "'customers', which is no table.column"),
        ("allow: [customers]\n", "unknown keys 'allow'"),
        ("deny: customers.email: x\n", "not valid YAML"),
        ("deny: [1]\n", "must be a list of names"),
        ("- customers\n", "must be a mapping"),
    ]
    for text, message in cases:
        path = tmp_path / "policy.yaml"
        path.write_text(text)
        with pytest.raises(InvalidInput, match=message):
            honestsql.connect(url, policy=path).catalog()
    with pytest.raises(InvalidInput, match="Cannot read"):
        policy.load(tmp_path / "missing.yaml")


def test_policy_from_the_environment_and_the_cli(
    tmp_path: Path, test_databases: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(json.dumps(POLICY))
    url = test_databases["sqlite"].url
    monkeypatch.setenv("HONESTSQL_POLICY", str(path))
    with honestsql.connect(url) as db:
        assert honestsql.check(db, "SELECT email FROM customers").errors[0].kind == "denied"
    monkeypatch.delenv("HONESTSQL_POLICY")
    command = [sys.executable, "-m", "honestsql", "check", "--db", url, "--json"]
    run = subprocess.run(
        [*command, "--policy", str(path), "SELECT email FROM customers"],
        capture_output=True,
        text=True,
    )
    body = json.loads(run.stdout)
    assert run.returncode == 1 and body["errors"][0]["kind"] == "denied"
    run = subprocess.run([*command, "SELECT email FROM customers"], capture_output=True, text=True)
    assert run.returncode == 0 and json.loads(run.stdout)["ok"]
    schema = subprocess.run(
        [sys.executable, "-m", "honestsql", "schema", "--db", url, "--policy", str(path), "--json"],
        capture_output=True,
        text=True,
    )
    assert schema.returncode == 0, schema.stderr
    assert "email" not in schema.stdout and "order_items" not in schema.stdout
