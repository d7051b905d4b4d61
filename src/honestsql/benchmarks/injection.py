"""``honestsql bench injection``: how well instruction-like text in the data is caught.

Positives: ``injections.json`` beside this file, 210 injection strings written for honestsql in
several phrasings and eleven languages, with the obfuscations seen in the wild (zero-width and bidi
characters, soft hyphens, full-width letters, closing the data block, role markers, SQL in
quotes). Negatives: real values, read at run time from the benchmark data (never copied here):
every distinct text value of the Spider SQLite databases and of the sql-eval dumps (the
``defog-data`` package), the readable column names of Spider and BIRD, and BIRD's evidence
texts. The benchmarks' questions, which are imperative English ("List all ..."), are reported
as a separate, harder set of negatives.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

from honestsql.injection import looks_like_instructions

CORPUS = Path(__file__).with_name("injections.json")
_NUMERIC = re.compile(r"[-\d\s.:eE+/]+")


def injections() -> list[str]:
    return list(json.loads(CORPUS.read_text(encoding="utf-8")))


def _sqlite_values(folder: Path) -> set[str]:
    values: set[str] = set()
    for path in sorted(folder.glob("*/*.sqlite")):
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for column in conn.execute(f'PRAGMA table_info("{table}")').fetchall():
                for (value,) in conn.execute(f'SELECT DISTINCT "{column[1]}" FROM "{table}"'):
                    if isinstance(value, str):
                        values.add(value)
        conn.close()
    return values


def _sqleval_values() -> set[str]:
    """Text fields of the COPY blocks in the sql-eval dumps shipped by ``defog-data``."""
    try:
        import defog_data
    except ModuleNotFoundError:
        return set()
    values: set[str] = set()
    for dump in sorted(Path(defog_data.__file__).parent.glob("*/*.sql")):
        inside = False
        for line in dump.read_text(encoding="utf-8").splitlines():
            if line.startswith("COPY "):
                inside = True
            elif line.startswith("\\."):
                inside = False
            elif inside:
                values.update(v for v in line.split("\t") if v != "\\N")
    return values


def benign(data: Path) -> dict[str, set[str]]:
    """Benign texts by source; numbers, dates and one-character values are left out."""
    sources: dict[str, set[str]] = {
        "spider_values": _sqlite_values(data / "spider" / "databases"),
        "sqleval_values": _sqleval_values(),
        "column_names": set(),
        "bird_evidence": set(),
    }
    for name in ("spider/tables.json", "bird/dev_tables.json"):
        path = data / name
        if path.is_file():
            for schema in json.loads(path.read_text(encoding="utf-8")):
                sources["column_names"].update(c for _, c in schema["column_names"])
    bird = data / "bird" / "dev.json"
    if bird.is_file():
        sources["bird_evidence"] = {q["evidence"] for q in json.loads(bird.read_text())}
    return {
        key: {v for v in values if len(v.strip()) > 1 and not _NUMERIC.fullmatch(v)}
        for key, values in sources.items()
    }


def questions(data: Path) -> set[str]:
    found: set[str] = set()
    for name in ("spider/dev.json", "bird/dev.json"):
        path = data / name
        if path.is_file():
            found.update(q["question"] for q in json.loads(path.read_text(encoding="utf-8")))
    return found


def run(data: Path) -> dict[str, Any]:
    positives = injections()
    caught = [p for p in positives if looks_like_instructions(p)]
    figures: dict[str, Any] = {
        "injections": len(positives),
        "recall": round(len(caught) / len(positives), 4),
        "missed": [p for p in positives if p not in set(caught)],
    }
    negatives = benign(data)
    flagged_total = 0
    total = 0
    per_source = {}
    false_positives: list[str] = []
    for source, values in negatives.items():
        flagged = sorted(v for v in values if looks_like_instructions(v))
        per_source[source] = {"n": len(values), "flagged": len(flagged)}
        flagged_total += len(flagged)
        total += len(values)
        false_positives += flagged[:10]
    figures["benign"] = total
    figures["false_positive_rate"] = round(flagged_total / total, 4) if total else None
    figures["benign_sources"] = per_source
    figures["false_positives"] = false_positives
    asked = questions(data)
    flagged_questions = sorted(q for q in asked if looks_like_instructions(q))
    figures["questions"] = len(asked)
    figures["questions_flagged_rate"] = (
        round(len(flagged_questions) / len(asked), 4) if asked else None
    )
    figures["questions_flagged"] = flagged_questions[:10]
    return figures
