"""Scratch copies of benchmark databases, one per system, and checksums of their contents.

``bench peers`` lets each system loose on its own copy, as a user would run it, and reads the
copy's checksum after every question: a change means a statement that wrote ran, and the copy is
made again before the next question. SQLite files are copied; a PostgreSQL database is cloned
with ``CREATE DATABASE ... TEMPLATE`` on the same server.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from honestsql.benchmarks.catalog import drop_postgres
from honestsql.db.url import parse
from honestsql.errors import InvalidInput


def _safe(name: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", name.lower())


@dataclass
class Scratch:
    """One system's copy of one database: ``url`` (for honestsql's ``--db``) and
    ``sqlalchemy_url`` (for the peers, which open databases with SQLAlchemy)."""

    source: str
    url: str
    sqlalchemy_url: str

    @classmethod
    def make(cls, source: str, folder: Path, system: str, db_id: str) -> Scratch:
        source_url = parse(source)
        if source_url.get_backend_name() == "sqlite":
            path = folder / _safe(system) / f"{_safe(db_id)}.sqlite"
            scratch = cls(source, str(path), f"sqlite:///{path}")
        elif source_url.get_backend_name() == "postgresql":
            name = f"peers_{_safe(system)}_{_safe(db_id)}"[:63]
            target = source_url.set(drivername="postgresql+psycopg", database=name)
            plain = target.render_as_string(hide_password=False)
            scratch = cls(source, plain.replace("+psycopg", "", 1), plain)
        else:
            raise InvalidInput(f"bench peers copies SQLite and PostgreSQL databases, not {source}")
        scratch.reset()
        return scratch

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")

    def reset(self) -> None:
        """Make the copy again from the source."""
        if self.is_sqlite:
            path = Path(self.url)
            path.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(parse(self.source).database or "", path)
            return
        _clone(self.source, _template(self.source), make_url(self.sqlalchemy_url).database or "")

    @staticmethod
    def prepare(source: str) -> None:
        """For a PostgreSQL source, its frozen copy that scratch copies are cloned from (a
        database being read, as the gold databases are while the bench runs, cannot be a
        template); call before anything connects to ``source``."""
        url = parse(source)
        if url.get_backend_name() == "postgresql":
            _clone(source, url.database or "", _template(source))

    def drop(self) -> None:
        if self.is_sqlite:
            Path(self.url).unlink(missing_ok=True)
        else:
            drop_postgres(_admin_url(self.source), make_url(self.sqlalchemy_url).database or "")

    def checksum(self) -> str:
        return checksum(self.sqlalchemy_url)


def _template(source: str) -> str:
    return f"peers_src_{_safe(parse(source).database or '')}"[:63]


def _admin_url(source: str) -> str:
    """The maintenance database of ``source``'s PostgreSQL server, as psycopg reads it."""
    url = parse(source).set(drivername="postgresql", database="postgres")
    return url.render_as_string(hide_password=False)


def _clone(source: str, template: str, target: str) -> None:
    """CREATE DATABASE ``target`` as a copy of ``template``, on ``source``'s server."""
    import psycopg

    admin = _admin_url(source)
    drop_postgres(admin, target)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{target}" TEMPLATE "{template}"')


def checksum(sqlalchemy_url: str) -> str:
    """A hash of every table's name, columns and rows (order-free) in the database."""
    engine = sa.create_engine(sqlalchemy_url, poolclass=sa.NullPool)
    digest = hashlib.sha256()
    try:
        inspector = sa.inspect(engine)
        schema = None if engine.dialect.name == "sqlite" else "public"
        with engine.connect() as conn:
            for table in sorted(inspector.get_table_names(schema=schema)):
                columns = [c["name"] for c in inspector.get_columns(table, schema=schema)]
                digest.update(f"{schema}.{table}({','.join(columns)})".encode())
                quoted = engine.dialect.identifier_preparer.quote(table)
                rows = conn.execute(sa.text(f"SELECT * FROM {quoted}")).fetchall()
                for line in sorted(repr(tuple(row)) for row in rows):
                    digest.update(line.encode())
    finally:
        engine.dispose()
    return digest.hexdigest()
