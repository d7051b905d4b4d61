"""``honestsql bench linking``: does the linker keep what the gold query needs, in little space?

Gold tables and columns come from each gold query, resolved against the schema by the same
scope analysis verification uses. Single-database mode links each question against its own
schema at several column budgets; warehouse mode merges every Spider and BIRD dev schema into
one catalog (tables named ``db__table``) and links each question within a token budget.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot.errors import SqlglotError

from honestsql.benchmarks import percentile
from honestsql.catalog import Catalog, Column, ForeignKey, Table
from honestsql.evaluation import datasets
from honestsql.evaluation.datasets import from_spider_tables
from honestsql.linking.linker import SchemaLinker
from honestsql.reads import referenced

FRACTIONS = (0.1, 0.2, 0.3, 0.35, 0.4, 0.5, 0.6)
SEPARATOR = "__"


def _questions(
    root: Path, benchmark: str
) -> tuple[dict[str, Catalog], list[tuple[str, str, str, str]]]:
    def read(path: Path) -> Any:
        return json.loads(datasets.require(path).read_text(encoding="utf-8"))

    if benchmark == "bird":
        tables = read(root / "bird" / "dev_tables.json")
        items = read(root / "bird" / "dev.json")
        questions = [(i["question"], i.get("evidence") or "", i["SQL"], i["db_id"]) for i in items]
    else:
        tables = read(root / "spider" / "tables.json")
        items = read(root / "spider" / "dev.json")
        questions = [(i["question"], "", i["query"], i["db_id"]) for i in items]
    return {e["db_id"]: from_spider_tables(e) for e in tables}, questions


def _gold(sql: str, catalog: Catalog) -> tuple[set[str], set[tuple[str, str]]] | None:
    try:
        return referenced(sqlglot.parse_one(sql, read="sqlite"), catalog, "sqlite")
    except (SqlglotError, RecursionError):
        return None


def _score(results: list[tuple[set[str], set[tuple[str, str]], Any, int]]) -> dict[str, Any]:
    table_recall = [len(gt & set(r.tables)) / len(gt) for gt, _, r, _ in results if gt]
    column_recall = [len(gc & r.columns) / len(gc) for _, gc, r, _ in results if gc]
    return {
        "n": len(results),
        "table_recall": statistics.fmean(table_recall) if table_recall else None,
        "column_recall": statistics.fmean(column_recall) if column_recall else None,
        "strict_recall": statistics.fmean(
            1.0 if gc <= r.columns and gt <= set(r.tables) else 0.0 for gt, gc, r, _ in results
        ),
        "kept_column_fraction": statistics.fmean(
            len(r.columns) / total for _, _, r, total in results
        ),
        "kept_tokens": statistics.fmean(r.tokens for _, _, r, _ in results),
        "p50_ms": percentile([r.elapsed_ms for _, _, r, _ in results], 50),
        "p95_ms": percentile([r.elapsed_ms for _, _, r, _ in results], 95),
    }


def _embedder(use: bool) -> Any:
    from honestsql.linking import embeddings

    return embeddings.required() if use else None


def single(
    root: Path, benchmark: str, fraction: float, use_embeddings: bool = False
) -> dict[str, Any]:
    catalogs, questions = _questions(root, benchmark)
    embed = _embedder(use_embeddings)
    used = {db for *_, db in questions}
    started = time.perf_counter()
    linkers = {db: SchemaLinker(catalogs[db], embedder=embed) for db in used}
    build = time.perf_counter() - started
    curve = []
    chosen: dict[str, Any] = {}
    for each in sorted({*FRACTIONS, fraction}):
        results = []
        for question, evidence, sql, db in questions:
            gold = _gold(sql, catalogs[db])
            if gold is None:
                continue
            link = linkers[db].link(question, evidence, column_fraction=each)
            results.append((gold[0], gold[1], link, catalogs[db].column_count))
        scored = _score(results)
        curve.append(
            {
                "fraction": each,
                **{
                    k: scored[k] for k in ("strict_recall", "kept_column_fraction", "column_recall")
                },
            }
        )
        if each == fraction:
            chosen = scored
    return {
        **chosen,
        "mode": "single",
        "budget_fraction": fraction,
        "index_build_seconds": build,
        "curve": curve,
    }


def warehouse_catalog(root: Path) -> Catalog:
    """Every Spider and BIRD dev schema in one catalog, tables named ``db__table``."""
    tables: list[Table] = []
    merged: set[str] = set()
    for benchmark in ("spider", "bird"):
        catalogs, _ = _questions(root, benchmark)
        for db, catalog in catalogs.items():
            if db in merged:  # formula_1 is in both, with the same schema: once is enough
                continue
            merged.add(db)
            for table in catalog.tables:
                tables.append(
                    Table(
                        name=f"{db}{SEPARATOR}{table.name}",
                        columns=[Column(**c.model_dump()) for c in table.columns],
                        primary_key=list(table.primary_key),
                        foreign_keys=[
                            ForeignKey(
                                columns=fk.columns,
                                ref_table=f"{db}{SEPARATOR}{fk.ref_table}",
                                ref_columns=fk.ref_columns,
                            )
                            for fk in table.foreign_keys
                        ],
                        description=" ".join(
                            p for p in (db.replace("_", " "), table.description or "") if p
                        ),
                    )
                )
    return Catalog(dialect="sqlite", fingerprint="warehouse", tables=tables)


def warehouse(
    root: Path, benchmark: str, budget: int, use_embeddings: bool = False
) -> dict[str, Any]:
    catalogs, questions = _questions(root, benchmark)
    merged = warehouse_catalog(root)
    embed = _embedder(use_embeddings)
    started = time.perf_counter()
    linker = SchemaLinker(merged, embedder=embed)
    build = time.perf_counter() - started
    results = []
    for question, evidence, sql, db in questions:
        gold = _gold(sql, catalogs[db])
        if gold is None:
            continue
        gold_tables = {f"{db}{SEPARATOR}{t}" for t in gold[0]}
        gold_columns = {(f"{db}{SEPARATOR}{t}", c) for t, c in gold[1]}
        link = linker.link(question, evidence, token_budget=budget)
        results.append((gold_tables, gold_columns, link, merged.column_count))
    return {
        **_score(results),
        "mode": "warehouse",
        "budget_tokens": budget,
        "tables": len(merged.tables),
        "columns": merged.column_count,
        "index_build_seconds": build,
    }


def run(
    data: str | None,
    benchmark: str,
    *,
    warehouse_mode: bool,
    budget: int,
    fraction: float,
    use_embeddings: bool = False,
) -> dict[str, Any]:
    root = datasets.data_root(data)
    if warehouse_mode:
        result = {"benchmark": benchmark, **warehouse(root, benchmark, budget, use_embeddings)}
        return {**result, "embeddings": use_embeddings}
    result = {
        "benchmark": benchmark,
        "embeddings": use_embeddings,
        **single(root, benchmark, fraction, use_embeddings),
    }
    if benchmark == "spider":
        result["values"] = value_retrieval(root)
    return result


def value_retrieval(root: Path, k: int = 10) -> dict[str, Any]:
    """Share of the gold queries' text literals found among the top-k values retrieved for the
    question, on the databases that exist here (Spider flight_2 and singer, sql-eval's SQLite
    copies when `honestsql eval setup sqleval` has built them)."""
    import honestsql
    from honestsql.evaluation import sqleval_setup
    from honestsql.linking.values import ValueIndex
    from honestsql.reads import text_literals

    report: dict[str, Any] = {}
    spider = datasets.load_spider(root)
    sources = [("spider", spider, [e for e in spider.examples if spider.locate(e.db_id)])]
    if any(sqleval_setup.sqlite_path(name) for name in sqleval_setup.DATABASES):
        sqleval = datasets.load_sqleval(root, "sqlite")
        sources.append(
            (
                "sqleval",
                sqleval,
                [e for e in sqleval.examples if e.gold and sqleval.locate(e.db_id)],
            )
        )
    for name, dataset, examples in sources:
        indexes: dict[str, ValueIndex] = {}
        catalogs: dict[str, Catalog] = {}
        found = total = 0
        latencies = []
        for example in examples:
            if example.db_id not in indexes:
                db = honestsql.connect(dataset.locate(example.db_id) or "")
                catalogs[example.db_id] = db.catalog()
                indexes[example.db_id] = ValueIndex.build(db, catalogs[example.db_id])
            assert example.gold is not None
            # Spider's gold queries write strings in double quotes, which SQLite accepts; MySQL's
            # reading of double quotes as strings matches that.
            read = "mysql" if name == "spider" else "sqlite"
            text = example.gold[0].split(";")[0].replace("{", "").replace("}", "")
            try:
                gold = sqlglot.parse_one(text, read=read)
            except (SqlglotError, RecursionError):
                continue
            literals = {
                v.lower()
                for _, _, v in text_literals(gold, catalogs[example.db_id], read)
                if "%" not in v
            }
            if not literals:
                continue
            started = time.perf_counter()
            hits = {h.value.lower() for h in indexes[example.db_id].lookup(example.question, k=k)}
            latencies.append((time.perf_counter() - started) * 1000)
            total += len(literals)
            found += len(literals & hits)
        report[name] = {
            "literals": total,
            f"recall_at_{k}": found / total if total else None,
            "p95_ms": percentile(latencies, 95),
        }
    return report
