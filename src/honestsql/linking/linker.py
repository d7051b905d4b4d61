"""A model-free schema linker: which tables and columns to show the model for a question.

Columns are ranked by BM25 (``bm25s``) over a small document per column (table and column name
split into words, singular forms, description, sample values), plus bonuses for names the
question or evidence spells out and for close spellings (``rapidfuzz``). With a token budget, whole
groups of tables joined by foreign keys come first (the groups that best match the question,
while they fit: in a warehouse of many unrelated schemas, finding the right group is most of the
work); then the best columns are kept up to the budget; every kept table keeps its primary key,
and foreign keys between kept tables are kept so the tables can be joined.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process

from honestsql.catalog import Catalog, Table
from honestsql.linking import STOPWORDS
from honestsql.linking.values import ValueIndex
from honestsql.suggest import singular, words

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*|\d+")
#: Words that point at a column without naming it.
HINTS = {
    "youngest": "age birth",
    "oldest": "age birth",
    "older": "age",
    "younger": "age",
    "cheapest": "price cost",
    "expensive": "price cost",
    "cheaper": "price cost",
    "largest": "size area capacity",
    "biggest": "size area capacity",
    "smallest": "size area capacity",
    "heaviest": "weight",
    "lightest": "weight",
    "tallest": "height",
    "shortest": "height length",
    "longest": "length duration",
    "earliest": "date year time",
    "latest": "date year time",
    "recent": "date year time",
    "when": "date year time",
    "where": "location city country address",
    "who": "name",
    "richest": "money worth wealth",
    "population": "population",
}
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")


def tokens(text: str) -> list[str]:
    out = []
    for raw in _WORD.findall(text):
        for word in words(raw).split() or [raw.lower()]:
            if word in STOPWORDS and len(word) < 4:
                continue
            out.append(word)
            stem = singular(word)
            if stem != word:
                out.append(stem)
    return out


def column_tokens(table: Table, name: str) -> int:
    """Rough prompt tokens for one column line: name, type and punctuation."""
    return max(2, (len(name) + 10) // 4)


def table_tokens(table: Table) -> int:
    """Rough prompt tokens for a whole table: its header and every column line."""
    return (len(table.name) + 20) // 4 + sum(column_tokens(table, c.name) for c in table.columns)


def _joined_groups(catalog: Catalog) -> tuple[dict[str, int], list[list[str]]]:
    """The catalog's tables split into groups connected by foreign keys (either direction)."""
    neighbours: dict[str, set[str]] = {t.name: set() for t in catalog.tables}
    for table in catalog.tables:
        for fk in table.foreign_keys:
            if fk.ref_table in neighbours and fk.ref_table != table.name:
                neighbours[table.name].add(fk.ref_table)
                neighbours[fk.ref_table].add(table.name)
    group_of: dict[str, int] = {}
    groups: list[list[str]] = []
    for start in neighbours:
        if start in group_of:
            continue
        group_of[start] = len(groups)
        members, stack = [start], [start]
        while stack:
            for other in sorted(neighbours[stack.pop()]):
                if other not in group_of:
                    group_of[other] = len(groups)
                    members.append(other)
                    stack.append(other)
        groups.append(members)
    return group_of, groups


#: Texts -> unit-length embedding rows (a numpy array), e.g. ``honestsql.linking.embeddings``.
Embedder = Callable[[list[str]], Any]


@dataclass
class LinkResult:
    tables: list[str]
    columns: set[tuple[str, str]]
    tokens: int
    elapsed_ms: float
    scores: dict[tuple[str, str], float] = field(default_factory=dict, repr=False)


