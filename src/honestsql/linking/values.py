"""A value index: which column holds the words a question quotes ("Machine Learning" ->
``domain.name``), over the distinct text values of a real database, built once and cached on
disk next to the catalog cache (rebuilt when the schema changes or the cache is a day old)."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from honestsql.cache import cache_path, write_cache
from honestsql.catalog import Catalog
from honestsql.db import Database
from honestsql.linking.lexical import STOPWORDS

MAX_VALUES_PER_COLUMN = 5_000
MAX_VALUE_CHARS = 120
#: Values change without the schema changing: a cached index is rebuilt after this long.
MAX_AGE_HOURS = 24.0
_QUOTED = re.compile(r"'([^']+)'|\"([^\"]+)\"")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'.&-]*")


@dataclass(frozen=True)
class ValueHit:
    table: str
    column: str
    value: str
    score: float


class ValueIndex:
    def __init__(self, entries: list[tuple[str, str, str]]) -> None:
        self.entries = entries
        self.choices = [value.lower() for _, _, value in entries]

    @classmethod
    def build(cls, db: Database, catalog: Catalog | None = None) -> ValueIndex:
        started = time.perf_counter()
        catalog = catalog or db.catalog()
        entries: list[tuple[str, str, str]] = []
        dialect = db.dialect
        for table in catalog.tables:
            for column in table.columns:
                if not column.is_text or column.aggregate_only:
                    continue
                name = dialect.quote(column.name)
                sql = (
                    f"SELECT DISTINCT {name} FROM {dialect.quote(table.name)} "
                    f"WHERE {name} IS NOT NULL LIMIT {MAX_VALUES_PER_COLUMN}"
                )
                try:
                    rows = db.execute(sql, timeout=10, max_rows=MAX_VALUES_PER_COLUMN).rows
                except Exception:  # a column that cannot be read is simply not indexed
                    continue
                for (value,) in rows:
                    text = str(value).strip()
                    if text and len(text) <= MAX_VALUE_CHARS:
                        entries.append((table.name, column.name, text))
        index = cls(entries)
        index.build_seconds = time.perf_counter() - started
        return index

    build_seconds: float = 0.0
    from_cache: bool = False

    @classmethod
    def cached(
        cls, db: Database, catalog: Catalog | None = None, *, max_age_hours: float = MAX_AGE_HOURS
    ) -> ValueIndex:
        """The index from the disk cache when it was built for this database and schema less
        than ``max_age_hours`` ago, else built now and cached (a cache that cannot be read or
        written is not an error)."""
        catalog = catalog or db.catalog()
        key = f"{db.display_url}|{catalog.fingerprint}"
        path = cache_path(key, "values")
        try:
            if time.time() - path.stat().st_mtime < max_age_hours * 3600:
                stored = json.loads(path.read_bytes())
                if stored.get("key") == key:
                    index = cls([(t, c, v) for t, c, v in stored["entries"]])
                    index.from_cache = True
                    return index
        except (OSError, ValueError, KeyError, TypeError):
            pass
        index = cls.build(db, catalog)
        write_cache(path, json.dumps({"key": key, "entries": index.entries}).encode())
        return index

    def phrases(self, question: str) -> list[str]:
        """Quoted strings, and every run of one to four words."""
        found = [a or b for a, b in _QUOTED.findall(question)]
        words = _WORD.findall(question)
        for size in (4, 3, 2, 1):
            for start in range(len(words) - size + 1):
                phrase = " ".join(words[start : start + size])
                if (
                    size > 1
                    or len(phrase) > 3
                    and phrase.lower() not in STOPWORDS
                    or phrase[0].isupper()
                ):
                    found.append(phrase)
        return found

    def lookup(self, question: str, k: int = 10, min_score: float = 88.0) -> list[ValueHit]:
        if not self.entries:
            return []
        hits: dict[tuple[str, str, str], float] = {}
        for phrase in self.phrases(question):
            for _, score, index in process.extract(
                phrase.lower(), self.choices, scorer=fuzz.ratio, limit=3, score_cutoff=min_score
            ):
                key = self.entries[index]
                hits[key] = max(hits.get(key, 0.0), float(score))
        ranked = sorted(hits.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        return [ValueHit(t, c, v, s) for (t, c, v), s in ranked]
