"""What part of the schema a question is about: a lexical first cut.

``relevance`` says how much of a question's vocabulary the schema knows (it feeds the
not-about-this-database gate and the confidence); ``select_tables`` keeps the whole schema when it
fits the prompt budget and otherwise the best-matching tables plus their foreign-key neighbours.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rapidfuzz import fuzz, process

from honestsql.catalog import Catalog, Table
from honestsql.suggest import singular, words

STOPWORDS = frozenset(
    """a about above after all also an and any are as at be been before being below between both but
    by can could did do does doing down during each few for from further had has have having he her
    here hers him his how i if in into is it its itself just me more most my no nor not now of off on
    once only or other our out over own same she should so some such than that the their them then
    there these they this those through to too under until up very was we were what when where which
    while who whom why will with would you your list show give tell find get many much number count
    total average per each every please name names which whose return display value values""".split()  # noqa: SIM905
)
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9]+")


def content_words(text: str) -> list[str]:
    return [
        w for w in (t.lower() for t in _TOKEN.findall(text)) if w not in STOPWORDS and len(w) > 2
    ]


def table_vocabulary(table: Table) -> set[str]:
    vocab: set[str] = set()
    texts = [table.name, table.description or "", table.comment or ""]
    for column in table.columns:
        texts += [column.name, column.description or "", column.comment or "", *column.samples]
    for text in texts:
        for word in words(text).split():
            vocab.add(word)
            vocab.add(singular(word))
    return vocab


def _matches(word: str, vocab: set[str], choices: list[str]) -> bool:
    if word in vocab or singular(word) in vocab:
        return True
    best = (
        process.extractOne(word, choices, scorer=fuzz.ratio, score_cutoff=85) if choices else None
    )
    return best is not None


def relevance(question: str, catalog: Catalog, evidence: str = "") -> float:
    """Share of the question's content words that the schema's names, descriptions or sample
    values contain (fuzzily); 0.5 when the question has no content words."""
    wanted = content_words(f"{question} {evidence}")
    if not wanted:
        return 0.5
    vocab: set[str] = set()
    for table in catalog.tables:
        vocab |= table_vocabulary(table)
    choices = sorted(vocab)
    return sum(1 for w in wanted if _matches(w, vocab, choices)) / len(wanted)


_LINKERS: dict[tuple[int, bool], Any] = {}


def _pruned(table: Table, keep: set[str]) -> Table:
    """``table`` showing only the columns in ``keep`` (and the foreign keys among them)."""
    return Table(
        name=table.name,
        columns=[c.model_copy() for c in table.columns if c.name in keep],
        primary_key=[c for c in table.primary_key if c in keep],
        foreign_keys=[fk for fk in table.foreign_keys if set(fk.columns) <= keep],
        comment=table.comment,
        description=table.description,
        row_count=table.row_count,
        row_count_estimated=table.row_count_estimated,
        is_view=table.is_view,
    )


def select_tables(
    question: str,
    catalog: Catalog,
    budget_chars: int,
    render: Callable[[list[Table]], str],
    db: Any = None,
    *,
    evidence: str = "",
    embedder: Any = None,
) -> list[Table]:
    """All tables when their rendering fits ``budget_chars``. Otherwise the schema linker ranks
    the tables for the question (keys and join tables included): the best are shown whole while
    they fit, the rest with only the columns the linker kept. With ``db`` the linker also matches
    the question against the database's values (the index is cached on disk: ``values``);
    ``embedder`` adds semantic similarity (``honestsql.linking.embeddings``)."""
    if len(render(catalog.tables)) <= budget_chars:
        return list(catalog.tables)
    from honestsql.linking.linker import SchemaLinker

    cache_key = (id(catalog), embedder is not None)
    linker = _LINKERS.get(cache_key)
    if linker is None or linker.catalog is not catalog:
        from honestsql.linking.values import ValueIndex

        values = ValueIndex.cached(db, catalog) if db is not None else None
        linker = _LINKERS[cache_key] = SchemaLinker(catalog, values=values, embedder=embedder)
    link = linker.link(question, evidence, token_budget=budget_chars // 4)
    chosen: list[Table] = []
    for name in link.tables:
        table = catalog.table(name)
        if table is None:
            continue
        pruned = _pruned(table, {c for t, c in link.columns if t == name})
        for shown in (table, pruned):
            if len(render([*chosen, shown])) <= budget_chars:
                chosen.append(shown)
                break
        else:
            if not chosen:  # never an empty schema: the best table, cut until it fits
                keep = sorted(
                    (c.name for c in pruned.columns), key=lambda c: -link.scores[(name, c)]
                )
                while len(keep) > 1 and len(render([_pruned(table, set(keep))])) > budget_chars:
                    keep.pop()
                chosen.append(_pruned(table, set(keep)))
    return chosen
