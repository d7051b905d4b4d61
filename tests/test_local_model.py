"""The embedded backend with a tiny random-weight GGUF model that the tests build themselves.

Random weights produce noise; under the schema grammar that noise must still be one parseable
SELECT over real table and column names, every time.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

import honestsql
from honestsql.llm import BackendError, GenerationRequest
from honestsql.llm.grammar import sql_grammar
from honestsql.pipeline import Pipeline, Settings

from .tiny_gguf import build

llama_cpp = pytest.importorskip(
    "llama_cpp", reason="llama-cpp-python is not installed (pip install '.[local]')"
)
from honestsql.llm.llama_cpp import LlamaCpp  # noqa: E402


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("model") / "tiny.gguf")


@pytest.fixture(scope="module")
def backend(tiny_model: Path) -> LlamaCpp:
    return LlamaCpp(model=str(tiny_model), n_ctx=4096)


def noise(grammar: str, *, max_tokens: int, seed: int) -> GenerationRequest:
    """40 sampled candidates of one question under ``grammar``: random weights make noise."""
    return GenerationRequest(
        [{"role": "user", "content": "How many customers?"}],
        n=40,
        temperature=1.0,
        max_tokens=max_tokens,
        grammar=grammar,
        seed=seed,
    )


@pytest.mark.parametrize(
    ("dialect", "shape"), [("sqlite", "qualified"), ("postgres", "qualified"), ("sqlite", "schema")]
)
def test_grammar_output_is_always_a_select_over_real_names(
    backend: LlamaCpp, test_databases, dialect: str, shape: str
) -> None:  # type: ignore[no-untyped-def]
    with honestsql.connect(test_databases[dialect].url) as db:
        catalog = db.catalog()
    grammar = sql_grammar(catalog, dialect, shape=shape)
    tables = {t.name.lower() for t in catalog.tables}
    columns = {c.name.lower() for t in catalog.tables for c in t.columns}
    pairs = {(t.name.lower(), c.name.lower()) for t in catalog.tables for c in t.columns}
    aliases = {f"t{i}" for i in range(1, 5)}
    # Which branch noise takes first (SELECT or ABSTAIN) is decided by the prompt; the query
    # branch alone is checked here, and the whole grammar's abstentions below.
    assert grammar.startswith("root ::= query | abstain\n")
    query_only = grammar.replace("root ::= query | abstain", "root ::= query", 1)
    request = noise(query_only, max_tokens=3000, seed=7)
    queries = backend.generate(request).texts
    assert len(queries) == 40 and len(set(queries)) > 30  # noise, not one answer repeated
    either = backend.generate(replace(request, grammar=grammar, n=8)).texts
    queries += [text for text in either if not text.startswith("ABSTAIN: ")]
    for text in queries:
        tree = sqlglot.parse_one(text, read=dialect)
        assert isinstance(tree, exp.Select), text
        assert len(sqlglot.parse(text, read=dialect)) == 1
        for table in tree.find_all(exp.Table):
            assert table.name.lower() in tables, text
            if shape == "qualified":
                assert not table.alias, text
        for column in tree.find_all(exp.Column):
            if isinstance(column.this, exp.Star):
                continue
            assert column.name.lower() in columns, text
            if shape == "qualified":  # never a column of the wrong table
                assert (column.table.lower(), column.name.lower()) in pairs, text
            else:
                assert not column.table or column.table.lower() in tables | aliases, text


def test_pipeline_runs_on_the_embedded_model(backend: LlamaCpp, test_databases) -> None:  # type: ignore[no-untyped-def]
    with honestsql.connect(test_databases["sqlite"].url) as db:
        answer = Pipeline(db, backend, Settings(candidates=3, max_tokens=400, max_repairs=1)).ask(
            "How many customers live in Germany?", target=0.75
        )
    # Noise rarely agrees with itself: the honest outcome is an abstention, never a crash.
    assert answer.decision in {"answer", "abstain"}
    assert len(answer.candidates) == 3
    assert answer.usage["completion_tokens"] > 0
    for candidate in answer.candidates:
        assert candidate["status"] in {"ok", "rejected", "error", "abstain"}


def test_missing_model_offline_names_the_alternatives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HONESTSQL_MODELS_DIR", str(tmp_path / "models"))
    with pytest.raises(BackendError, match="--llm openai"):
        LlamaCpp(model="arctic-text2sql-r1-7b")
    with pytest.raises(BackendError, match="does not exist"):
        LlamaCpp(model=str(tmp_path / "nope.gguf"))
    with pytest.raises(BackendError, match="Unknown model"):
        LlamaCpp(model="gpt-17")


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_full_grammar_noise_stays_on_real_names(
    backend: LlamaCpp, test_databases, dialect: str
) -> None:  # type: ignore[no-untyped-def]
    """Under the ``full`` grammar (llguidance), noise is always a prefix of one statement the
    grammar admits, and every finished one parses as one query over real tables and columns."""
    from honestsql.llm.full_grammar import full_grammar

    from .test_full_grammar import admitted_prefix, byte_tokenizer

    with honestsql.connect(test_databases[dialect].url) as db:
        catalog = db.catalog()
    grammar = full_grammar(catalog, dialect).replace("start: query | ABSTAIN", "start: query", 1)
    tables = {t.name.lower() for t in catalog.tables}
    columns = {c.name.lower() for t in catalog.tables for c in t.columns}
    texts = backend.generate(noise(grammar, max_tokens=600, seed=11)).texts
    assert len(set(texts)) > 20  # noise, not one answer repeated
    finished = 0
    tokenizer = byte_tokenizer()
    for text in texts:
        prefix, complete = admitted_prefix(tokenizer, grammar, text)
        assert prefix, text
        if not complete:
            continue  # cut at max_tokens: a prefix of an admitted statement
        finished += 1
        trees = sqlglot.parse(text, read=dialect)
        assert len(trees) == 1 and isinstance(trees[0], exp.Query), text
        for table in trees[0].find_all(exp.Table):
            # A CTE's name starts with cte_ (whether the query named it, verification checks).
            assert table.name.lower() in tables or table.name.lower().startswith("cte_"), text
        for column in trees[0].find_all(exp.Column):
            if isinstance(column.this, exp.Star) or column.find_ancestor(exp.Order, exp.Group):
                continue  # ORDER BY and GROUP BY may name an output alias
            assert column.name.lower() in columns, text
    assert finished >= 1
