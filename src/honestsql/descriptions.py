"""Human descriptions of tables and columns, from a YAML/JSON file or a BIRD description folder.

They are applied to a catalog after loading (``Catalog.describe``), so editing them never needs
the schema to be read again.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import yaml

from honestsql.errors import CatalogError


def load_descriptions(source: str | Path) -> dict[str, Any]:
    """Read descriptions from a YAML/JSON file or a BIRD ``database_description`` folder.

    File layout: ``{"tables": {name: {"description": ..., "columns": {col: text}}}}`` (the
    ``tables`` wrapper is optional). Folder layout: one ``<table>.csv`` per table with the BIRD
    columns ``original_column_name, column_name, column_description, value_description``.
    """
    path = Path(source)
    if path.is_dir():
        return _bird_descriptions(path)
    if not path.is_file():
        raise CatalogError(f"The descriptions file {str(path)!r} does not exist.")
    try:
        data = yaml.safe_load(_read_text(path))
    except yaml.YAMLError as exc:
        raise CatalogError(
            f"The descriptions file {str(path)!r} is not valid YAML/JSON: {exc}"
        ) from None
    if isinstance(data, dict) and isinstance(data.get("tables"), dict):
        data = data["tables"]
    if not isinstance(data, dict):
        raise CatalogError(
            f"The descriptions file {str(path)!r} must map table names to "
            '{"description": ..., "columns": {column: description}}.'
        )
    return data


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")


def _bird_descriptions(folder: Path) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for csv_path in sorted(folder.glob("*.csv")):
        columns: dict[str, str] = {}
        reader = csv.DictReader(io.StringIO(_read_text(csv_path)))
        for row in reader:
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            name = row.get("original_column_name")
            if not name:
                continue
            parts = [row.get("column_description") or row.get("column_name") or ""]
            if row.get("value_description"):
                parts.append(row["value_description"])
            text = " — ".join(p for p in parts if p)
            if text:
                columns[name] = text
        result[csv_path.stem] = {"columns": columns}
    return result
