"""The model's own check of the result the decision would weigh, as a signal for the confidence.

The model is shown its conversation, the leading group's query and the first rows it returned,
and asked whether the query answers the question; its probability of "yes" is read from its
logits (``Backend.yes_probability``; the schema's state comes from the prompt cache). Only
backends that read the model's probabilities give it, and it is asked for only when the
calibrator reads it or the settings ask to record it (``bench ask`` does): it is recorded as the
``self_check`` signal, and a calibrator reads it only where nested leave-one-database-out figures
showed it helps (docs/BENCHMARKS.md, "Signals beyond agreement").
"""

from __future__ import annotations

from honestsql import calibration, prompts
from honestsql.candidates import Candidate, leading
from honestsql.llm import Backend, GenerationRequest
from honestsql.settings import Settings


def self_check(
    backend: Backend,
    settings: Settings,
    calibrator: calibration.AnyCalibrator | None,
    conversation: list[dict[str, str]],
    candidates: list[Candidate],
    stable: str,
    usage: dict[str, int],
) -> float | None:
    """The model's probability that the leading query answers the question; ``None`` when no
    one wants it (neither the calibrator nor ``settings.self_check``: it costs a prompt), without
    a result to check, or on a backend that cannot read probabilities. The prompt tokens it read
    are added to ``usage``."""
    if not (settings.self_check or "self_check" in calibration.reads(calibrator)):
        return None
    redact = settings.redacts(backend.local)
    chosen = leading(candidates)
    if chosen is None or chosen.result is None or chosen.sql is None:
        return None
    result = chosen.result
    messages = prompts.check_messages(
        conversation,
        chosen.sql,
        [column.name for column in result.columns],
        result.json_rows(),
        redact=redact,
    )
    found = backend.yes_probability(GenerationRequest(messages, max_tokens=1, stable=stable))
    if found is None:
        return None
    usage["prompt_tokens"] = usage.get("prompt_tokens", 0) + found[1]
    return found[0]
