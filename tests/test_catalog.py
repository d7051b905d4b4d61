"""The schema catalog: introspection on every dialect, the disk cache, descriptions."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

import honestsql
from honestsql import cache as catalog_mod
from honestsql.errors import CatalogError


def test_introspection(test_db) -> None:  # type: ignore[no-untyped-def]
    with honestsql.connect(test_db.url) as db:
        catalog = db.catalog(refresh=True)
    assert sorted(t.name for t in catalog.tables) == [
        "countries",
        "customers",
        "order_items",
        "orders",
        "products",
    ]
    customers = catalog.table("customers")
    items = catalog.table("order_items")
    assert customers is not None and items is not None
    assert [c.name for c in customers.columns][:3] == ["id", "name", "Display Name"]
    if test_db.dialect == "spark":  # Spark keeps no key constraints: none are invented
        assert customers.primary_key == items.primary_key == []
        assert customers.foreign_keys == items.foreign_keys == []
    else:
        assert customers.primary_key == ["id"]
        assert [(fk.columns, fk.ref_table, fk.ref_columns) for fk in customers.foreign_keys] == [
            (["country_code"], "countries", ["code"])
        ]
        assert items.primary_key == ["order_id", "product_id"]
        assert sorted(fk.ref_table for fk in items.foreign_keys) == ["orders", "products"]
    name = customers.column("name")
    assert name is not None
    # Spark reads a table's files in no set order: the same values, in any order.
    shown = sorted(name.samples) if test_db.dialect == "spark" else name.samples
    assert shown == ["Anna", "Ben", "Chie", "Dana", "Emil"]
    age = customers.column("age")
    assert age is not None and age.samples == []  # samples are for text columns only
    assert customers.row_count == 5
    assert customers.row_count_estimated == (test_db.dialect != "sqlite")
    if test_db.dialect != "sqlite":
        assert customers.comment == "People who buy"
    if test_db.dialect in {"postgres", "spark"}:
        assert age.comment == "Age in years"


@pytest.fixture
def sqlite_copy(test_databases, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / "copy.sqlite"
    shutil.copy(test_databases["sqlite"].path, path)
    return path


def test_cache_is_used_and_refreshed_when_the_schema_changes(sqlite_copy: Path) -> None:
    first = honestsql.connect(sqlite_copy).catalog()
    key = honestsql.connect(sqlite_copy).catalog_key
    assert catalog_mod.cache_path(key).is_file()
    cached = catalog_mod.load_cached(key, first.fingerprint)
    assert cached is not None and cached.model_dump() == first.model_dump()

    with sqlite3.connect(sqlite_copy) as conn:
        conn.execute(
            "CREATE TABLE refunds (id INTEGER PRIMARY KEY, order_id INTEGER REFERENCES orders(id))"
        )
        conn.execute("CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 200")
    second = honestsql.connect(sqlite_copy).catalog()
    assert second.fingerprint != first.fingerprint
    assert second.table("refunds") is not None
    view = second.table("big_orders")
    assert view is not None and view.is_view
    assert catalog_mod.load_cached(key, first.fingerprint) is None  # the old entry was replaced


def test_corrupt_cache_is_rebuilt(sqlite_copy: Path) -> None:
    db = honestsql.connect(sqlite_copy)
    catalog = db.catalog()
    path = catalog_mod.cache_path(db.catalog_key)
    path.write_text("{not json")
    again = honestsql.connect(sqlite_copy).catalog()
    assert again.model_dump(exclude={"build_seconds"}) == catalog.model_dump(
        exclude={"build_seconds"}
    )
    assert catalog_mod.load_cached(db.catalog_key, catalog.fingerprint) is not None


def test_yaml_descriptions(sqlite_copy: Path, tmp_path: Path) -> None:
    yaml_file = tmp_path / "d.yaml"
    yaml_file.write_text(
        "tables:\n  customers:\n    description: People who buy.\n"
        "    columns:\n      age: Age in years.\n  no_such_table: ignored\n",
        encoding="utf-8",
    )
    catalog = honestsql.connect(sqlite_copy, descriptions=yaml_file).catalog()
    customers = catalog.table("customers")
    assert customers is not None and customers.description == "People who buy."
    age = customers.column("age")
    assert age is not None and age.description == "Age in years."


def test_bird_description_folder(sqlite_copy: Path, tmp_path: Path) -> None:
    folder = tmp_path / "database_description"
    folder.mkdir()
    # BIRD ships some of these files in cp1252 with a byte-order mark; both must load.
    (folder / "orders.csv").write_bytes(
        "\ufefforiginal_column_name,column_name,column_description,data_format,value_description\n"
        "total,order total,Amount paid in €,real,\n"
        "ordered_at,,When the order was placed,datetime,UTC\n".encode("utf-8")
    )
    (folder / "products.csv").write_bytes(
        "original_column_name,column_name,column_description,data_format,value_description\n"
        "price,,Price in €,real,\n".encode("cp1252")
    )
    catalog = honestsql.connect(sqlite_copy, descriptions=folder).catalog()
    orders = catalog.table("orders")
    assert orders is not None
    assert orders.column("total").description == "Amount paid in €"  # type: ignore[union-attr]
    assert orders.column("ordered_at").description == "When the order was placed — UTC"  # type: ignore[union-attr]
    products = catalog.table("products")
    assert products is not None and products.column("price").description == "Price in €"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("content", "message"),
    [("- just\n- a list\n", "must map table names"), ("tables: [unclosed\n", "not valid YAML")],
)
def test_bad_descriptions_file(
    sqlite_copy: Path, tmp_path: Path, content: str, message: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    with pytest.raises(CatalogError, match=message):
        honestsql.connect(sqlite_copy, descriptions=bad).catalog()
    with pytest.raises(CatalogError, match="does not exist"):
        honestsql.connect(sqlite_copy, descriptions=tmp_path / "missing.yaml").catalog()


def test_empty_database(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    with honestsql.connect(empty) as db:
        assert db.catalog().tables == []
        assert honestsql.check(db, "SELECT 1 AS one").ok
        assert honestsql.check(db, "SELECT * FROM t").errors[0].kind == "unknown_table"


def test_demo_database_has_descriptions() -> None:
    with honestsql.connect("demo") as db:
        catalog = db.catalog()
        assert {t.name for t in catalog.tables} >= {"customers", "orders", "products", "reviews"}
        orders = catalog.table("orders")
        assert orders is not None and orders.description
        result = honestsql.check(db, "SELECT COUNT(*) FROM orders")
        assert result.ok and result.result is not None and result.result.rows == [(120,)]


def test_a_postgres_table_never_analyzed_is_not_shown_as_empty() -> None:
    """PostgreSQL says -1 rows for a table ANALYZE has not read (a small table loaded at once may
    never be): it is not counted, and its first rows are sampled all the same. Read as 0, the
    prompt told the model "0 rows" and showed no value (69 of sql-eval's 83 tables here)."""
    psycopg = pytest.importorskip("psycopg")
    from honestsql import prompts

    from .conftest import PG_ADMIN

    name = f"honestsql_unanalyzed_{os.getpid()}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {PG_ADMIN} does not answer: {exc}")
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE cities (id INTEGER, name TEXT)")
            conn.execute("INSERT INTO cities VALUES (1, 'Lyon'), (2, 'Graz')")
            (tuples,) = conn.execute("SELECT reltuples FROM pg_class WHERE relname = 'cities'")
            assert tuples[0] < 0  # what PostgreSQL says before any ANALYZE
        with honestsql.connect(url, allow_privileged=True) as db:
            cities = db.catalog(refresh=True).table("cities")
            assert cities is not None and cities.row_count is None
            assert cities.column("name").samples == ["Lyon", "Graz"]  # type: ignore[union-attr]
            text = prompts.render_schema(db.catalog(), "postgres").text
        assert "0 rows" not in text and '["Lyon", "Graz"]' in text
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize(
    ("row_count", "estimated", "shown"),
    [(0, False, "-- 0 rows"), (0, True, None), (None, False, None), (7, True, "-- 7 rows")],
)
def test_a_row_count_is_shown_unless_it_is_an_estimate_of_none(
    row_count: int | None, estimated: bool, shown: str | None
) -> None:
    """Only a table counted and found empty is ``known_empty`` and shown as "0 rows"; an estimate
    of none (never analyzed, or stale statistics) is not shown, nor is a count never taken."""
    from honestsql import prompts
    from honestsql.catalog import Catalog, Column, Table

    table = Table(
        name="cities",
        columns=[Column(name="name", type="TEXT")],
        row_count=row_count,
        row_count_estimated=estimated,
    )
    text = prompts.render_schema(
        Catalog(dialect="sqlite", fingerprint="x", tables=[table]), "sqlite"
    ).text
    assert table.known_empty == (row_count == 0 and not estimated)
    if shown is None:
        assert "rows" not in text
    else:
        assert shown in text
