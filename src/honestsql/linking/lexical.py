"""The words of a question and of a schema, and how much of the one the other knows."""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

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
#: Words nearly every English question has one of, and other languages' questions rarely do
#: (not "in", "on", "is", "was", "per", "do": Italian, French, Dutch, German, Portuguese).
_ENGLISH = frozenset(
    """the of how what which who whom whose where when why are were for with from and or does did
    have has many much by each every there that this these those""".split()  # noqa: SIM905
)


def is_english(question: str) -> bool:
    """Whether the question reads as English: Latin letters only, and at least one of the
    function words English questions carry. The relevance gate counts the schema's (English)
    words, so it only judges questions in English; others go to the model."""
    letters = [c for c in question if c.isalpha()]
    if any(not ("a" <= c.lower() <= "z") for c in letters):
        return False  # another script, or accents English questions rarely carry
    return any(w.lower() in _ENGLISH for w in _TOKEN.findall(question))


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


@dataclass(frozen=True)
class Vocabulary:
    """Every word of a catalog's tables (``table_vocabulary``), and the same sorted."""

    words: frozenset[str]
    choices: tuple[str, ...]

    def knows(self, word: str) -> bool:
        """Whether it holds ``word``, its singular, or a word spelled nearly alike."""
        if word in self.words or singular(word) in self.words:
            return True
        best = (
            process.extractOne(word, self.choices, scorer=fuzz.ratio, score_cutoff=85)
            if self.choices
            else None
        )
        return best is not None


#: The vocabularies of the catalogs seen last: read by the relevance gate and again by the
#: confidence's signals, for every question on the same catalog (not changed once built).
_VOCABULARIES: OrderedDict[int, tuple[Catalog, Vocabulary]] = OrderedDict()
_VOCABULARIES_KEPT = 8


def vocabulary(catalog: Catalog) -> Vocabulary:
    """The catalog's ``Vocabulary``, built once per catalog."""
    kept = _VOCABULARIES.get(id(catalog))
    if kept is None or kept[0] is not catalog:
        found: set[str] = set()
        for table in catalog.tables:
            found |= table_vocabulary(table)
        kept = _VOCABULARIES[id(catalog)] = (
            catalog,
            Vocabulary(frozenset(found), tuple(sorted(found))),
        )
        while len(_VOCABULARIES) > _VOCABULARIES_KEPT:
            _VOCABULARIES.popitem(last=False)
    _VOCABULARIES.move_to_end(id(catalog))
    return kept[1]


def relevance(question: str, catalog: Catalog, evidence: str = "") -> float:
    """Share of the question's content words that the schema's names, descriptions or sample
    values contain (fuzzily); 0.5 when the question has no content words."""
    wanted = content_words(f"{question} {evidence}")
    if not wanted:
        return 0.5
    vocab = vocabulary(catalog)
    return sum(1 for w in wanted if vocab.knows(w)) / len(wanted)