class SchemaLinker:
    def __init__(
        self,
        catalog: Catalog,
        *,
        sample_words: int = 20,
        values: ValueIndex | None = None,
        embedder: Embedder | None = None,
        embedding_weight: float = 4.0,
    ) -> None:
        import bm25s

        started = time.perf_counter()
        self.catalog = catalog
        self.values = values
        self.keys: list[tuple[str, str]] = []
        corpus: list[list[str]] = []
        self.names: dict[tuple[str, str], str] = {}
        for table in catalog.tables:
            table_words = tokens(table.name)
            for column in table.columns:
                document = table_words + tokens(column.name) * 2
                document += tokens(column.description or "") + tokens(column.comment or "")
                for sample in column.samples[:5]:
                    document += tokens(sample)[:sample_words]
                self.keys.append((table.name, column.name))
                corpus.append(document or ["_"])
                self.names[(table.name, column.name)] = " ".join(words(column.name).split())
        self.embedder = embedder
        self.embedding_weight = embedding_weight
        self.embeddings = None
        if embedder is not None:
            texts = []
            for table_name, column_name in self.keys:
                owner: Table | None = catalog.table(table_name)
                found = owner.column(column_name) if owner else None
                described = found.description if found and found.description else words(column_name)
                texts.append(
                    f"{(owner.description if owner else None) or words(table_name)}: {described}"
                )
            self.embeddings = embedder(texts)
        self.index = bm25s.BM25()
        self.index.index(corpus, show_progress=False)
        self.table_of = {t.name: t for t in catalog.tables}
        self.group_of, self.groups = _joined_groups(catalog)
        self.group_cost = [
            sum(table_tokens(self.table_of[name]) for name in group) for group in self.groups
        ]
        self.unique_names = sorted({n for n in self.names.values() if n})
        self.table_phrases = {t.name: words(t.name) for t in catalog.tables}
        self.by_prefix: dict[str, list[tuple[str, str]]] = {}
        for name in self.unique_names:
            for part in name.split():
                if len(part) >= 4:
                    self.by_prefix.setdefault(part[:4], []).append((name, part))
        self.build_seconds = time.perf_counter() - started

    def scores(self, question: str, evidence: str = "") -> dict[tuple[str, str], float]:
        text = f"{question} {evidence}"
        extra = " ".join(HINTS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in HINTS)
        if _YEAR.search(text):
            extra += " year date"
        query = tokens(f"{text} {extra}")
        raw = self.index.get_scores(query) if query else [0.0] * len(self.keys)
        scores = {key: float(value) for key, value in zip(self.keys, raw, strict=True)}
        text = f"{question} {evidence}".lower()
        spelled = {
            m.lower()
            for m in re.findall(r"`([^`]+)`|\b([A-Za-z_][A-Za-z0-9_]*)\b", text)
            for m in m
            if m
        }
        query_words = sorted(set(query))
        # Close spellings, all names against all question words at once (rapidfuzz, in C).
        close: set[str] = set()
        stemmed: set[str] = set()
        if query_words:
            matrix = process.cdist(
                self.unique_names, query_words, scorer=fuzz.ratio, score_cutoff=88
            )
            close = {
                name for name, row in zip(self.unique_names, matrix, strict=True) if row.max() > 0
            }
            # Shared stems: "humid" ~ "humidity", "employ" ~ "employees" (four letters or more),
            # looked up through the names' four-letter prefixes; a weaker signal than a spelling.
            for stem in (w for w in query_words if len(w) >= 4):
                for name, part in self.by_prefix.get(stem[:4], ()):
                    if part.startswith(stem) or stem.startswith(part):
                        stemmed.add(name)
        table_mentioned = {
            table: bool(phrase and (phrase in text or singular(phrase) in text))
            for table, phrase in self.table_phrases.items()
        }
        for key in self.keys:
            table, column = key
            if column.lower() in spelled and (len(column) > 3 or "_" in column):
                scores[key] += 5.0
            name = self.names[key]
            if name and name in text:
                scores[key] += 3.0
            elif name in close:
                scores[key] += 1.5
            elif name in stemmed:
                scores[key] += 0.75
            if table_mentioned[table]:
                scores[key] += 1.0
        if self.embeddings is not None and self.embedder is not None:  # similar in meaning
            similarity = self.embeddings @ self.embedder([f"{question} {evidence}"])[0]
            for key, value in zip(self.keys, similarity, strict=True):
                scores[key] += self.embedding_weight * max(0.0, float(value) - 0.25)
        if self.values is not None:  # the question quotes a value this column holds
            for hit in self.values.lookup(f"{question} {evidence}"):
                if (hit.table, hit.column) in scores:
                    scores[(hit.table, hit.column)] += 4.0 * hit.score / 100
        return scores

    def _whole_groups(
        self,
        scores: dict[tuple[str, str], float],
        budget: int,
        add: Callable[[tuple[str, str]], bool],
        top: int = 5,
    ) -> None:
        """Add whole groups of joined tables, best first, while they fit ``budget``. A group's
        score is the sum of its ``top`` best distinct column names' scores, so that a name
        repeated across many tables ("name", "id") counts once."""
        best: dict[tuple[int, str], float] = {}
        for (table, column), score in scores.items():
            key = (self.group_of[table], column.lower())
            if score > best.get(key, 0.0):
                best[key] = score
        per_group: dict[int, list[float]] = {}
        for (group, _), score in best.items():
            per_group.setdefault(group, []).append(score)
        ranked = sorted(per_group, key=lambda g: -sum(sorted(per_group[g], reverse=True)[:top]))
        used = 0
        for group in ranked:
            if used > 0.9 * budget:
                break
            if used + self.group_cost[group] > budget:
                continue
            used += self.group_cost[group]
            for name in self.groups[group]:
                for shown in self.table_of[name].columns:
                    add((name, shown.name))

    def link(
        self,
        question: str,
        evidence: str = "",
        *,
        column_fraction: float | None = None,
        token_budget: int | None = None,
    ) -> LinkResult:
        """Keep the best columns until ``column_fraction`` of all columns or ``token_budget``
        (with a token budget, whole groups of joined tables first), then the keys that join the
        kept tables."""
        started = time.perf_counter()
        scores = self.scores(question, evidence)
        ranked = sorted(self.keys, key=lambda k: -scores[k])
        total = len(self.keys)
        limit_columns = (
            int(round(total * column_fraction)) if column_fraction is not None else total
        )
        kept: set[tuple[str, str]] = set()
        kept_tables: set[str] = set()
        used = 0

        def cost(key: tuple[str, str]) -> int:
            table = self.table_of[key[0]]
            header = (len(table.name) + 20) // 4 if key[0] not in kept_tables else 0
            return column_tokens(table, key[1]) + header

        def add(key: tuple[str, str]) -> bool:
            nonlocal used
            if key in kept:
                return True
            price = cost(key)
            if token_budget is not None and used + price > token_budget:
                return False
            kept.add(key)
            kept_tables.add(key[0])
            used += price
            return True

        if token_budget is not None:
            self._whole_groups(scores, token_budget, add)
        for key in ranked:
            if len(kept) >= limit_columns:
                break
            if not add(key):
                break
        # Keys: primary keys of kept tables, and foreign keys that join two kept tables.
        tables = {t for t, _ in kept}
        for name in sorted(tables):
            table = self.table_of[name]
            for column in table.primary_key:
                add((name, column))
            for fk in table.foreign_keys:
                if fk.ref_table in tables:
                    for column in fk.columns:
                        add((name, column))
                    for column in fk.ref_columns:
                        add((fk.ref_table, column))
        # Bridge tables: a table whose foreign keys reach two kept tables is how they join.
        tables = {t for t, _ in kept}
        for table in self.catalog.tables:
            if table.name in tables:
                continue
            reached = {fk.ref_table for fk in table.foreign_keys if fk.ref_table in tables}
            if len(reached) >= 2:
                for fk in table.foreign_keys:
                    if fk.ref_table in reached:
                        for column in fk.columns:
                            add((table.name, column))
        best: dict[str, float] = {}
        for key in kept:
            best[key[0]] = max(best.get(key[0], float("-inf")), scores[key])
        ordered_tables = sorted(best, key=lambda t: -best[t])
        return LinkResult(
            ordered_tables, kept, used, (time.perf_counter() - started) * 1000, scores
        )
