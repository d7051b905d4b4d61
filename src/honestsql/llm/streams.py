"""What one engine call decodes: jobs (a prompt and its candidates), and the stream that
samples one candidate token by token, checking the grammar only when it must.
"""

from __future__ import annotations

import ctypes
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from honestsql.llm.llama_engine import Engine


#: Sampling settings for the sampled candidates (llama.cpp's defaults for these samplers).
TOP_K = 40


TOP_P = 0.95


MIN_P = 0.05

#: How a grammar for llguidance (Lark) starts; any other grammar is GBNF for llama.cpp.
LARK = "%llguidance"

#: A candidate whose last tokens are one block written again and again is stopped: at least
#: ``LOOP_REPEATS`` copies of a block of up to ``LOOP_PERIOD`` tokens, ``LOOP_SPAN`` tokens in all.
#: Such a candidate would only repeat itself to the token cap (one did for 6 of a question's 7
#: minutes) and be refused either way, as SQL cut off is.
LOOP_PERIOD = 48
LOOP_REPEATS = 3
LOOP_SPAN = 48


def looping(tokens: list[int]) -> bool:
    """Whether ``tokens`` end in one block repeated (see ``LOOP_PERIOD``)."""
    for period in range(1, LOOP_PERIOD + 1):
        copies = max(LOOP_REPEATS, -(-LOOP_SPAN // period))
        if copies * period > len(tokens):
            continue
        block = tokens[-period:]
        if all(
            tokens[len(tokens) - (k + 1) * period : len(tokens) - k * period] == block
            for k in range(1, copies)
        ):
            return True
    return False


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
    #: Per text: the mean log-probability of its tokens and the least one (``Stream.scores``).
    scores: list[tuple[float, float]] = field(default_factory=list)
    #: Tokens of this job's prompt that were actually read (not taken from a cache).
    prompt_read: int = 0
    generated: int = 0
    stats: dict[str, Any] = field(default_factory=dict)


class EngineError(RuntimeError):
    pass


class Stream:
    """One candidate being decoded: its sequence, samplers and tokens.

    A token is sampled without the grammar and checked against it; only a rejected token makes
    the grammar mask the whole vocabulary and the token be drawn again. GBNF grammars are checked
    by llama.cpp's grammar sampler, Lark ones by an llguidance matcher (a mask costs about 0.1 ms
    there against about 13 ms for llama.cpp's; docs/BENCHMARKS.md)."""

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
        #: Whether it was stopped for repeating itself (``looping``).
        self.looped = False
        #: The model's log-probability of each token taken (the end-of-text token included).
        self.logprobs: list[float] = []
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
        self.matcher: Any = None
        if spec.grammar and spec.grammar.startswith(LARK):
            self.matcher = engine.lark_matcher(spec.grammar)
        elif spec.grammar:
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
        if self.matcher is not None and self.matcher.validate_tokens([token]) != 1:
            token = self._constrained(self._lark_mask)
        elif self.grammar is not None and not self._allowed(token):
            token = self._constrained(self._gbnf_mask)
        if len(self.tokens) >= self.max_tokens:
            return True  # cut: the token drawn is not part of the text
        self.logprobs.append(self._logprob(token))
        if lib.llama_vocab_is_eog(engine.vocab, token):
            return True
        if self.grammar is not None:
            lib.llama_sampler_accept(self.grammar, token)
        if self.matcher is not None and not self.matcher.consume_token(token):
            raise EngineError(f"the grammar refused a token it allowed: {self.matcher.get_error()}")
        self.tokens.append(token)
        self.looped = looping(self.tokens)
        return self.looped

    def _logprob(self, token: int) -> float:
        """log P(token) under the model's own distribution (no temperature, no grammar)."""
        engine = self.engine
        pointer = engine.lib.llama_get_logits_ith(engine.ctx, self.index)
        logits = np.ctypeslib.as_array(pointer, shape=(engine.n_vocab,))
        top = float(logits.max())
        return float(logits[token]) - top - math.log(float(np.exp(logits - top).sum()))

    def scores(self) -> tuple[float, float]:
        """The mean log-probability of the tokens taken and the least one (0, 0 for none)."""
        if not self.logprobs:
            return 0.0, 0.0
        return sum(self.logprobs) / len(self.logprobs), min(self.logprobs)

    def _constrained(self, restrict: Any) -> int:
        """Draw again from the whole vocabulary, restricted to what the grammar allows."""
        engine, lib = self.engine, self.engine.lib
        logits = lib.llama_get_logits_ith(engine.ctx, self.index)
        array = engine._token_array
        array["logit"] = np.ctypeslib.as_array(logits, shape=(engine.n_vocab,))
        array["p"] = 0.0
        data = array.ctypes.data_as(lib.llama_token_data_p)
        candidates = lib.llama_token_data_array(data, engine.n_vocab, -1, False)
        restrict(candidates)
        lib.llama_sampler_apply(self.chain, ctypes.byref(candidates))
        if candidates.selected < 0:
            raise EngineError("no token satisfies the grammar")
        token = int(data[candidates.selected].id)
        # llama_token_data_array may have been reordered; restore the ids for the next use.
        array["id"] = engine.token_ids
        return token

    def _gbnf_mask(self, candidates: Any) -> None:
        self.engine.lib.llama_sampler_apply(self.grammar, ctypes.byref(candidates))

    def _lark_mask(self, candidates: Any) -> None:
        engine = self.engine
        words = np.frombuffer(self.matcher.compute_bitmask(), dtype=np.uint8)
        allowed = np.unpackbits(words, bitorder="little")[: engine.n_vocab].astype(bool)
        engine._token_array["logit"][~allowed] = -np.inf

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
