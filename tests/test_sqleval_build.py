"""The sql-eval SQLite build holds exactly what the PostgreSQL load holds, table by table (the
benchmark's SQLite figures are only as honest as this copy). Needs the defog-data package and
the PostgreSQL server, not the shared benchmark files."""

from __future__ import annotations

import datetime
import decimal
import sqlite3
from typing import Any

import pytest

from honestsql.evaluation import sqleval_setup

from .conftest import PG_ADMIN


def _plain(value: Any) -> Any:
    """One spelling for both engines: booleans and numbers as rounded floats, dates as text."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float | decimal.Decimal):
        return round(float(value), 6)
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, str):
        try:  # SQLite keeps a numeric text of the dump as it was written
            return (
                round(float(value), 6)
                if value.strip() and value.strip()[0] in "-.0123456789"
                else value
            )
        except ValueError:
            return value
    return value


def _rows(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted((tuple(_plain(v) for v in row) for row in rows), key=repr)


@pytest.mark.parametrize("name", sqleval_setup.DATABASES)
def test_the_sqlite_build_matches_the_postgres_load(name: str) -> None:
    psycopg = pytest.importorskip("psycopg")
    pytest.importorskip("defog_data")
    base = PG_ADMIN.rsplit("/", 1)[0]
    try:
        copied = sqleval_setup.load_postgres(name, base)
    except Exception as exc:  # a server that does not answer
        pytest.skip(f"PostgreSQL does not answer: {exc}")
    rows, problems = sqleval_setup.load_sqlite(name)
    assert problems == [] and rows == copied
    path = sqleval_setup.sqlite_path(name)
    assert path is not None
    lite = sqlite3.connect(path)
    with psycopg.connect(f"{base}/{sqleval_setup.PREFIX}{name}") as pg:
        tables = [
            r[0]
            for r in pg.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            ).fetchall()
        ]
        assert tables
        for table in tables:
            columns = [
                r[0]
                for r in pg.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                    "'public' AND table_name = %s ORDER BY ordinal_position",
                    (table,),
                ).fetchall()
            ]
            listed = ", ".join(f'"{c}"' for c in columns)
            expected = _rows(pg.execute(f'SELECT {listed} FROM "{table}"').fetchall())
            built = _rows(lite.execute(f'SELECT {listed} FROM "{table}"').fetchall())
            assert built == expected, (name, table)
    lite.close()


def test_booleans_of_either_spelling() -> None:
    assert [sqleval_setup._boolean(v) for v in ("t", "true", "F", "false", None)] == [
        1,
        1,
        0,
        0,
        None,
    ]
    with pytest.raises(ValueError):
        sqleval_setup._boolean("maybe")
