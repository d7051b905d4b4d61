"""Where honestsql keeps files, and the on-disk caches keyed by fingerprints (schema catalogs,
value indexes).

``cache_dir`` holds what can be rebuilt (caches, models, run files); ``data_dir`` what cannot (the
audit log, the feedback memory, the demo database). Every cache file is written atomically, and a
cache that cannot be written or read is not an error: the thing is computed again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import platformdirs
from pydantic import BaseModel

from honestsql.catalog import Catalog

#: Bump when the cached JSON layout or the sampling changes, so old caches are ignored.
CACHE_VERSION = 5


def cache_dir() -> Path:
    """Where catalogs are cached: ``$HONESTSQL_CACHE_DIR`` or the user cache directory."""
    configured = os.environ.get("HONESTSQL_CACHE_DIR")
    return Path(configured) if configured else Path(platformdirs.user_cache_dir("honestsql"))


def data_dir() -> Path:
    """Where honestsql keeps data: ``$HONESTSQL_DATA_DIR`` or the user data directory."""
    configured = os.environ.get("HONESTSQL_DATA_DIR")
    return Path(configured) if configured else Path(platformdirs.user_data_dir("honestsql"))


def cache_path(key: str, kind: str = "catalogs") -> Path:
    return cache_dir() / kind / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.json"


def write_cache(path: Path, data: bytes) -> None:
    """Write a cache file atomically; a cache that cannot be written is not an error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError:
        pass


class _CacheEntry(BaseModel):
    cache_version: int
    fingerprint: str
    catalog: Catalog


def load_cached(key: str, current_fingerprint: str) -> Catalog | None:
    """The cached catalog for ``key`` if it was built for the same schema, else ``None``."""
    try:
        entry = _CacheEntry.model_validate_json(cache_path(key).read_bytes())
    except (OSError, ValueError):
        return None
    if entry.cache_version != CACHE_VERSION or entry.fingerprint != current_fingerprint:
        return None
    return entry.catalog


def store(key: str, catalog: Catalog) -> None:
    """Write the cache atomically; a cache that cannot be written is not an error."""
    entry = _CacheEntry(
        cache_version=CACHE_VERSION, fingerprint=catalog.fingerprint, catalog=catalog
    )
    write_cache(cache_path(key), entry.model_dump_json().encode())
