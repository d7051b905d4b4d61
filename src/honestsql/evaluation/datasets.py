"""Benchmark loaders with one internal model, reading the data root (``--data`` / $HONESTSQL_DATA).

The root holds ``spider/``, ``bird/``, ``sqleval/``, ``ehrsql/`` and ``predictions/`` as
described in that folder's README. Nothing from it is ever copied into this project.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from honestsql.catalog import Catalog, Column, ForeignKey, Table
from honestsql.errors import InvalidInput

BENCHMARKS = ("spider", "bird", "sqleval", "ehrsql")
#: Default base URL of the PostgreSQL server holding the sql-eval databases (see `eval setup`).
SQLEVAL_PG = "postgresql://postgres@127.0.0.1:5432/"
SQLEVAL_PREFIX = "sqleval_"


@dataclass(frozen=True)
class Example:
    """One benchmark question. ``gold`` is ``None`` when the question is unanswerable."""

    id: str
    index: int
    question: str
    db_id: str
    gold: tuple[str, ...] | None
    evidence: str = ""
    difficulty: str | None = None
    category: str | None = None

    @property
    def answerable(self) -> bool:
        return self.gold is not None


@dataclass
class Dataset:
    name: str
    dialect: str
    examples: list[Example]
    #: Maps a database id to a URL honestsql can open, or ``None`` when it is not available.
    locate: Callable[[str], str | None] = field(repr=False, default=lambda _db: None)
    #: Maps a database id to its human descriptions (a BIRD ``database_description`` folder).
    describe: Callable[[str], str | None] = field(repr=False, default=lambda _db: None)


def data_root(data: str | Path | None) -> Path:
    """The data root from ``--data`` or $HONESTSQL_DATA, checked to exist."""
    value = data or os.environ.get("HONESTSQL_DATA")
    if not value:
        raise InvalidInput(
            "No benchmark data folder: pass --data DIR (the folder holding spider/, bird/, "
            "sqleval/, ehrsql/) or set HONESTSQL_DATA."
        )
    root = Path(value).expanduser()
    if not root.is_dir():
        raise InvalidInput(f"The benchmark data folder {str(root)!r} does not exist.")
    return root


def require(path: Path) -> Path:
    """``path``, or a clear error naming it when it is missing."""
    if not path.exists():
        raise InvalidInput(f"Missing benchmark file {str(path)!r}; is --data the right folder?")
    return path


def _sqlite_locator(folder: Path) -> Callable[[str], str | None]:
    def locate(db_id: str) -> str | None:
        path = folder / db_id / f"{db_id}.sqlite"
        return str(path) if path.is_file() else None

    return locate


def load_spider(root: Path) -> Dataset:
    items = json.loads(require(root / "spider" / "dev.json").read_text(encoding="utf-8"))
    examples = [
        Example(
            id=f"spider-dev-{i}",
            index=i,
            question=item["question"],
            db_id=item["db_id"],
            gold=(item["query"],),
        )
        for i, item in enumerate(items)
    ]
    return Dataset("spider", "sqlite", examples, _sqlite_locator(root / "spider" / "databases"))


def load_bird(root: Path, split: str = "dev") -> Dataset:
    name = {"dev": "dev.json", "mini": "mini_dev_sqlite.json"}[split]
    items = json.loads(require(root / "bird" / name).read_text(encoding="utf-8"))
    examples = [
        Example(
            id=f"bird-{split}-{item.get('question_id', i)}",
            index=i,
            question=item["question"],
            db_id=item["db_id"],
            gold=(item["SQL"],),
            evidence=item.get("evidence") or "",
            difficulty=item.get("difficulty"),
        )
        for i, item in enumerate(items)
    ]
    folder = root / "bird" / "dev_databases"

    def describe(db_id: str) -> str | None:
        path = folder / db_id / "database_description"
        return str(path) if path.is_dir() else None

    return Dataset("bird", "sqlite", examples, _sqlite_locator(folder), describe)


def load_sqleval(root: Path, dialect: str = "postgres", base_url: str | None = None) -> Dataset:
    """Answerable questions (``questions_gen_<dialect>.csv``) followed by ``idk.csv``."""
    folder = root / "sqleval"
    examples: list[Example] = []
    with require(folder / f"questions_gen_{dialect}.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            examples.append(_sqleval_example(len(examples), row, answerable=True))
    with require(folder / "idk.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            examples.append(_sqleval_example(len(examples), row, answerable=False))
    return Dataset("sqleval", dialect, examples, sqleval_locator(dialect, base_url))


def _sqleval_example(index: int, row: dict[str, str], *, answerable: bool) -> Example:
    return Example(
        id=f"sqleval-{index}",
        index=index,
        question=row["question"],
        db_id=row["db_name"],
        gold=(row["query"],) if answerable else None,
        evidence=without_decline_instruction(row.get("instructions") or ""),
        category=row.get("query_category"),
    )


#: A line that tells the model how to decline: it quotes a query selecting a string
#: (sql-eval's ``idk.csv`` says "If the data cannot answer, return 'SELECT 'I'm sorry...'").
_DECLINE = re.compile(r"SELECT\s+'", re.IGNORECASE)


def without_decline_instruction(text: str) -> str:
    """``text`` without the lines that tell the model how to decline.

    Only sql-eval's unanswerable questions carry one, so it is a cue no real question has: it
    would reach the prompt and the relevance signal and label the question for them. Dropped on
    every question alike (by its wording, not by the label), so nothing else is lost.
    """
    kept = [line for line in text.splitlines() if not _DECLINE.search(line)]
    return "\n".join(kept).strip()


def sqleval_locator(dialect: str, base_url: str | None) -> Callable[[str], str | None]:
    from honestsql.evaluation import sqleval_setup

    if dialect == "sqlite":
        return lambda db_id: sqleval_setup.sqlite_path(db_id)
    base = (base_url or os.environ.get("HONESTSQL_SQLEVAL_PG") or SQLEVAL_PG).rstrip("/")
    available = sqleval_setup.postgres_databases(base)
    return lambda db_id: f"{base}/{SQLEVAL_PREFIX}{db_id}" if db_id in available else None


def load_ehrsql(root: Path, split: str = "test") -> Dataset:
    folder = root / "ehrsql" / split
    data = json.loads(require(folder / "data.json").read_text(encoding="utf-8"))["data"]
    labels = json.loads(require(folder / "label.json").read_text(encoding="utf-8"))
    examples = []
    for i, item in enumerate(data):
        label = labels.get(item["id"])
        gold = None if label in (None, "null") else (str(label),)
        examples.append(
            Example(id=item["id"], index=i, question=item["question"], db_id="mimic_iv", gold=gold)
        )
    return Dataset("ehrsql", "sqlite", examples)


def load(
    name: str,
    data: str | Path | None,
    *,
    dialect: str | None = None,
    split: str | None = None,
    sqleval_url: str | None = None,
) -> Dataset:
    root = data_root(data)
    if name == "spider":
        return load_spider(root)
    if name == "bird":
        return load_bird(root, split or "dev")
    if name == "sqleval":
        return load_sqleval(root, dialect or "postgres", sqleval_url)
    if name == "ehrsql":
        return load_ehrsql(root, split or "test")
    raise InvalidInput(f"Unknown benchmark {name!r}; choose one of {', '.join(BENCHMARKS)}.")


def from_spider_tables(entry: dict[str, Any], dialect: str = "sqlite") -> Catalog:
    """A catalog (names, types, keys; no data) from one entry of a Spider-format tables.json.

    The entry's readable names ("number of test takers" for ``NumTstTakr``) become descriptions.
    """
    names = entry["table_names_original"]
    readable_tables = entry.get("table_names") or names
    readable_columns = entry.get("column_names") or entry["column_names_original"]
    columns: dict[int, list[Column]] = {i: [] for i in range(len(names))}
    index_of: dict[int, tuple[int, str]] = {}
    primary = set()
    for key in entry.get("primary_keys", []):
        primary.update(key if isinstance(key, list) else [key])
    for position, ((table, name), kind) in enumerate(
        zip(entry["column_names_original"], entry["column_types"], strict=False)
    ):
        if table < 0:
            continue
        readable = readable_columns[position][1] if position < len(readable_columns) else ""
        description = (
            readable if readable and readable.lower() != name.lower().replace("_", " ") else None
        )
        columns[table].append(
            Column(
                name=name,
                type=str(kind).upper(),
                primary_key=position in primary,
                description=description,
            )
        )
        index_of[position] = (table, name)
    foreign: dict[int, list[ForeignKey]] = {i: [] for i in range(len(names))}
    for source, target in entry.get("foreign_keys", []):
        if source in index_of and target in index_of:
            (s_table, s_col), (t_table, t_col) = index_of[source], index_of[target]
            foreign[s_table].append(
                ForeignKey(columns=[s_col], ref_table=names[t_table], ref_columns=[t_col])
            )
    tables = [
        Table(
            name=name,
            columns=columns[i],
            primary_key=[c.name for c in columns[i] if c.primary_key],
            foreign_keys=foreign[i],
            description=readable_tables[i] if readable_tables[i].lower() != name.lower() else None,
        )
        for i, name in enumerate(names)
    ]
    return Catalog(dialect=dialect, fingerprint=str(entry.get("db_id", "")), tables=tables)
