"""``honestsql bench grammar``: which SQL the grammars admit, and what a token mask costs.

Two measurements, no model run:

- **Gold admitted**: every answerable gold query of a suite (Spider's strings in double quotes
  rewritten as SQL strings, sql-eval's first ``{a, b}`` alternative), written in the suite's
  dialect by sqlglot, tokenized by the model's own tokenizer and fed token by token to the
  ``full`` grammar of its database: admitted when every token is accepted and the grammar may end.
- **Mask time**: per token of those gold queries, the time to compute the allowed-token mask over
  the whole vocabulary, for llguidance on the ``full`` grammar and on the ``qualified`` GBNF
  (converted to Lark by llguidance), llama.cpp's GBNF sampler on ``qualified`` (what decoding
  used so far), and xgrammar on ``qualified`` (its compile time per grammar too: the grammar
  changes with every question's linked tables).
"""

from __future__ import annotations

import ctypes
import re
import statistics
import time
from collections.abc import Callable
from typing import Any

import sqlglot

import honestsql
from honestsql.benchmarks import ask as bench_ask
from honestsql.evaluation import matching
from honestsql.llm.full_grammar import full_grammar
from honestsql.llm.grammar import sql_grammar


class Vocabulary:
    """The model's tokenizer, loaded without its weights."""

    def __init__(self, path: str) -> None:
        import llama_cpp
        import llguidance.llamacpp
        from llama_cpp import _internals

        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        self.lib = llama_cpp
        self.model = _internals.LlamaModel(path_model=path, params=params, verbose=False)
        self.vocab = self.model.vocab
        self.size = llama_cpp.llama_vocab_n_tokens(self.vocab)
        self.llg = llguidance.llamacpp.lltokenizer_from_vocab(self.vocab)

    def tokens(self, text: str) -> list[int]:
        return list(self.model.tokenize(text.encode("utf-8"), add_bos=False, special=False))


def _gold(suite: str, sql: str, dialect: str) -> str:
    if suite == "spider":  # Spider writes strings in double quotes, which SQLite reads so
        sql = re.sub(r'"([^"]*)"', lambda m: "'" + m.group(1).replace("'", "''") + "'", sql)
    else:
        sql = matching.sqleval_alternatives(sql)[0]
    return sqlglot.transpile(sql, read=dialect, write=dialect)[0]


def gold_queries(data: str | None, suites: list[str]) -> list[tuple[str, str, Any, str]]:
    """(suite, database, catalog, gold SQL) for every answerable question whose database is
    here."""
    out = []
    for suite, dataset in bench_ask.load_suites(data, suites).items():
        catalogs: dict[str, Any] = {}
        for example in dataset.examples:
            url = dataset.locate(example.db_id)
            if example.gold is None or url is None:
                continue
            if example.db_id not in catalogs:
                with honestsql.connect(url, allow_privileged=True) as db:
                    catalogs[example.db_id] = db.catalog()
            sql = _gold(suite, example.gold[0], dataset.dialect)
            out.append((suite, example.db_id, catalogs[example.db_id], sql))
    return out


def admitted(vocab: Vocabulary, golds: list[tuple[str, Any, str]]) -> dict[str, Any]:
    """Per suite: gold queries the ``full`` grammar admits (and the ``qualified`` GBNF shape,
    through llguidance's converter), with the first ones ``full`` refuses."""
    import llguidance
    import llguidance.gbnf_to_lark

    compiled: dict[tuple[int, str], str] = {}
    figures: dict[str, Any] = {}

    def admits(catalog: Any, shape: str, tokens: list[int]) -> bool:
        key = (id(catalog), shape)
        if key not in compiled:
            lark = (
                full_grammar(catalog, catalog.dialect)
                if shape == "full"
                else llguidance.gbnf_to_lark.any_to_lark(
                    sql_grammar(catalog, catalog.dialect, shape=shape)
                )
            )
            compiled[key] = llguidance.LLMatcher.grammar_from_lark(lark)
        matcher = llguidance.LLMatcher(vocab.llg, compiled[key], log_level=0)
        return matcher.try_consume_tokens(tokens) == len(tokens) and matcher.is_accepting()

    for suite, catalog, sql in golds:
        tokens = vocab.tokens(sql)
        entry = figures.setdefault(
            suite, {"gold": 0, "admitted": 0, "admitted_qualified": 0, "refused": []}
        )
        entry["gold"] += 1
        entry["admitted_qualified"] += admits(catalog, "qualified", tokens)
        if admits(catalog, "full", tokens):
            entry["admitted"] += 1
        elif len(entry["refused"]) < 5:
            entry["refused"].append(sql[:160])
    return figures


