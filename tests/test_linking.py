"""The schema linker on a fixture schema, and a small recall regression on hand-written questions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import honestsql
from honestsql.catalog import Catalog, Column, ForeignKey, Table
from honestsql.linking import select_tables
from honestsql.linking.budget import table_tokens
from honestsql.linking.linker import SchemaLinker, tokens
from honestsql.prompts import render_schema


def _catalog() -> Catalog:
    def t(
        name: str,
        cols: list[str],
        pk: str | None = None,
        fks: list[ForeignKey] | None = None,
        **kw: str,
    ) -> Table:
        return Table(
            name=name,
            columns=[Column(name=c, type="TEXT", primary_key=c == pk) for c in cols],
            primary_key=[pk] if pk else [],
            foreign_keys=fks or [],
            **kw,
        )

    return Catalog(
        dialect="sqlite",
        fingerprint="fixture",
        tables=[
            t(
                "people",
                ["PersonID", "FullName", "NetWorth_Millions", "BirthYear", "Age"],
                "PersonID",
            ),
            t("companies", ["CompanyID", "CompanyName", "Industry", "HQ_City"], "CompanyID"),
            t(
                "employment",
                ["PersonID", "CompanyID", "StartYear"],
                None,
                [
                    ForeignKey(columns=["PersonID"], ref_table="people", ref_columns=["PersonID"]),
                    ForeignKey(
                        columns=["CompanyID"], ref_table="companies", ref_columns=["CompanyID"]
                    ),
                ],
            ),
            t("weather", ["StationCode", "Temperature", "Humidity", "ObservedOn"], "StationCode"),
            t("flights", ["FlightNo", "Origin", "Destination", "DepartureTime"], "FlightNo"),
        ],
    )


def test_identifier_splitting() -> None:
    assert tokens("NetWorth_Millions") == ["net", "worth", "millions", "million"]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What is the net worth in millions of each person?", {("people", "NetWorth_Millions")}),
        ("Who is the youngest person?", {("people", "Age")}),  # a hint word, not the column name
        ("Which people were born in 1980?", {("people", "BirthYear")}),
        ("How humid was it at each station?", {("weather", "Humidity")}),
    ],
)
def test_linker_finds_columns(question: str, expected: set[tuple[str, str]]) -> None:
    result = SchemaLinker(_catalog()).link(question, column_fraction=0.3)
    assert expected <= result.columns


def test_keys_and_join_tables_come_along() -> None:
    linker = SchemaLinker(_catalog())
    result = linker.link("Which person works for which company name?", column_fraction=0.25)
    assert {("people", "PersonID"), ("companies", "CompanyID")} <= result.columns  # primary keys
    # The bridge table that joins the two is kept with its foreign keys.
    assert {("employment", "PersonID"), ("employment", "CompanyID")} <= result.columns
    assert "weather" not in result.tables


def test_the_best_group_of_joined_tables_is_kept_whole_when_it_fits() -> None:
    fixture = _catalog()  # unrelated tables first, so that rank order alone would reach them
    catalog = fixture.model_copy(update={"tables": list(reversed(fixture.tables))})
    group = ["people", "companies", "employment"]
    group_tokens = sum(table_tokens(catalog.table(name)) for name in group)  # type: ignore[arg-type]
    linker = SchemaLinker(catalog)
    question = "Which company does each person work for?"
    whole = linker.link(question, token_budget=group_tokens)
    every = {(name, c.name) for name in group for c in catalog.table(name).columns}  # type: ignore[union-attr]
    assert every <= whole.columns  # Industry, HQ_City, StartYear... though the question names none
    assert whole.tokens <= group_tokens
    assert not {t for t, _ in whole.columns} - set(group)  # the budget went to that group only
    # A budget the group does not fit: its best columns, not all of it.
    cut = linker.link(question, token_budget=group_tokens - 10)
    assert cut.tokens <= group_tokens - 10
    assert not every <= cut.columns
    assert {("companies", "CompanyName"), ("people", "PersonID")} <= cut.columns


def test_budgets_are_respected() -> None:
    linker = SchemaLinker(_catalog())
    for budget in (10, 25, 60):
        assert linker.link("net worth of people", token_budget=budget).tokens <= budget
    total = _catalog().column_count
    assert (
        len(linker.link("flights", column_fraction=0.2).columns) <= round(total * 0.2) + 4
    )  # + keys


def test_prompt_schema_is_cut_only_when_it_does_not_fit() -> None:
    catalog = _catalog()
    render = lambda tables: render_schema(catalog, "sqlite", tables).text  # noqa: E731
    assert len(select_tables("anything", catalog, 100_000, render)) == 5
    chosen = select_tables("Which flights leave from Origin Paris?", catalog, 200, render)
    assert chosen[0].name == "flights" and len(render(chosen)) <= 200


def test_a_wide_table_is_shown_with_only_the_linked_columns() -> None:
    catalog = _catalog()
    wide = Table(
        name="measurements",
        columns=[Column(name="MeasurementID", type="INTEGER", primary_key=True)]
        + [Column(name=f"Sensor{i}_Reading", type="REAL") for i in range(60)]
        + [Column(name="Humidity", type="REAL")],
        primary_key=["MeasurementID"],
    )
    catalog = Catalog(dialect="sqlite", fingerprint="wide", tables=[*catalog.tables, wide])
    render = lambda tables: render_schema(catalog, "sqlite", tables).text  # noqa: E731
    assert len(render([wide])) > 1000
    chosen = select_tables(
        "What is the average humidity of the measurements?", catalog, 1000, render
    )
    assert len(render(chosen)) <= 1000
    shown = next(t for t in chosen if t.name == "measurements")
    names = [c.name for c in shown.columns]
    assert "Humidity" in names and "MeasurementID" in names and len(names) < 62
    assert catalog.table("measurements").column("Sensor5_Reading") is not None  # not changed


QUESTIONS = [
    ("How many customers live in Germany?", {("customers", "country_code"), ("countries", "name")}),
    ("What is the average rating of each product?", {("reviews", "rating"), ("products", "name")}),
    ("Which orders were cancelled?", {("orders", "status")}),
    (
        "List the products in the Books category",
        {("products", "category_id"), ("categories", "name")},
    ),
    ("When did each customer sign up?", {("customers", "signup_date")}),
]


def test_recall_regression_on_the_demo() -> None:
    """A floor, not a target: hand-written questions whose needed columns must be kept at 40%."""
    with honestsql.connect("demo") as db:
        linker = SchemaLinker(db.catalog())
    hits = sum(needed <= linker.link(q, column_fraction=0.4).columns for q, needed in QUESTIONS)
    assert hits >= 4, hits


def test_value_index_finds_the_column_holding_a_quoted_value() -> None:
    from honestsql.linking.values import ValueIndex

    with honestsql.connect("demo") as db:
        index = ValueIndex.build(db)
        catalog = db.catalog()
    top = lambda q: [(h.table, h.column, h.value) for h in index.lookup(q)][:1]  # noqa: E731
    assert top("How many customers live in Germany?") == [("countries", "name", "Germany")]
    assert top("Which orders were cancelled?") == [("orders", "status", "cancelled")]
    assert top("Reviews of the 'espresso maker'") == [("products", "name", "Espresso Maker")]
    assert index.lookup("What is dark matter?") == []
    # With values, the linker ranks the column holding the value higher.
    plain = SchemaLinker(catalog).scores("orders that were cancelled")
    with_values = SchemaLinker(catalog, values=index).scores("orders that were cancelled")
    assert with_values[("orders", "status")] > plain[("orders", "status")]


def test_value_index_is_cached_on_disk_until_it_is_a_day_old(tmp_path: Path) -> None:
    from honestsql.linking.values import ValueIndex

    path = tmp_path / "shop.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, status TEXT)")
        conn.execute("INSERT INTO orders (status) VALUES ('shipped')")
    values = lambda index: {v for _, _, v in index.entries}  # noqa: E731
    with honestsql.connect(str(path)) as db:
        first = ValueIndex.cached(db)
        assert not first.from_cache and values(first) == {"shipped"}
    with sqlite3.connect(path) as conn:  # data changes, the schema does not
        conn.execute("INSERT INTO orders (status) VALUES ('returned')")
    with honestsql.connect(str(path)) as db:
        again = ValueIndex.cached(db)  # a new connection, as in a new process
        assert again.from_cache and values(again) == {"shipped"}
        assert again.lookup("orders that were shipped")[0].value == "shipped"
        stale = ValueIndex.cached(db, max_age_hours=0)  # too old: rebuilt from the data
        assert not stale.from_cache and values(stale) == {"shipped", "returned"}
    with sqlite3.connect(path) as conn:  # a new schema: the cache does not apply
        conn.execute("ALTER TABLE orders ADD COLUMN note TEXT")
    with honestsql.connect(str(path)) as db:
        assert not ValueIndex.cached(db).from_cache


def test_embeddings_add_meaning() -> None:
    """With the bundled all-MiniLM-L6-v2 model, a question that shares no word with a column
    still reaches it ("how hot" -> Temperature)."""
    from honestsql.linking import embeddings

    if not embeddings.available():
        pytest.skip("the [embeddings] extra is not installed")
    catalog = _catalog()
    question = "How hot was it at each station?"
    plain = SchemaLinker(catalog).scores(question)
    semantic = SchemaLinker(catalog, embedder=embeddings.embedder()).scores(question)
    assert semantic[("weather", "Temperature")] > plain[("weather", "Temperature")]
    ranked = sorted(semantic, key=lambda k: -semantic[k])
    assert ranked.index(("weather", "Temperature")) < 3


def test_a_catalogs_vocabulary_is_built_once_and_is_its_own() -> None:
    """The relevance gate and the confidence's signals read one vocabulary per catalog; another
    catalog, even of the same tables' names, gets its own."""
    from honestsql.linking.lexical import relevance, vocabulary

    def catalog(samples: list[str]) -> Catalog:
        column = Column(name="status", type="TEXT", samples=samples)
        return Catalog(
            dialect="sqlite", fingerprint="f", tables=[Table(name="orders", columns=[column])]
        )

    shipped, cancelled = catalog(["shipped"]), catalog(["cancelled"])
    assert vocabulary(shipped) is vocabulary(shipped)
    assert "shipped" in vocabulary(shipped).words and "shipped" not in vocabulary(cancelled).words
    question = "How many orders were cancelled?"
    assert relevance(question, cancelled) == 1.0
    assert relevance(question, shipped) == 0.5  # "orders" known, "cancelled" not
