"""What part of the schema a question is about: a lexical first cut.

``relevance`` says how much of a question's vocabulary the schema knows (it feeds the
not-about-this-database gate and the confidence); ``select_tables`` keeps the whole schema when it
fits the prompt budget and otherwise the best-matching tables plus their foreign-key neighbours.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from honestsql.catalog import Catalog, Table
from honestsql.linking.lexical import (
    STOPWORDS,
    content_words,
    is_english,
    relevance,
    table_vocabulary,
)

__all__ = [
    "STOPWORDS",
    "content_words",
    "is_english",
    "relevance",
    "select_tables",
    "table_vocabulary",
]

#: Linkers of the catalogs seen last (a linker indexes a whole schema: worth keeping a few).
_LINKERS: OrderedDict[tuple[int, bool], Any] = OrderedDict()
_LINKERS_KEPT = 8


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
        while len(_LINKERS) > _LINKERS_KEPT:
            _LINKERS.popitem(last=False)
    _LINKERS.move_to_end(cache_key)
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
