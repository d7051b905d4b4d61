"""The bundled demo database: a small shop built into SQLite from this package's own SQL script."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from importlib import resources
from pathlib import Path

from honestsql.cache import data_dir

NAME = "demo"


def script() -> str:
    return resources.files(__package__).joinpath("shop.sql").read_text(encoding="utf-8")


def descriptions_path() -> Path:
    return Path(str(resources.files(__package__).joinpath("shop.yaml")))


def ensure(directory: Path | None = None) -> Path:
    """Build the demo SQLite file once (per version of the script) and return its path."""
    sql = script()
    digest = hashlib.sha256(sql.encode()).hexdigest()[:12]
    base = directory or data_dir()
    path = base / f"demo-shop-{digest}.sqlite"
    if path.is_file():
        return path
    base.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    try:
        conn.executescript(sql)
        conn.commit()
    finally:
        conn.close()
    tmp.replace(path)
    return path
