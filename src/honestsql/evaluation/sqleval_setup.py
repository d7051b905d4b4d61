"""Loading the sql-eval databases (PostgreSQL dumps in the PyPI package ``defog-data``).

Into PostgreSQL as databases ``sqleval_<name>``, and into SQLite files by transpiling the table
definitions with sqlglot and reading the dumps' COPY data. Needs the ``[eval]`` extra.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs
import sqlglot
from sqlglot.errors import SqlglotError

from honestsql.errors import ConnectionFailed, InvalidInput

DATABASES = ("academic", "advising", "atis", "geography", "restaurants", "scholar", "yelp")
PREFIX = "sqleval_"
_SKIPPED = ("GRANT ", "REVOKE ", "ALTER SCHEMA ", "SET ", "SELECT pg_catalog.set_config")


@dataclass
class Statement:
    sql: str
    #: For COPY ... FROM stdin: the data lines that follow it.
    rows: list[str] = field(default_factory=list)

    @property
    def is_copy(self) -> bool:
        return self.sql.startswith("COPY ")


def dump_path(name: str) -> Path:
    try:
        import defog_data
    except ModuleNotFoundError:
        raise InvalidInput(
            "The sql-eval databases come from the package defog-data: pip install 'honestsql[eval]'"
        ) from None
    return Path(defog_data.__file__).parent / name / f"{name}.sql"


def statements(dump: str) -> Iterator[Statement]:
    """The statements of a pg_dump text file, COPY blocks with their data."""
    lines = iter(dump.splitlines())
    buffer: list[str] = []
    for line in lines:
        if not buffer and (not line.strip() or line.startswith("--")):
            continue
        buffer.append(line)
        if not line.rstrip().endswith(";"):
            continue
        sql = "\n".join(buffer).strip()
        buffer = []
        statement = Statement(sql)
        if statement.is_copy and sql.endswith("FROM stdin;"):
            for row in lines:
                if row == "\\.":
                    break
                statement.rows.append(row)
        yield statement


def _wanted(statement: Statement) -> bool:
    return not statement.sql.startswith(_SKIPPED) and " OWNER TO " not in statement.sql


# --- PostgreSQL --------------------------------------------------------------------------------


def postgres_databases(base_url: str) -> set[str]:
    """Names (without prefix) of the sql-eval databases present on the server, if it answers."""
    import sqlalchemy as sa

    try:
        url = sa.engine.make_url(base_url.rstrip("/") + "/postgres")
        if "+" not in url.drivername:
            url = url.set(drivername="postgresql+psycopg")
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            names = conn.exec_driver_sql(
                "SELECT datname FROM pg_database WHERE starts_with(datname, 'sqleval_')"
            ).scalars()
            found = {str(n)[len(PREFIX) :] for n in names}
        engine.dispose()
        return found
    except Exception:
        return set()


def load_postgres(name: str, base_url: str) -> int:
    """(Re)create ``sqleval_<name>`` from the dump; returns the number of rows copied."""
    import psycopg

    conninfo = base_url.rstrip("/").replace("postgresql+psycopg://", "postgresql://")
    database = PREFIX + name
    try:
        with psycopg.connect(conninfo + "/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{database}"')
    except psycopg.Error as exc:
        raise ConnectionFailed(
            f"Could not create {database} on the PostgreSQL server: {exc}"
        ) from None
    copied = 0
    with psycopg.connect(f"{conninfo}/{database}") as conn:
        for statement in statements(dump_path(name).read_text(encoding="utf-8")):
            if not _wanted(statement):
                continue
            if statement.is_copy:
                with conn.cursor().copy(statement.sql) as copy:
                    for row in statement.rows:
                        copy.write(row + "\n")
                copied += len(statement.rows)
            else:
                conn.execute(statement.sql)
        conn.commit()
    return copied


# --- SQLite ------------------------------------------------------------------------------------


def sqlite_dir() -> Path:
    base = os.environ.get("HONESTSQL_DATA_DIR") or platformdirs.user_data_dir("honestsql")
    return Path(base) / "sqleval"


def sqlite_path(name: str) -> str | None:
    path = sqlite_dir() / f"{name}.sqlite"
    return str(path) if path.is_file() else None


def _copy_value(text: str) -> str | None:
    if text == "\\N":
        return None
    if "\\" not in text:
        return text
    out = []
    chars = iter(text)
    for ch in chars:
        if ch != "\\":
            out.append(ch)
            continue
        nxt = next(chars, "")
        out.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}.get(nxt, nxt))
    return "".join(out)


def _copy_target(sql: str) -> tuple[str, list[str]]:
    """The table and the column list of ``COPY public.t (a, "B") FROM stdin;``."""
    head = sql[len("COPY ") :].split(" FROM ", 1)[0]
    table = head.split("(", 1)[0].strip().removeprefix("public.").strip('"')
    listed = head.split("(", 1)[1].rsplit(")", 1)[0] if "(" in head else ""
    return table, [c.strip().strip('"') for c in listed.split(",") if c.strip()]


_TRUE = {"t", "true", "y", "yes", "on", "1"}
_FALSE = {"f", "false", "n", "no", "off", "0"}


def _boolean(value: object) -> int | None:
    """A boolean of the dump as SQLite's 0/1 (pg_dump writes ``t``/``f``; other dumps ``true``)."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in _TRUE:
        return 1
    if text in _FALSE:
        return 0
    raise ValueError(f"not a boolean in the dump: {value!r}")


def load_sqlite(name: str) -> tuple[int, list[str]]:
    """Build ``<data dir>/sqleval/<name>.sqlite``; returns (rows copied, problems)."""
    folder = sqlite_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.sqlite"
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    copied = 0
    problems: list[str] = []
    booleans: dict[str, set[str]] = {}
    for statement in statements(dump_path(name).read_text(encoding="utf-8")):
        if not _wanted(statement):
            continue
        if statement.is_copy:
            table, columns = _copy_target(statement.sql)
            flags = booleans.get(table, set())
            # By the COPY's own column list, whose order need not be the CREATE TABLE's
            # (restaurant's is not: inserting by position misaligned every column after id).
            listed = ", ".join(f'"{c}"' for c in columns)
            marks = ", ".join("?" for _ in columns)
            rows = []
            for line in statement.rows:
                values: list[object] = [_copy_value(v) for v in line.split("\t")]
                for i, column in enumerate(columns):
                    if column in flags:
                        values[i] = _boolean(values[i])
                rows.append(values)
            conn.executemany(f'INSERT INTO "{table}" ({listed}) VALUES ({marks})', rows)
            copied += len(rows)
            continue
        if not statement.sql.startswith("CREATE TABLE"):
            continue  # keys, sequences and defaults do not change query results
        try:
            create = sqlglot.parse_one(statement.sql, read="postgres")
            table = create.this.this.name if hasattr(create.this, "this") else ""
            booleans[table] = {
                col.name
                for col in create.this.expressions
                if getattr(col.args.get("kind"), "this", None) == sqlglot.exp.DataType.Type.BOOLEAN
            }
            for default in list(create.find_all(sqlglot.exp.DefaultColumnConstraint)):
                if default.parent is not None:  # SQLite wants defaults in parentheses;
                    default.parent.pop()  # the data has values for every column anyway
            create.this.this.set("db", None)
            conn.execute(create.sql(dialect="sqlite"))
        except (SqlglotError, sqlite3.Error) as exc:
            problems.append(f"{name}: {statement.sql.splitlines()[0]}: {exc}")
    conn.commit()
    conn.close()
    tmp.replace(path)
    return copied, problems
