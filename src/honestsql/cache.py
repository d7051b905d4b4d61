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
CACHE_VERSION = 6


def cache_dir() -> Path:
    """Where catalogs are cached: ``$HONESTSQL_CACHE_DIR`` or the user cache directory."""
    configured = os.environ.get("HONESTSQL_CACHE_DIR")
    return Path(configured) if configured else Path(platformdirs.user_cache_dir("honestsql"))


def data_dir() -> Path:
    """Where honestsql keeps data: ``$HONESTSQL_DATA_DIR`` or the user data directory."""
    configured = os.environ.get("HONESTSQL_DATA_DIR")
    return Path(configured) if configured else Path(platformdirs.user_data_dir("honestsql"))


def private_dir(path: Path) -> Path:
    """``path`` as a folder only this user can enter: created 0700 (parents too), and narrowed
    to 0700 when it already exists and is this user's."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        if path.stat().st_uid == os.getuid() and path.stat().st_mode & 0o077:
            path.chmod(0o700)
    except OSError:
        pass
    return path


def private_file(path: Path) -> Path:
    """``path`` as a file only this user can read: created 0600 in a private folder (SQLite's
    journal and WAL files take the database file's mode), narrowed to 0600 when it exists."""
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600))
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except OSError:
        pass
    return path


def cache_path(key: str, kind: str = "catalogs") -> Path:
    return cache_dir() / kind / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.json"


def write_cache(path: Path, data: bytes) -> None:
    """Write a cache file atomically; a cache that cannot be written is not an error."""
    try:
        private_dir(path.parent)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        handle = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
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
