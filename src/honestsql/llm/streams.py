"""What one engine call decodes: jobs (a prompt and its candidates), and the stream that
samples one candidate token by token, checking the grammar only when it must.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from honestsql.llm.llama_engine import Engine


#: Sampling settings for the sampled candidates (llama.cpp's defaults for these samplers).
TOP_K = 40


TOP_P = 0.95


MIN_P = 0.05


@dataclass
class Candidate:
    temperature: float
    seed: int


@dataclass
class Job:
    """One prompt and the candidates to decode from it."""

    tokens: list[int]
    candidates: list[Candidate]
    grammar: str | None = None
    max_tokens: int = 512
    #: How many leading tokens are stable across questions (instructions and schema): the state
    #: after them is kept on disk.
    stable: int = 0


@dataclass
class Output:
    texts: list[str]
    #: Tokens of this job's prompt that were actually read (not taken from a cache).
    prompt_read: int = 0
    generated: int = 0
    stats: dict[str, Any] = field(default_factory=dict)


class EngineError(RuntimeError):
    pass


class Stream:
    """One candidate being decoded: its sequence, samplers and tokens."""

    def __init__(
        self, engine: Engine, job: int, seq: int, pos: int, index: int, spec: Job, cand: Candidate
    ) -> None:
        lib = engine.lib
        self.engine = engine
        self.job = job
        self.seq = seq
        self.pos = pos
        self.index = index
        self.max_tokens = spec.max_tokens
        self.tokens: list[int] = []
        params = lib.llama_sampler_chain_default_params()
        self.chain = lib.llama_sampler_chain_init(params)
        if cand.temperature <= 0:
            lib.llama_sampler_chain_add(self.chain, lib.llama_sampler_init_greedy())
        else:
            lib.llama_sampler_chain_add(self.chain, lib.llama_sampler_init_top_k(TOP_K))
            lib.llama_sampler_chain_add(self.chain, lib.llama_sampler_init_top_p(TOP_P, 1))
            lib.llama_sampler_chain_add(self.chain, lib.llama_sampler_init_min_p(MIN_P, 1))
            lib.llama_sampler_chain_add(self.chain, lib.llama_sampler_init_temp(cand.temperature))
            lib.llama_sampler_chain_add(self.chain, lib.llama_sampler_init_dist(cand.seed))
        self.grammar = None
        if spec.grammar:
            self.grammar = lib.llama_sampler_init_grammar(
                engine.vocab, spec.grammar.encode("utf-8"), b"root"
            )
            if not self.grammar:
                lib.llama_sampler_free(self.chain)
                raise EngineError("llama.cpp could not parse the grammar")

    def step(self) -> bool:
        """Sample the next token and append it; True when the candidate is finished."""
        engine, lib = self.engine, self.engine.lib
        token = int(lib.llama_sampler_sample(self.chain, engine.ctx, self.index))
        if self.grammar is not None and not self._allowed(token):
            # Rejected: constrain the whole vocabulary, then draw again.
            logits = lib.llama_get_logits_ith(engine.ctx, self.index)
            array = engine._token_array
            array["logit"] = np.ctypeslib.as_array(logits, shape=(engine.n_vocab,))
            array["p"] = 0.0
            data = array.ctypes.data_as(lib.llama_token_data_p)
            candidates = lib.llama_token_data_array(data, engine.n_vocab, -1, False)
            lib.llama_sampler_apply(self.grammar, ctypes.byref(candidates))
            lib.llama_sampler_apply(self.chain, ctypes.byref(candidates))
            if candidates.selected < 0:
                raise EngineError("no token satisfies the grammar")
            token = int(data[candidates.selected].id)
            # llama_token_data_array may have been reordered; restore the ids for the next use.
            array["id"] = engine.token_ids
        if lib.llama_vocab_is_eog(engine.vocab, token) or len(self.tokens) >= self.max_tokens:
            return True
        if self.grammar is not None:
            lib.llama_sampler_accept(self.grammar, token)
        self.tokens.append(token)
        return False

    def _allowed(self, token: int) -> bool:
        lib = self.engine.lib
        single = lib.llama_token_data(token, 1.0, 0.0)
        candidates = lib.llama_token_data_array(ctypes.pointer(single), 1, -1, False)
        lib.llama_sampler_apply(self.grammar, ctypes.byref(candidates))
        return bool(np.isfinite(single.logit))

    def text(self) -> str:
        return self.engine.model.detokenize(self.tokens).decode("utf-8", errors="replace")

    def close(self) -> None:
        lib = self.engine.lib
        if self.chain:
            lib.llama_sampler_free(self.chain)
            self.chain = None
        if self.grammar:
            lib.llama_sampler_free(self.grammar)
            self.grammar = None
