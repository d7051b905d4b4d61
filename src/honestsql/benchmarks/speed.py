"""``honestsql bench speed``: seconds per question with the embedded model, against a plain call.

For each database in turn (the questions ``bench ask`` plans, a few per database):

- **cold**: the first question on the database with nothing cached, in memory or on disk;
- **restart**: the same question again after the in-memory state is dropped, as a new process
  would start: the schema's state comes from the disk cache;
- **warm**: the next questions on the same database;
- **plain**: what a plain text-to-SQL tool pays for each of those questions: one greedy
  generation of the same model with the same prompt, no grammar, nothing cached.

Every figure comes from the same run on the same machine. Prompt tokens "beyond its own text" of
a warm question are the tokens its first generation read minus the tokens of the question
itself (and of the words around it that the prompt puts after the schema).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import honestsql
from honestsql.benchmarks.ask import plan
from honestsql.evaluation.datasets import Dataset
from honestsql.evaluation.records import Item
from honestsql.llm import Backend, Completion, GenerationRequest
from honestsql.pipeline import Pipeline, Settings
from honestsql.service import Service


class _Recorder(Backend):
    """Passes requests to a backend and keeps what each call reports."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]
        self.local = inner.local
        self.supports_grammar = inner.supports_grammar
        self.supports_lark = inner.supports_lark
        self.thread_safe = inner.thread_safe
        self.model_name = inner.model_name
        self.decoder = inner.decoder
        self.calls: list[tuple[GenerationRequest, Completion]] = []

    def generate(self, request: GenerationRequest) -> Completion:
        return self.generate_many([request])[0]

    def generate_many(self, requests: list[GenerationRequest]) -> list[Completion]:
        completions = self.inner.generate_many(requests)
        self.calls.extend(zip(requests, completions, strict=True))
        return completions

    def describe(self) -> str:
        return self.inner.describe()


@dataclass
class Measure:
    db: str
    kind: str  # cold | restart | warm | plain
    seconds: float
    prompt_read: int = 0
    prompt_total: int = 0
    generated: int = 0
    #: For the pipeline's first call: the tokens read beyond the question's own text.
    beyond_question: int | None = None
    stats: dict[str, float] = field(default_factory=dict)
    #: Candidates written, and those that parsed, verified and ran as first written.
    candidates: int = 0
    ran_first: int = 0
    #: The pipeline's first prompt: the plain call sends the same one.
    messages: list[dict[str, str]] = field(default_factory=list, repr=False)


