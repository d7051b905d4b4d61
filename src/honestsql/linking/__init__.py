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


_LINKERS: dict[int, Any] = {}


def select_tables(
    question: str,
    catalog: Catalog,
    budget_chars: int,
    render: Callable[[list[Table]], str],
    db: Any = None,
) -> list[Table]:
    """All tables when their rendering fits ``budget_chars``; else the tables the schema linker
    ranks highest for the question (keys and join tables included), as many as fit. With ``db``,
    the linker also matches the question against the database's values (index built once)."""
    if len(render(catalog.tables)) <= budget_chars:
        return list(catalog.tables)
    from honestsql.linking.linker import SchemaLinker

    linker = _LINKERS.get(id(catalog))
    if linker is None or linker.catalog is not catalog:
        from honestsql.linking.values import ValueIndex

        values = ValueIndex.build(db, catalog) if db is not None else None
        linker = _LINKERS[id(catalog)] = SchemaLinker(catalog, values=values)
    ranked = linker.link(question, token_budget=budget_chars // 4).tables
    chosen: list[Table] = []
    for name in ranked:
        table = catalog.table(name)
        if table is not None and (not chosen or len(render([*chosen, table])) <= budget_chars):
            chosen.append(table)
    return chosen
