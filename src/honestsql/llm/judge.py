"""The model's own yes/no judgement, read from its logits rather than sampled: the probability
that its reply to a prompt starts with "yes" rather than "no".

The prompt's leading part comes from the engine's cache (sequence 0, as for candidates: the
schema's state is read once per database), so a check reads only its own tail.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: How a reply of "yes" or "no" may start.
YES = ("Yes", "yes", "YES")
NO = ("No", "no", "NO")


def yes_probability(engine: Any, tokens: list[int], stable: int) -> tuple[float, int]:
    """P(yes) / (P(yes) + P(no)) for the reply's first token after ``tokens`` (a whole chat
    prompt, ``stable`` of its tokens the part kept on disk), and how many prompt tokens had to
    be read."""
    shared = tokens[:-1]
    read = engine._prepare(shared, stable if 0 < stable <= len(shared) else 0)
    engine._fill([(tokens[-1], len(tokens) - 1, 0)], logits=True)
    engine._run_batch()
    engine.cached = list(tokens)
    logits = np.ctypeslib.as_array(
        engine.lib.llama_get_logits_ith(engine.ctx, 0), shape=(engine.n_vocab,)
    )
    weights = np.exp(logits - logits.max())
    yes, no = _starts(engine, YES), _starts(engine, NO)
    p_yes, p_no = float(weights[yes].sum()), float(weights[no].sum())
    return (p_yes / (p_yes + p_no) if p_yes + p_no > 0 else 0.5), read + 1


def _starts(engine: Any, words: tuple[str, ...]) -> list[int]:
    """The distinct first tokens of ``words``."""
    tokenize = engine.model.tokenize
    return sorted({int(tokenize(w.encode(), add_bos=False, special=False)[0]) for w in words})