def run(
    suites: dict[str, Dataset],
    backend: Any,
    *,
    settings: Settings,
    per_database: int = 3,
    limit: int | None = None,
    allow_privileged: bool | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> list[Measure]:
    """Measure ``backend`` (a :class:`honestsql.llm.llama_cpp.LlamaCpp`) on the planned questions."""
    items, _ = plan(suites)
    by_db: dict[tuple[str, str], list[Item]] = {}
    for item in items:
        queue = by_db.setdefault((item.suite, item.example.db_id), [])
        if len(queue) < per_database:
            queue.append(item)
    chosen = [queue for queue in by_db.values()]
    if limit:
        chosen = chosen[: max(1, limit // per_database)]
    total = sum(len(q) for q in chosen) * 2 + len(chosen)
    done = 0
    progress(done, total)
    engine = backend.engine
    recorder = _Recorder(backend)
    service = Service({}, backend=recorder, settings=settings)
    measures: list[Measure] = []
    with tempfile.TemporaryDirectory(prefix="honestsql-speed-") as states:
        engine.state_dir = Path(states)  # nothing on disk from earlier runs
        for queue in chosen:
            first = queue[0]
            url = suites[first.suite].locate(first.example.db_id)
            assert url is not None
            with honestsql.connect(url, allow_privileged=allow_privileged) as db:
                pipeline = service.pipeline(db, audited=False)
                for position, item in enumerate(queue):
                    kinds = ["cold", "restart"] if position == 0 else ["warm"]
                    for kind in kinds:
                        if kind != "warm":  # a new process: nothing in memory
                            engine.forget()
                        if kind == "cold":  # nor on disk
                            _clear(Path(states))
                        measures.append(_ask(pipeline, recorder, item, kind, engine))
                        done += 1
                        progress(done, total)
                asked = [m for m in measures[-len(queue) - 1 :] if m.kind in {"cold", "warm"}]
                for item, measure in zip(queue, asked, strict=True):
                    if measure.messages:
                        measures.append(_plain(pipeline, backend, item, measure.messages))
                    done += 1
                    progress(done, total)
    # A question the relevance gate answered without the model costs nothing: not a measure.
    return [m for m in measures if m.messages or m.kind == "plain"]


def _clear(directory: Path) -> None:
    for path in directory.iterdir():
        path.unlink()


def _ask(pipeline: Pipeline, recorder: _Recorder, item: Item, kind: str, engine: Any) -> Measure:
    recorder.calls.clear()
    example = item.example
    started = time.perf_counter()
    answer = pipeline.ask(example.question, evidence=example.evidence)
    seconds = time.perf_counter() - started
    read = sum(c.prompt_tokens for _, c in recorder.calls)
    cached = sum(int(c.extra.get("prompt_cached", 0)) for _, c in recorder.calls)
    beyond = None
    messages: list[dict[str, str]] = []
    if recorder.calls:
        request, completion = recorder.calls[0]
        own = len(engine.tokenize(_after_stable(request)))
        beyond = max(0, completion.prompt_tokens - own)
        messages = request.messages
    return Measure(
        f"{item.suite}:{example.db_id}",
        kind,
        seconds,
        prompt_read=read,
        prompt_total=read + cached,
        generated=sum(c.completion_tokens for _, c in recorder.calls),
        stats={
            key: sum(float(c.extra.get("timing", {}).get(key, 0.0)) for _, c in recorder.calls)
            for key in ("prompt_s", "gen_s", "sample_s", "decoded")
        },
        beyond_question=beyond,
        candidates=len(answer.candidates),
        ran_first=sum(1 for c in answer.candidates if c["status"] == "ok" and not c["repairs"]),
        messages=messages,
    )


def _after_stable(request: GenerationRequest) -> str:
    """The text of the prompt's last message after its stable part: the question and the few
    words that frame it."""
    content = request.messages[-1]["content"]
    return content[len(request.stable) :] if content.startswith(request.stable) else content


def _plain(pipeline: Pipeline, backend: Any, item: Item, messages: list[dict[str, str]]) -> Measure:
    """One greedy generation, same prompt, no grammar, no cache: what a plain tool pays."""
    example = item.example
    engine = backend.engine
    engine.forget()
    saved, engine.state_dir = engine.state_dir, None
    try:
        started = time.perf_counter()
        completion = backend.generate(
            GenerationRequest(
                messages, n=1, temperature=0.0, max_tokens=pipeline.settings.max_tokens
            )
        )
        seconds = time.perf_counter() - started
    finally:
        engine.state_dir = saved
        engine.forget()
    return Measure(
        f"{item.suite}:{example.db_id}",
        "plain",
        seconds,
        prompt_read=completion.prompt_tokens,
        prompt_total=completion.prompt_tokens,
        generated=completion.completion_tokens,
        stats=dict(completion.extra.get("timing", {})),
    )


def summarize(measures: Sequence[Measure], model: str, grammar: str) -> dict[str, Any]:
    def seconds(kind: str) -> list[float]:
        return [m.seconds for m in measures if m.kind == kind]

    def pct(values: list[float], q: float) -> float | None:
        if not values:
            return None
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    plain = [m for m in measures if m.kind == "plain"]
    prompt_s = sum(m.stats.get("prompt_s", 0.0) for m in plain)
    gen_s = sum(m.stats.get("gen_s", 0.0) for m in plain)
    warm = [m for m in measures if m.kind == "warm"]
    plain_p50 = pct(seconds("plain"), 0.5)

    def ratio(kind: str) -> float | None:
        value = pct(seconds(kind), 0.5)
        return round(value / plain_p50, 3) if value is not None and plain_p50 else None

    def r(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    beyond = [m.beyond_question for m in warm if m.beyond_question is not None]
    asked = [m for m in measures if m.kind in {"cold", "warm"}]
    written = sum(m.candidates for m in asked)
    generating = sum(m.stats.get("gen_s", 0.0) for m in asked)
    return {
        "model": model,
        "grammar": grammar,
        "n": len(plain),
        "databases": len({m.db for m in measures}),
        "cold_p50_s": r(pct(seconds("cold"), 0.5)),
        "restart_p50_s": r(pct(seconds("restart"), 0.5)),
        "warm_p50_s": r(pct(seconds("warm"), 0.5)),
        "warm_p95_s": r(pct(seconds("warm"), 0.95)),
        "plain_p50_s": r(plain_p50),
        "ratio_warm_p50": ratio("warm"),
        "ratio_cold_p50": ratio("cold"),
        "ratio_restart_p50": ratio("restart"),
        "second_question_prompt_tokens": statistics.median(beyond) if beyond else None,
        "second_question_prompt_tokens_max": max(beyond) if beyond else None,
        "prompt_tok_s": r(sum(m.prompt_read for m in plain) / prompt_s) if prompt_s else None,
        "gen_tok_s": r(sum(m.generated for m in plain) / gen_s) if gen_s else None,
        "tokens_per_question": r(
            statistics.mean(m.prompt_read + m.generated for m in asked) if asked else None
        ),
        # Of honestsql's generation time, the share spent sampling and checking the grammar
        # (the rest is llama_decode), and tokens written per token decoded (shared prefixes).
        "sampling_share": round(sum(m.stats.get("sample_s", 0.0) for m in asked) / generating, 3)
        if generating
        else None,
        "written_per_decoded": round(
            sum(m.generated for m in asked) / sum(m.stats.get("decoded", 0.0) for m in asked), 2
        )
        if any(m.stats.get("decoded") for m in asked)
        else None,
        "candidates_ran_first": round(sum(m.ran_first for m in asked) / written, 3)
        if written
        else None,
        "plain_tokens_per_question": r(
            statistics.mean(m.prompt_read + m.generated for m in plain) if plain else None
        ),
    }
