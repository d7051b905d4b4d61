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

import numpy as np
from rapidfuzz import fuzz, process

from honestsql.catalog import Catalog, Table
from honestsql.linking.budget import column_tokens, header_tokens, table_tokens
from honestsql.linking.lexical import STOPWORDS
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
        phrases = {t.name: words(t.name) for t in catalog.tables}
        #: Each table's name as words, and in the singular, in catalog order.
        self.table_phrases = [(phrase, singular(phrase)) for phrase in phrases.values()]
        #: Each name's words of four letters or more, by their first four letters.
        self.by_prefix: dict[str, list[tuple[int, str]]] = {}
        for at, name in enumerate(self.unique_names):
            for part in name.split():
                if len(part) >= 4:
                    self.by_prefix.setdefault(part[:4], []).append((at, part))
        # Per-column lookups as arrays, so that scoring a question is a few vector operations.
        self.position = {key: i for i, key in enumerate(self.keys)}
        name_at = {name: i for i, name in enumerate(self.unique_names)}
        table_at = {name: i for i, name in enumerate(phrases)}
        self.key_name = np.array([name_at.get(self.names[k], -1) for k in self.keys], dtype=int)
        self.key_table = np.array([table_at[t] for t, _ in self.keys], dtype=int)
        self.by_spelling: dict[str, list[int]] = {}
        for i, (_, spelling) in enumerate(self.keys):
            if len(spelling) > 3 or "_" in spelling:
                self.by_spelling.setdefault(spelling.lower(), []).append(i)
        group_names: dict[tuple[int, str], int] = {}
        self.key_group_name = np.array(
            [
                group_names.setdefault((self.group_of[t], c.lower()), len(group_names))
                for t, c in self.keys
            ],
            dtype=int,
        )
        self.names_of_group: list[list[int]] = [[] for _ in self.groups]
        for (group, _), i in group_names.items():
            self.names_of_group[group].append(i)
        self.build_seconds = time.perf_counter() - started

    def scores(self, question: str, evidence: str = "") -> dict[tuple[str, str], float]:
        return dict(zip(self.keys, self._scores(question, evidence).tolist(), strict=True))

    def _scores(self, question: str, evidence: str = "") -> Any:
        """One score per column (``self.keys`` order), as a numpy array."""
        text = f"{question} {evidence}"
        extra = " ".join(HINTS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in HINTS)
        if _YEAR.search(text):
            extra += " year date"
        query = tokens(f"{text} {extra}")
        scores = (
            np.asarray(self.index.get_scores(query), dtype=float)
            if query
            else np.zeros(len(self.keys))
        )
        text = text.lower()
        # Column names the question spells out ("`NetWorth_Millions`", "birth_year").
        for spelled in {
            m
            for pair in re.findall(r"`([^`]+)`|\b([A-Za-z_][A-Za-z0-9_]*)\b", text)
            for m in pair
            if m
        }:
            scores[self.by_spelling.get(spelled, [])] += 5.0
        query_words = sorted(set(query))
        # A name written out in the question, else spelled closely, else sharing a stem.
        bonus = np.zeros(len(self.unique_names) + 1)  # the last: columns whose name has no words
        if query_words:
            # Close spellings, all names against all question words at once (rapidfuzz, in C).
            matrix = process.cdist(
                self.unique_names, query_words, scorer=fuzz.ratio, score_cutoff=88
            )
            if len(self.unique_names):
                bonus[:-1][matrix.max(axis=1) > 0] = 1.5
            # Shared stems: "humid" ~ "humidity", "employ" ~ "employees" (four letters or more),
            # looked up through the names' four-letter prefixes; a weaker signal than a spelling.
            for stem in (w for w in query_words if len(w) >= 4):
                for at, part in self.by_prefix.get(stem[:4], ()):
                    if (part.startswith(stem) or stem.startswith(part)) and bonus[at] == 0:
                        bonus[at] = 0.75
        written = [i for i, name in enumerate(self.unique_names) if name in text]
        bonus[written] = 3.0
        scores += bonus[self.key_name]
        table_bonus = np.array(
            [
                1.0 if phrase and (phrase in text or alone in text) else 0.0
                for phrase, alone in self.table_phrases
            ]
        )
        scores += table_bonus[self.key_table]
        if self.embeddings is not None and self.embedder is not None:  # similar in meaning
            similarity = self.embeddings @ self.embedder([f"{question} {evidence}"])[0]
            scores += self.embedding_weight * np.maximum(0.0, similarity - 0.25)
        if self.values is not None:  # the question quotes a value this column holds
            for hit in self.values.lookup(f"{question} {evidence}"):
                if (hit.table, hit.column) in self.position:
                    scores[self.position[(hit.table, hit.column)]] += 4.0 * hit.score / 100
        return scores

    def _whole_groups(
        self,
        scores: Any,
        budget: int,
        add: Callable[[tuple[str, str]], bool],
        top: int = 5,
    ) -> None:
        """Add whole groups of joined tables, best first, while they fit ``budget``. A group's
        score is the sum of its ``top`` best distinct column names' scores, so that a name
        repeated across many tables ("name", "id") counts once."""
        best = np.zeros(sum(len(names) for names in self.names_of_group))
        np.maximum.at(best, self.key_group_name, scores)
        group_scores = np.array(
            [np.sort(best[names])[-top:].sum() for names in self.names_of_group]
        )
        used = 0
        for group in np.argsort(-group_scores, kind="stable").tolist():
            if used > 0.9 * budget or group_scores[group] <= 0:
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
        array = self._scores(question, evidence)
        scores = dict(zip(self.keys, array.tolist(), strict=True))
        ranked = [self.keys[i] for i in np.argsort(-array, kind="stable").tolist()]
        total = len(self.keys)
        limit_columns = (
            int(round(total * column_fraction)) if column_fraction is not None else total
        )
        kept: set[tuple[str, str]] = set()
        kept_tables: set[str] = set()
        used = 0

        def cost(key: tuple[str, str]) -> int:
            table = self.table_of[key[0]]
            header = header_tokens(table) if key[0] not in kept_tables else 0
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
            self._whole_groups(array, token_budget, add)
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
