"""The llama.cpp engine, on the tiny random-weight GGUF the tests build: the schema's state read
once (in memory and from disk), candidates decoded together, the grammar checked after sampling.

Random weights make noise, which is what these tests need: any difference in the model's state
(a wrong cached prefix, a wrong position) changes the noise."""

from __future__ import annotations

import ctypes
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import honestsql
from honestsql.llm import GenerationRequest
from honestsql.pipeline import Pipeline, Settings

from .tiny_gguf import build

llama_cpp = pytest.importorskip(
    "llama_cpp", reason="llama-cpp-python is not installed (pip install '.[local]')"
)
from honestsql.llm.llama_cpp import LlamaCpp  # noqa: E402
from honestsql.llm.streams import Candidate, Job  # noqa: E402

SCHEMA = (
    "Database schema:\n"
    + "\n".join(
        f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, name TEXT, amount REAL);" for i in range(12)
    )
    + "\n\n"
)
GRAMMAR = 'root ::= "SELECT " [a-z]{1,8} " FROM t" [0-9]'


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("model") / "tiny.gguf")


@pytest.fixture
def backend(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LlamaCpp:
    monkeypatch.setenv("HONESTSQL_MODELS_DIR", str(tmp_path / "models"))
    return LlamaCpp(model=str(tiny_model), n_ctx=4096)


def request(question: str, **kwargs) -> GenerationRequest:  # type: ignore[no-untyped-def]
    messages = [
        {"role": "system", "content": "Write SQL."},
        {"role": "user", "content": SCHEMA + f"Question: {question}\nSQL:"},
    ]
    return GenerationRequest(messages, stable=SCHEMA, **{"max_tokens": 24, **kwargs})


def test_a_second_question_reads_only_its_own_tokens(backend: LlamaCpp) -> None:
    first = backend.generate(request("How many rows are in t1?"))
    total = len(backend.engine.tokenize(backend.engine.chat_text(request("x").messages)))
    assert first.prompt_tokens > 300 and first.extra["prompt_cached"] == 0
    asked = request("What is the largest amount in t2?")
    second = backend.generate(asked)
    text = backend.engine.chat_text(asked.messages)
    # Its own tokens: the question, the words around it and the chat markers after the schema.
    own = len(backend.engine.tokenize(text[text.index(SCHEMA) + len(SCHEMA) :]))
    assert second.prompt_tokens <= own + 1
    assert second.extra["prompt_cached"] >= total - own - 1


def test_a_new_process_starts_from_the_schema_state_on_disk(
    backend: LlamaCpp, tiny_model: Path
) -> None:
    asked = request("How many rows are in t1?")
    cold = backend.generate(asked)
    states = list((Path(backend.engine.state_dir or "")).glob("*.state"))
    assert len(states) == 1  # the state after the schema, not after the question
    again = LlamaCpp(model=str(tiny_model), n_ctx=4096)  # a new process, same models dir
    warm = again.generate(asked)
    assert warm.prompt_tokens < cold.prompt_tokens / 5
    assert warm.texts == cold.texts  # the same state, so the same greedy noise
    # Without the disk state the new process reads everything again.
    for state in states:
        state.unlink()
    fresh = LlamaCpp(model=str(tiny_model), n_ctx=4096)
    assert fresh.generate(asked).prompt_tokens == cold.prompt_tokens


def test_a_corrupt_state_file_is_read_again_not_trusted(
    backend: LlamaCpp, tiny_model: Path
) -> None:
    asked = request("How many rows are in t1?")
    cold = backend.generate(asked)
    (state,) = Path(backend.engine.state_dir or "").glob("*.state")
    state.write_bytes(state.read_bytes()[:1000])
    again = LlamaCpp(model=str(tiny_model), n_ctx=4096)
    result = again.generate(asked)
    assert result.prompt_tokens == cold.prompt_tokens and result.texts == cold.texts


def test_a_state_file_without_this_user_s_signature_is_not_loaded(
    backend: LlamaCpp, tiny_model: Path
) -> None:
    asked = request("How many rows are in t1?")
    cold = backend.generate(asked)
    (state,) = Path(backend.engine.state_dir or "").glob("*.state")
    assert state.stat().st_mode & 0o777 == 0o600
    assert state.parent.stat().st_mode & 0o777 == 0o700
    planted = bytearray(state.read_bytes())  # same size and tokens, one byte of state changed
    planted[-100] ^= 0xFF
    state.write_bytes(bytes(planted))
    again = LlamaCpp(model=str(tiny_model), n_ctx=4096)
    assert again.generate(asked).prompt_tokens == cold.prompt_tokens  # read again, not loaded


def test_candidates_decoded_together_each_follow_the_grammar(backend: LlamaCpp) -> None:
    greedy, sampled = backend.generate_many(
        [
            request("How many rows are in t1?", grammar=GRAMMAR),
            request("Name the rows of t3.", grammar=GRAMMAR, n=6, temperature=1.0, seed=3),
        ]
    )
    assert len(greedy.texts) == 1 and len(sampled.texts) == 6
    assert len(set(sampled.texts)) >= 3  # different seeds, different noise
    for text in greedy.texts + sampled.texts:
        head, _, table = text.partition(" FROM t")
        assert head.startswith("SELECT ") and head[7:].isalpha() and 1 <= len(head[7:]) <= 8
        assert table.isdigit() and len(table) == 1
    # The greedy candidate does not depend on what is decoded beside it.
    alone = backend.generate(request("How many rows are in t1?", grammar=GRAMMAR))
    assert alone.texts == greedy.texts


def test_more_candidates_than_sequences_go_in_rounds(backend: LlamaCpp) -> None:
    result = backend.generate(request("Count t4.", grammar=GRAMMAR, n=33, temperature=1.0))
    assert len(result.texts) == 33 and len(set(result.texts)) > 20


def test_greedy_under_the_grammar_is_the_best_token_the_grammar_allows(
    backend: LlamaCpp,
) -> None:
    """Checking the sampled token and resampling only when it is rejected must give what
    applying the grammar to the whole vocabulary at every step gives."""
    engine, lib = backend.engine, backend.engine.lib
    asked = request("How many rows are in t1?", grammar=GRAMMAR, max_tokens=40)
    got = backend.generate(asked).texts[0]
    tokens = engine.tokenize(engine.chat_text(asked.messages))
    engine.forget()
    engine._decode(tokens[:-1], 0, 0)
    engine._fill([(tokens[-1], len(tokens) - 1, 0)], logits=True)
    engine._run_batch()
    grammar = lib.llama_sampler_init_grammar(engine.vocab, GRAMMAR.encode(), b"root")
    out: list[int] = []
    position = len(tokens)
    try:
        while len(out) < 40:
            logits = np.ctypeslib.as_array(
                lib.llama_get_logits_ith(engine.ctx, 0), (engine.n_vocab,)
            )
            array = np.zeros(
                engine.n_vocab,
                dtype=np.dtype(
                    [("id", np.intc), ("logit", np.single), ("p", np.single)], align=True
                ),
            )
            array["id"] = np.arange(engine.n_vocab)
            array["logit"] = logits
            candidates = lib.llama_token_data_array(
                array.ctypes.data_as(lib.llama_token_data_p), engine.n_vocab, -1, False
            )
            lib.llama_sampler_apply(grammar, ctypes.byref(candidates))
            token = int(np.argmax(array["logit"]))
            if lib.llama_vocab_is_eog(engine.vocab, token):
                break
            lib.llama_sampler_accept(grammar, token)
            out.append(token)
            engine._fill([(token, position, 0)], logits=True)
            engine._run_batch()
            position += 1
    finally:
        lib.llama_sampler_free(grammar)
        engine.forget()
    assert engine.model.detokenize(out).decode() == got


def test_pipeline_second_question_on_a_database_reads_few_tokens(
    backend: LlamaCpp, test_databases
) -> None:  # type: ignore[no-untyped-def]
    with honestsql.connect(test_databases["sqlite"].url) as db:
        pipeline = Pipeline(db, backend, Settings(candidates=3, max_tokens=60, max_repairs=0))
        first = pipeline.ask("How many customers live in Germany?")
        second = pipeline.ask("Which orders were shipped to France?")
    # The tiny model reads a character per token: the second question's two prompt tails (the
    # question twice, with their different wordings) are about 200 tokens, the schema thousands.
    assert first.usage["prompt_tokens"] > 2000
    assert second.usage["prompt_tokens"] < first.usage["prompt_tokens"] / 8
    assert len(second.candidates) == 3


def test_an_oversized_request_is_a_clear_error(backend: LlamaCpp) -> None:
    from honestsql.llm import BackendError

    with pytest.raises(BackendError, match="do not fit the context"):
        backend.generate(request("x", max_tokens=5000))
    # The engine is still usable afterwards.
    assert backend.generate(request("How many rows are in t1?")).texts


def test_a_job_needs_a_prompt(backend: LlamaCpp) -> None:
    from honestsql.llm.streams import EngineError

    with pytest.raises(EngineError, match="empty prompt"):
        backend.engine.run([Job([], [Candidate(0.0, 0)])])


def test_candidates_that_wrote_the_same_tokens_are_decoded_once(backend: LlamaCpp) -> None:
    engine = backend.engine
    tokens = engine.tokenize(engine.chat_text(request("How many rows are in t1?").messages))
    alike = engine.run([Job(tokens, [Candidate(0.0, seed) for seed in range(4)], GRAMMAR, 24)])[0]
    assert len(set(alike.texts)) == 1
    assert alike.generated == 4 * alike.stats["decoded"]  # one decode per step, not four
    apart = engine.run([Job(tokens, [Candidate(1.0, seed) for seed in range(4)], GRAMMAR, 24)])[0]
    assert len(set(apart.texts)) > 1
    assert alike.stats["decoded"] < apart.stats["decoded"] <= apart.generated


def test_candidates_share_the_context_and_take_turns_when_it_is_short(backend: LlamaCpp) -> None:
    # About 3,500 prompt tokens in a 4,096-token context: five answers of up to 300 tokens do not
    # fit beside it at once, so they are decoded in rounds rather than failing.
    long = [{"role": "user", "content": "x " * 1700 + "How many?"}]
    result = backend.generate(GenerationRequest(long, n=5, temperature=1.0, max_tokens=300, seed=1))
    assert len(result.texts) == 5 and len(set(result.texts)) == 5


def test_disk_states_are_kept_within_a_byte_budget(
    backend: LlamaCpp, monkeypatch: pytest.MonkeyPatch
) -> None:
    from honestsql.llm import states

    directory = Path(backend.engine.state_dir or "")
    backend.generate(request("How many rows are in t1?"))
    (first,) = directory.glob("*.state")
    monkeypatch.setattr(states, "DISK_STATES_BYTES", first.stat().st_size * 2 + 1)
    for i in range(4):  # four more schemas: only the newest states that fit the budget stay
        other = request("How many rows are in t1?")
        other.messages[-1]["content"] = other.messages[-1]["content"].replace("t0 ", f"u{i} ")
        backend.generate(replace(other, stable=other.messages[-1]["content"].split("Question")[0]))
    kept = list(directory.glob("*.state"))
    assert len(kept) == 2 and first not in kept


def _log_softmax_at(engine, token: int) -> float:  # type: ignore[no-untyped-def]
    logits = np.ctypeslib.as_array(
        engine.lib.llama_get_logits_ith(engine.ctx, 0), (engine.n_vocab,)
    ).astype(np.float64)
    top = logits.max()
    return float(logits[token] - top - np.log(np.exp(logits - top).sum()))


@pytest.mark.parametrize("max_tokens", [6, 40])
def test_each_text_s_likelihood_is_the_model_s_own_probability_of_its_tokens(
    backend: LlamaCpp, max_tokens: int
) -> None:
    """Decoded again one token at a time, the greedy text's tokens (and the end of text, when
    it was reached) have the log-probabilities the engine reported; a cut text's last drawn
    token, which is not part of the text, does not count."""
    engine = backend.engine
    asked = request("How many rows are in t1?", max_tokens=max_tokens)
    completion = backend.generate(asked)
    assert len(completion.likelihoods) == len(completion.texts) == 1
    reported = completion.likelihoods[0]
    tokens = engine.tokenize(engine.chat_text(asked.messages))
    engine.forget()
    engine._decode(tokens[:-1], 0, 0)
    engine._fill([(tokens[-1], len(tokens) - 1, 0)], logits=True)
    engine._run_batch()
    logprobs: list[float] = []
    position = len(tokens)
    try:
        for _ in range(max_tokens):
            logits = np.ctypeslib.as_array(
                engine.lib.llama_get_logits_ith(engine.ctx, 0), (engine.n_vocab,)
            )
            token = int(np.argmax(logits))
            logprobs.append(_log_softmax_at(engine, token))
            if engine.lib.llama_vocab_is_eog(engine.vocab, token):
                break
            engine._fill([(token, position, 0)], logits=True)
            engine._run_batch()
            position += 1
    finally:
        engine.forget()
    assert reported.mean == pytest.approx(sum(logprobs) / len(logprobs), abs=1e-3)
    assert reported.least == pytest.approx(min(logprobs), abs=1e-3)
    assert reported.least <= reported.mean < 0


def _yes_share(engine, tokens: list[int]) -> float:  # type: ignore[no-untyped-def]
    """P(yes) / (P(yes) + P(no)) after ``tokens``, read from scratch with nothing cached."""
    from honestsql.llm.judge import NO, YES

    engine.forget()
    try:
        engine._decode(tokens[:-1], 0, 0)
        engine._fill([(tokens[-1], len(tokens) - 1, 0)], logits=True)
        engine._run_batch()
        logits = np.ctypeslib.as_array(
            engine.lib.llama_get_logits_ith(engine.ctx, 0), (engine.n_vocab,)
        ).copy()
    finally:
        engine.forget()
    first = {
        word: engine.model.tokenize(word.encode(), add_bos=False, special=False)[0]
        for word in YES + NO
    }
    weights = np.exp(logits - logits.max())
    yes = weights[sorted({first[w] for w in YES})].sum()
    no = weights[sorted({first[w] for w in NO})].sum()
    return float(yes / (yes + no))


def test_the_self_check_reads_p_yes_from_the_logits_after_the_cached_schema(
    backend: LlamaCpp,
) -> None:
    """The model's probability of "yes" is the same read from scratch and read after the
    schema's cached state, and reading it after a question reads only the check's own tail."""
    check = [
        *request("How many rows are in t1?").messages,
        {"role": "assistant", "content": "SELECT COUNT(*) FROM t1"},
        {"role": "user", "content": "Does this query answer the question? Reply Yes or No."},
    ]
    asked = GenerationRequest(check, max_tokens=1, stable=SCHEMA)
    engine = backend.engine
    tokens = engine.tokenize(engine.chat_text(check))
    expected = _yes_share(engine, tokens)
    cold = backend.yes_probability(asked)
    assert cold is not None and cold[0] == pytest.approx(expected, abs=1e-4)
    assert cold[1] == len(tokens)  # nothing was cached: the whole prompt was read
    backend.generate(request("How many rows are in t1?"))  # the schema and question now cached
    warm = backend.yes_probability(asked)
    assert warm is not None and warm[0] == pytest.approx(expected, abs=1e-4)
    assert warm[1] < len(tokens) / 4
    assert 0.0 < warm[0] < 1.0


def test_the_self_check_signal_of_the_leading_query(
    backend: LlamaCpp, test_databases: dict
) -> None:  # type: ignore[type-arg]
    """``selfcheck`` asks about the query the decision weighs, with its first rows as data
    (none when values are redacted), counts the tokens it read, and the signal is recorded."""
    from honestsql import calibration, decide, selfcheck
    from honestsql.candidates import Candidate

    sql = "SELECT name FROM customers WHERE country_code = 'DE' ORDER BY name"
    with honestsql.connect(test_databases["sqlite"].url) as db:
        result = db.execute(sql)
    ran = [
        Candidate(text=sql, sql=sql, status="ok", result=result, result_hash=result.key)
        for _ in range(2)
    ]
    conversation = request("Which customers live in Germany?").messages
    usage = {"prompt_tokens": 0, "completion_tokens": 0}
    # Not asked for unless recorded (bench ask) or read by the calibrator: it costs a prompt.
    unwanted = selfcheck.self_check(backend, Settings(), None, conversation, ran, SCHEMA, usage)
    assert unwanted is None and usage["prompt_tokens"] == 0
    reading = calibration.LogisticCalibrator({"self_check": 1.0, "top_share": 1.0}, 0.0)
    wanted = Settings(redact=False)
    read = selfcheck.self_check(backend, wanted, reading, conversation, ran, SCHEMA, usage)
    recorded = replace(wanted, self_check=True)
    shown = selfcheck.self_check(backend, recorded, None, conversation, ran, SCHEMA, usage)
    assert shown is not None and 0.0 < shown < 1.0 and usage["prompt_tokens"] > 0
    assert read == pytest.approx(shown, abs=1e-4)
    check = prompts_check(conversation, sql, result, redact=False)
    assert backend.yes_probability(GenerationRequest(check, stable=SCHEMA))[0] == pytest.approx(  # type: ignore[index]
        shown, abs=1e-4
    )
    assert str(result.rows[0][0]) in check[-1]["content"] and "<data>" in check[-1]["content"]
    assert "<data>" not in prompts_check(conversation, sql, result, redact=True)[-1]["content"]
    assert decide.signals(ran, 1.0, self_check=shown)["self_check"] == shown
    assert "self_check" not in decide.signals(ran, 1.0)
    failed = [Candidate(text="x", sql=None, status="rejected")]
    assert (
        selfcheck.self_check(backend, recorded, None, conversation, failed, SCHEMA, usage) is None
    )


def prompts_check(conversation, sql, result, *, redact):  # type: ignore[no-untyped-def]
    from honestsql import prompts

    columns = [c.name for c in result.columns]
    return prompts.check_messages(conversation, sql, columns, result.json_rows(), redact=redact)


def test_a_candidate_that_repeats_one_block_is_stopped_and_varied_sql_is_not() -> None:
    from honestsql.llm.streams import LOOP_SPAN, looping

    head = list(range(100, 130))
    block = [7, 8, 9, 10, 11, 12, 13, 14]
    assert looping(head + block * 6)  # 48 tokens of one 8-token block
    assert not looping(head + block * 5)  # 40: still short of the span
    assert looping(head + [5] * LOOP_SPAN) and not looping(head + [5] * (LOOP_SPAN - 1))
    assert not looping(head + list(range(40, 90)) * 3)  # a 50-token block: too long to look for
    assert not looping(head + block * 5 + [99] + block)  # broken by one other token
    # An IN-list or a CASE repeats its shape, not its tokens.
    varied = [t for i in range(30) for t in (1, 2, 300 + i, 3)]
    assert not looping(head + varied)