def _summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "steps": len(times),
        "median_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 3),
    }


def _timed(
    sequences: list[list[int]], start: Callable[[], Any], mask: Callable[[Any], None], take: Any
) -> list[float]:
    times = []
    for sequence in sequences:
        state = start()
        for token in sequence:
            begun = time.perf_counter()
            mask(state)
            times.append(time.perf_counter() - begun)
            if not take(state, token):
                break
    return times


def mask_times(vocab: Vocabulary, catalog: Any, golds: list[str]) -> dict[str, Any]:
    """Mask time per token over ``golds`` (one database's gold queries), per engine."""
    import llguidance
    import llguidance.gbnf_to_lark
    import numpy as np

    lib = vocab.lib
    sequences = [vocab.tokens(sql) for sql in golds]
    qualified = sql_grammar(catalog, catalog.dialect, shape="qualified")
    out: dict[str, Any] = {}
    for name, lark in (
        ("llguidance_full", full_grammar(catalog, catalog.dialect)),
        ("llguidance_qualified", llguidance.gbnf_to_lark.any_to_lark(qualified)),
    ):
        grammar = llguidance.LLMatcher.grammar_from_lark(lark)
        begun = time.perf_counter()
        llguidance.LLMatcher(vocab.llg, grammar, log_level=0)
        build = time.perf_counter() - begun

        def start(g: str = grammar) -> Any:
            return llguidance.LLMatcher(vocab.llg, g, log_level=0)

        times = _timed(
            sequences,
            start,
            lambda m: m.compute_bitmask(),
            lambda m, t: m.consume_token(t),
        )
        out[name] = {"build_ms": round(build * 1000, 2), **_summary(times)}
    array = np.zeros(
        vocab.size,
        dtype=np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True),
    )

    def gbnf_mask(sampler: Any) -> None:
        array["id"] = np.arange(vocab.size)
        array["logit"] = 0.0
        data = array.ctypes.data_as(lib.llama_token_data_p)
        candidates = lib.llama_token_data_array(data, vocab.size, -1, False)
        lib.llama_sampler_apply(sampler, ctypes.byref(candidates))

    def gbnf_take(sampler: Any, token: int) -> bool:
        if not np.isfinite(array["logit"][token]):
            return False
        lib.llama_sampler_accept(sampler, token)
        return True

    samplers: list[Any] = []

    def gbnf_start() -> Any:
        samplers.append(
            lib.llama_sampler_init_grammar(vocab.vocab, qualified.encode("utf-8"), b"root")
        )
        return samplers[-1]

    times = _timed(sequences, gbnf_start, gbnf_mask, gbnf_take)
    for sampler in samplers:
        lib.llama_sampler_free(sampler)
    out["llama_cpp_gbnf_qualified"] = _summary(times)
    out["xgrammar_qualified"] = _xgrammar(vocab, qualified, sequences)
    return out


def _xgrammar(vocab: Vocabulary, gbnf: str, sequences: list[list[int]]) -> dict[str, Any]:
    try:
        import xgrammar
    except ImportError:
        return {"skipped": "xgrammar is not installed"}
    buffer = ctypes.create_string_buffer(16 * 1024)
    pieces = []
    for token in range(vocab.size):
        n = vocab.lib.llama_token_to_piece(vocab.vocab, token, buffer, 16 * 1024, 0, True)
        pieces.append(buffer.raw[:n])
    info = xgrammar.TokenizerInfo(
        pieces,
        vocab_type=xgrammar.VocabType.RAW,
        stop_token_ids=[vocab.lib.llama_vocab_eos(vocab.vocab)],
    )
    begun = time.perf_counter()
    compiled = xgrammar.GrammarCompiler(info).compile_grammar(gbnf)
    build = time.perf_counter() - begun
    bitmask = xgrammar.allocate_token_bitmask(1, info.vocab_size)
    times = _timed(
        sequences,
        lambda: xgrammar.GrammarMatcher(compiled),
        lambda m: m.fill_next_token_bitmask(bitmask),
        lambda m, t: m.accept_token(t),
    )
    return {"build_ms": round(build * 1000, 2), **_summary(times)}
