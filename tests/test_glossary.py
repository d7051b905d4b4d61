"""Business terms: verified against the schema, shown to the model when mentioned, and an answer
that recomputes a defined term its own way is sent back, never answered with a confidence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import honestsql
from honestsql import glossary
from honestsql.errors import InvalidInput
from honestsql.llm.openai_compat import OpenAICompatible
from honestsql.service import Service
from honestsql.settings import Settings

from .chat_server import ChatServer, is_repair

TERMS = {
    "terms": {
        "revenue": {
            "sql": "SUM(order_items.quantity * products.price)",
            "synonyms": ["turnover", "sales"],
            "description": "what customers paid",
        },
        "European customer": "countries.continent = 'Europe'",
    },
    "time_columns": {"orders": "ordered_at"},
}
DEFINED = (
    "SELECT SUM(order_items.quantity * products.price) FROM order_items "
    "JOIN products ON products.id = order_items.product_id"
)
OWN_WAY = "SELECT SUM(products.price) FROM products"


def _service(url: str, server: ChatServer, **options: Any) -> Service:
    backend = OpenAICompatible(base_url=server.base_url, model="scripted", max_retries=2)
    return Service(
        url, backend=backend, settings=Settings(candidates=3, calibrated=False), **options
    )


def test_definitions_reach_the_prompt_and_are_enforced(test_databases: Any) -> None:
    url = test_databases["sqlite"].url

    def reply(request: dict[str, Any]) -> list[str]:
        n = max(1, request.get("n") or 1)
        return [DEFINED if is_repair(request) else OWN_WAY] * n

    with ChatServer(reply) as server, _service(url, server, glossary=TERMS) as service:
        answer = service.ask("What was our total turnover?")
        prompt = server.requests[0]["messages"][-1]["content"]
        repairs = [r["messages"][-1]["content"] for r in server.requests if is_repair(r)]
    # The synonym brought the definition into the prompt.
    assert "'revenue' means SUM(order_items.quantity * products.price)" in prompt
    assert "what customers paid" in prompt
    # The candidates recomputed revenue their own way: refused, told the definition, repaired.
    assert repairs and "does not use the glossary's definition of 'revenue'" in repairs[0]
    assert all(c["first_sql"] == OWN_WAY and c["repairs"] == 1 for c in answer.candidates)
    assert answer.decision == "answer" and answer.sql == DEFINED
    expected = honestsql.check(url, DEFINED).result
    assert expected is not None and answer.rows == expected.json_rows()


def test_a_term_not_mentioned_stays_out_and_time_columns_follow_time_words(
    test_databases: Any,
) -> None:
    terms = glossary.load(TERMS)
    assert terms is not None
    assert terms.hint("How many products are there?") == ""
    assert terms.hint("How many orders in 2024?") == "dates: use orders.ordered_at"
    hint = terms.hint("Revenue from European customers last month")
    assert "'revenue' means" in hint and "'European customer' means" in hint  # plurals too
    assert "orders.ordered_at" in hint
    # A query that uses the definition, aliased or not, contradicts nothing.
    aliased = (
        "SELECT SUM(oi.quantity * p.price) FROM order_items oi JOIN products p ON p.id = "
        "oi.product_id"
    )
    assert terms.contradictions(aliased, "total revenue?", "sqlite") == []
    assert [f.kind for f in terms.contradictions(OWN_WAY, "total revenue?", "sqlite")] == [
        "glossary"
    ]
    assert terms.contradictions(OWN_WAY, "how many products?", "sqlite") == []


def test_broken_glossaries_name_the_term(test_databases: Any, tmp_path: Path) -> None:
    url = test_databases["sqlite"].url
    cases: list[tuple[Any, str]] = [
        ({"revenue": "SUM(order_items.qty)"}, "term 'revenue'.*no column 'order_items.qty'"),
        ({"revenue": "SUM(quantity)"}, "term 'revenue'.*table.column"),
        ({"revenue": "SUM(order_items.quantity"}, "term 'revenue'.*does not parse"),
        (
            {"terms": {"x": "products.price"}, "time_columns": {"orders": "created"}},
            "orders.created",
        ),
        ({"revenue": {"sql": "SUM(products.price)", "unit": "EUR"}}, "unknown keys 'unit'"),
        ({"revenue": 3}, "needs its SQL"),
    ]
    with honestsql.connect(url) as db:
        for data, message in cases:
            with pytest.raises(InvalidInput, match=message):
                loaded = glossary.load(data)
                assert loaded is not None
                loaded.verify(db)
    with (
        honestsql.connect(url, policy={"deny": ["products.price"]}) as db,
        pytest.raises(InvalidInput, match="denies products.price"),
    ):
        glossary.load({"revenue": "SUM(products.price)"}).verify(db)  # type: ignore[union-attr]
    with pytest.raises(InvalidInput, match="Cannot read"):
        glossary.load(tmp_path / "missing.yaml")


def test_glossary_check_command(test_databases: Any, tmp_path: Path) -> None:
    path = tmp_path / "glossary.yaml"
    path.write_text(json.dumps(TERMS))
    url = test_databases["sqlite"].url
    command = [sys.executable, "-m", "honestsql", "glossary", "check", "--db", url, "--json"]
    run = subprocess.run([*command, "--glossary", str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    body = json.loads(run.stdout)
    assert [t["name"] for t in body["terms"]] == ["revenue", "European customer"]
    broken = tmp_path / "broken.yaml"
    broken.write_text("revenue: SUM(order_items.qty)\n")
    run = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "HONESTSQL_GLOSSARY": str(broken)},
    )
    assert run.returncode == 1 and "'revenue'" in json.loads(run.stdout)["error"]["message"]
