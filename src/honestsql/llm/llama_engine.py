"""Decoding on llama.cpp's low-level API: the schema read once, candidates decoded together.

What a plain ``Llama.create_chat_completion`` call does per candidate, this module does once per
question, and mostly once per database:

- **The stable prefix is read once.** Sequence 0 of the context always holds the tokens of the
  last prompt read (instructions and schema first, the question last), so the next prompt only
  reads the tokens after the longest shared prefix. The state after the *stable* part (everything
  before the question) is also saved to disk, keyed by the model and those tokens, so a new
  process starts warm on a database it has seen.
- **Candidates are decoded together**: each candidate is a llama.cpp sequence that shares the
  prompt's cells with sequence 0 (a unified KV cache, so sharing copies nothing), and every step
  decodes one token of every unfinished candidate in one batch. On a CPU a step costs about what a
  single sequence's step costs, because reading the weights dominates.
- **The grammar costs little**: a token is sampled without the grammar and only checked against
  it; only when the grammar rejects it is the grammar applied to the whole vocabulary and the
  token drawn again (llama.cpp's own ``common_sampler`` does the same). Greedy output is the same
  as applying the grammar first; sampled output follows the same constrained support.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from honestsql.llm import models, states
from honestsql.llm.streams import EngineError, Job, Output, Stream

#: The most sequences one call decodes together (candidates plus one per distinct prompt).
MAX_SEQUENCES = 16
#: The chat layout for a model file without a template of its own.
CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class Engine:
    """One loaded model with one context: ``run`` decodes jobs, sharing what can be shared."""

    def __init__(
        self,
        path: Path,
        *,
        n_ctx: int = 8192,
        threads: int = 1,
        state_dir: Path | None = None,
        n_batch: int = 512,
    ) -> None:
        import llama_cpp
        from llama_cpp import _internals, _logger

        _logger.set_verbose(False)  # llama.cpp's own log lines: errors only
        self.lib = llama_cpp
        self.path = path
        self.state_dir = state_dir
        self.n_batch = n_batch
        self.model = _internals.LlamaModel(
            path_model=str(path), params=models.load_params(), verbose=False
        )
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = n_batch
        params.n_ubatch = n_batch
        params.n_seq_max = MAX_SEQUENCES
        params.kv_unified = True  # candidates share the prompt's cells
        params.n_threads = threads
        params.n_threads_batch = threads
        params.no_perf = True
        self.context = _internals.LlamaContext(model=self.model, params=params, verbose=False)
        self.ctx = self.context.ctx
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.vocab = self.model.vocab
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        self.n_ctx = llama_cpp.llama_n_ctx(self.ctx)
        self.batch_size = max(n_batch, MAX_SEQUENCES)
        self.batch = _internals.LlamaBatch(
            n_tokens=self.batch_size, embd=0, n_seq_max=1, verbose=False
        )
        #: The tokens sequence 0 holds.
        self.cached: list[int] = []
        self._formatter = self._chat_formatter()
        self._fingerprint = states.file_fingerprint(path)
        self._token_array = np.zeros(
            self.n_vocab,
            dtype=np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True),
        )
        #: Every token id in order, to reset ``_token_array`` after a sampler reordered it.
        self.token_ids = np.arange(self.n_vocab, dtype=np.intc)
        self._token_array["id"] = self.token_ids
        self._llg_tokenizer: Any = None

    # --- grammars ------------------------------------------------------------------------------

    def lark_matcher(self, grammar: str) -> Any:
        """An llguidance matcher of ``grammar`` (Lark) over this model's vocabulary."""
        import llguidance
        import llguidance.llamacpp

        if self._llg_tokenizer is None:  # about a second; once per model
            with warnings.catch_warnings():  # it calls a llama.cpp function marked deprecated
                warnings.simplefilter("ignore", DeprecationWarning)
                self._llg_tokenizer = llguidance.llamacpp.lltokenizer_from_vocab(self.vocab)
        matcher = llguidance.LLMatcher(
            self._llg_tokenizer, llguidance.LLMatcher.grammar_from_lark(grammar), log_level=0
        )
        if matcher.is_error():
            raise EngineError(f"llguidance could not use the grammar: {matcher.get_error()}")
        return matcher

    # --- prompts -------------------------------------------------------------------------------

    def _chat_formatter(self) -> Any:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        metadata = self.model.metadata()
        template = metadata.get("tokenizer.chat_template") or CHATML

        def piece(token: int) -> str:
            return self.model.token_get_text(token) if token >= 0 else ""

        return Jinja2ChatFormatter(
            template=template,
            eos_token=piece(self.model.token_eos()),
            bos_token=piece(self.model.token_bos()),
        )

    def chat_text(self, messages: list[dict[str, str]]) -> str:
        return str(self._formatter(messages=messages).prompt)

    def tokenize(self, text: str) -> list[int]:
        return list(
            self.model.tokenize(
                text.encode("utf-8"), add_bos=self.model.add_bos_token(), special=True
            )
        )

    # --- the cache of sequence 0 ---------------------------------------------------------------

    def forget(self) -> None:
        """Drop every state held in memory (the disk cache stays)."""
        self.lib.llama_memory_clear(self.memory, True)
        self.cached = []

    def _decode(self, tokens: Sequence[int], start: int, seq: int) -> None:
        """Read ``tokens`` into ``seq`` from position ``start``, in batches, no logits kept."""
        for offset in range(0, len(tokens), self.n_batch):
            chunk = tokens[offset : offset + self.n_batch]
            self._fill([(t, start + offset + i, seq) for i, t in enumerate(chunk)], logits=False)
            self._run_batch()

    def _fill(self, entries: Sequence[tuple[int, int, int]], *, logits: bool) -> None:
        batch = self.batch.batch
        batch.n_tokens = len(entries)
        for i, (token, position, seq) in enumerate(entries):
            batch.token[i] = token
            batch.pos[i] = position
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = logits

    def _run_batch(self) -> None:
        code = self.lib.llama_decode(self.ctx, self.batch.batch)
        if code != 0:
            raise EngineError(
                f"llama_decode returned {code} (the context of {self.n_ctx} tokens may be full)"
            )

    def _state_file(self, tokens: Sequence[int]) -> Path | None:
        if self.state_dir is None:
            return None
        return states.path_for(self.state_dir, self._fingerprint, tokens)

    def _load_state(self, tokens: Sequence[int]) -> bool:
        path = self._state_file(tokens)
        if path is None or not path.is_file():
            return False  # sequence 0 is untouched
        loaded = states.load(self, path, tokens)
        self.cached = list(tokens) if loaded else []
        return loaded

    def _save_state(self) -> None:
        path = self._state_file(self.cached)
        if path is not None:
            states.save(self, path, self.cached, f"{self._fingerprint}-*.state")

    def _prepare(self, shared: list[int], stable: int) -> int:
        """Make sequence 0 hold exactly ``shared``; returns how many tokens had to be read."""
        keep = _common_prefix(self.cached, shared)
        if stable > keep:
            self._load_state(shared[:stable])  # on failure the cache is emptied
            keep = _common_prefix(self.cached, shared)
        self.lib.llama_memory_seq_rm(self.memory, 0, keep, -1)
        del self.cached[keep:]
        read = 0
        if stable > keep:  # read the stable part alone first, so its state can be saved
            self._decode(shared[keep:stable], keep, 0)
            read += stable - keep
            self.cached = list(shared[:stable])
            self._save_state()
            keep = stable
        self._decode(shared[keep:], keep, 0)
        read += len(shared) - keep
        self.cached = list(shared)
        return read

    # --- decoding ------------------------------------------------------------------------------

    def run(self, jobs: list[Job]) -> list[Output]:
        """Decode every job's candidates; more than fit in one batch go in rounds."""
        for job in jobs:
            if not job.tokens:
                raise EngineError("an empty prompt")
            if len(job.tokens) + job.max_tokens > self.n_ctx:
                raise EngineError(
                    f"the prompt ({len(job.tokens)} tokens) and its answer ({job.max_tokens}) do "
                    f"not fit the context of {self.n_ctx} tokens"
                )
        room = MAX_SEQUENCES - 1 - len(jobs)
        if room < 1:
            raise EngineError(f"at most {MAX_SEQUENCES - 2} prompts per call")
        # The context's cells are shared by every sequence: the prompts (their common part once)
        # and each candidate's answer must fit together; fewer candidates per round if not.
        common = min(
            [len(jobs[0].tokens)] + [_common_prefix(jobs[0].tokens, j.tokens) for j in jobs[1:]]
        )
        free = self.n_ctx - common - sum(len(job.tokens) - common for job in jobs)
        room = min(room, max(1, free // max(job.max_tokens for job in jobs)))
        pending = [(index, c) for index, job in enumerate(jobs) for c in job.candidates]
        outputs = [Output([]) for _ in jobs]
        while True:
            group, pending = pending[:room], pending[room:]
            round_jobs = [
                replace(job, candidates=[c for i, c in group if i == index])
                for index, job in enumerate(jobs)
            ]
            for total, part in zip(outputs, self._round(round_jobs), strict=True):
                total.texts += part.texts
                total.scores += part.scores
                total.prompt_read += part.prompt_read
                total.generated += part.generated
                for key, value in part.stats.items():
                    total.stats[key] = total.stats.get(key, 0.0) + value
            if not pending:
                return outputs

    def _round(self, jobs: list[Job]) -> list[Output]:
        # The prefix all prompts share lives in sequence 0; each prompt keeps at least its last
        # token of its own, so that its logits are computed.
        shared_len = min(len(job.tokens) for job in jobs) - 1
        for job in jobs[1:]:
            shared_len = min(shared_len, _common_prefix(jobs[0].tokens, job.tokens))
        shared = jobs[0].tokens[:shared_len]
        stable = min((job.stable for job in jobs), default=0)
        started = time.perf_counter()
        read = self._prepare(shared, stable if 0 < stable <= shared_len else 0)
        try:
            outputs = self._generate(jobs, shared_len, read, started)
        finally:
            for seq in range(1, MAX_SEQUENCES):
                self.lib.llama_memory_seq_rm(self.memory, seq, -1, -1)
        return outputs

    def _generate(
        self, jobs: list[Job], shared_len: int, read: int, started: float
    ) -> list[Output]:
        lib = self.lib
        # Each job's own prompt tail, in its own sequence. The tails' last tokens, whose logits
        # start the candidates, all go in the final batch.
        entries: list[tuple[int, int, int]] = []  # (token, position, sequence)
        for index, job in enumerate(jobs):
            lib.llama_memory_seq_cp(self.memory, 0, index + 1, -1, -1)
            entries += [
                (token, shared_len + i, index + 1)
                for i, token in enumerate(job.tokens[shared_len:-1])
            ]
        for offset in range(0, len(entries), self.batch_size):
            self._fill(entries[offset : offset + self.batch_size], logits=False)
            self._run_batch()
        last = [(job.tokens[-1], len(job.tokens) - 1, index + 1) for index, job in enumerate(jobs)]
        self._fill(last, logits=True)
        self._run_batch()
        prompt_done = time.perf_counter()
        outputs = [
            Output([], prompt_read=(read if index == 0 else 0) + len(job.tokens) - shared_len)
            for index, job in enumerate(jobs)
        ]
        streams: list[Stream] = []
        next_seq = len(jobs) + 1
        for index, job in enumerate(jobs):
            for candidate in job.candidates:
                seq = next_seq
                next_seq += 1
                lib.llama_memory_seq_cp(self.memory, index + 1, seq, -1, -1)
                streams.append(Stream(self, index, seq, len(job.tokens), index, job, candidate))
        for index in range(len(jobs)):  # the prompts' own sequences are copied; free them
            lib.llama_memory_seq_rm(self.memory, index + 1, -1, -1)
        try:
            active = list(streams)
            decoded = 0
            sampling = 0.0
            while active:  # one token of every unfinished candidate per step
                mark = time.perf_counter()
                active = [stream for stream in active if not stream.step()]
                sampling += time.perf_counter() - mark
                # Candidates of one prompt that have written the same tokens so far are in the
                # same state: one of them is decoded, the others get a copy of its new cell.
                leaders: dict[tuple[int, tuple[int, ...]], Stream] = {}
                for stream in active:
                    leaders.setdefault((stream.job, tuple(stream.tokens)), stream)
                unique = list(leaders.values())
                if unique:
                    self._fill([(s.tokens[-1], s.pos, s.seq) for s in unique], logits=True)
                    self._run_batch()
                    decoded += len(unique)
                for index, leader in enumerate(unique):
                    leader.index = index
                for stream in active:
                    leader = leaders[(stream.job, tuple(stream.tokens))]
                    if leader is not stream:
                        lib.llama_memory_seq_cp(
                            self.memory, leader.seq, stream.seq, stream.pos, stream.pos + 1
                        )
                        stream.index = leader.index
                    stream.pos += 1
        finally:
            for stream in streams:
                stream.close()
        for stream in streams:
            outputs[stream.job].texts.append(stream.text())
            outputs[stream.job].scores.append(stream.scores())
            outputs[stream.job].generated += len(stream.tokens)
        timing = {
            "prompt_s": prompt_done - started,
            "gen_s": time.perf_counter() - prompt_done,
            "decoded": float(decoded),
            "sample_s": sampling,  # sampling and the grammar, outside llama_decode
            "looped": float(sum(stream.looped for stream in streams)),
        }
        outputs[0].stats = timing  # one call's time, reported once
        return outputs


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    left = np.asarray(a[:n], dtype=np.int64)
    right = np.asarray(b[:n], dtype=np.int64)
    differ = np.nonzero(left != right)[0]
    return int(differ[0]) if differ.size else n
