"""What every command shares: consoles, JSON output, errors, progress, common options."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from honestsql.errors import HonestSQLError, body_of

out = Console()
err = Console(stderr=True)

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="HONESTSQL_DB",
        help="'demo', a SQLite/DuckDB file path, or a URL (sqlite:///, duckdb:///, "
        "postgresql://, mysql://). Default: $HONESTSQL_DB.",
        show_default=False,
    ),
]
SchemasOption = Annotated[
    str | None,
    typer.Option(
        "--schemas",
        envvar="HONESTSQL_SCHEMAS",
        help="Schemas to expose besides the default one, comma-separated (their tables are "
        "named schema.table). System catalogs are exposed only when named here.",
        show_default=False,
    ),
]
PolicyOption = Annotated[
    Path | None,
    typer.Option(
        "--policy",
        envvar="HONESTSQL_POLICY",
        help="An access policy (YAML): tables and columns to deny, columns to allow only in "
        "AVG/SUM/COUNT. A second layer; database grants are the first.",
    ),
]
GlossaryOption = Annotated[
    Path | None,
    typer.Option(
        "--glossary",
        envvar="HONESTSQL_GLOSSARY",
        help="Business terms (YAML): each term's meaning as SQL, synonyms, default time columns.",
    ),
]
AllowPrivilegedOption = Annotated[
    bool,
    typer.Option(
        "--allow-privileged",
        envvar="HONESTSQL_ALLOW_PRIVILEGED",
        help="Run even when the login can do more than read (superuser, file access, global "
        "grants). Prefer a login with only SELECT.",
    ),
]


def schema_list(schemas: str | None) -> list[str]:
    return [s.strip() for s in (schemas or "").split(",") if s.strip()]


JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
DescriptionsOption = Annotated[
    Path | None,
    typer.Option(
        "--descriptions",
        help="Human descriptions: a YAML/JSON file or a BIRD database_description folder.",
    ),
]


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")


def fail(exc: HonestSQLError, as_json: bool) -> NoReturn:
    if as_json:
        # The shape of a refused `check` (status, errors), plus the `error` object every door's
        # failure carries (honestsql.errors.error_body).
        emit_json(
            {
                "ok": False,
                "status": exc.status,
                "error": body_of(exc)["error"],
                "errors": [exc.to_dict()],
            }
        )
    else:
        err.print(f"[bold red]{exc.kind}[/]: {escape(exc.message)}")
    raise typer.Exit(1)


TargetOption = Annotated[
    float,
    typer.Option(min=0.0, max=0.99, help="Answer only if the estimated P(correct) is above this."),
]
LlmOption = Annotated[
    str | None,
    typer.Option(
        help="Backend: openai (any OpenAI-compatible server) or llama-cpp (embedded, the "
        "default without --base-url); none for serve and mcp without a model."
    ),
]
BaseUrlOption = Annotated[
    str | None,
    typer.Option(
        envvar="HONESTSQL_BASE_URL",
        help="OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1.",
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        envvar="HONESTSQL_MODEL",
        help="Server model name, or a GGUF path / known name for llama-cpp.",
    ),
]
ApiKeyOption = Annotated[
    str | None, typer.Option(envvar="HONESTSQL_API_KEY", help="API key for remote servers.")
]
DialectOption = Annotated[str | None, typer.Option(help="sqleval: postgres (default) or sqlite.")]
SplitOption = Annotated[str | None, typer.Option(help="bird: dev or mini; ehrsql: test or valid.")]
CandidatesOption = Annotated[
    int, typer.Option("--candidates", "-n", min=1, max=20, help="Candidate queries per question.")
]

DataOption = Annotated[
    str | None,
    typer.Option(
        "--data",
        envvar="HONESTSQL_DATA",
        help="Benchmark data root (holding spider/, bird/, sqleval/, ehrsql/). Default: $HONESTSQL_DATA.",
        show_default=False,
    ),
]

SuiteOption = Annotated[
    list[str] | None,
    typer.Option(
        help="sqleval-sqlite, spider, sqleval-postgres (the default: all three), or "
        "multilingual (honestsql's own questions in six languages); repeat for several."
    ),
]


RunOption = Annotated[
    Path | None,
    typer.Option(help="Run file (JSON lines) to write and resume; default in the cache."),
]
LimitOption = Annotated[
    int | None, typer.Option(min=1, help="Only the first N questions of the run order.")
]
FreshOption = Annotated[bool, typer.Option(help="Start the run file again.")]
ReportOnlyOption = Annotated[
    bool, typer.Option(help="Compute the figures from the run file without running a model.")
]


def cache_run(name: str) -> Path:
    """Where a bench run file goes when ``--run`` is not given."""
    from honestsql.cache import cache_dir

    return cache_dir() / "runs" / name


def print_figures(name: str, figures: dict[str, Any], as_json: bool) -> None:
    from datetime import date

    from honestsql.benchmarks import machine

    data = {"benchmark": name, "date": date.today().isoformat(), "machine": machine(), **figures}
    if as_json:
        emit_json(data)
        return
    table = RichTable(title=f"bench {name}", show_header=False)
    for key, value in data.items():
        table.add_row(key, escape(str(value)))
    out.print(table)


def print_rows(title: str, rows: list[dict[str, Any]], columns: Sequence[str]) -> None:
    """Rows of figures as one table (a value a row lacks shows as "-")."""
    table = RichTable(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(escape(str(row.get(k, "-"))) for k in columns))
    out.print(table)


AblationOption = Annotated[
    bool,
    typer.Option(
        help="With --report-only: what each recorded signal beyond the model's calibrator's "
        "own adds, nested leave-one-database-out (run --rejudge first to record them in an old "
        "run), `schema_columns`, `named_unread` and `asked_unknown` included (read from each "
        "question and its database, where --data holds it, for a run recorded before runs "
        "carried them)."
    ),
]


@contextmanager
def json_stdout(as_json: bool) -> Iterator[None]:
    """While inside, with ``--json``, what anything prints goes to stderr: standard output is
    kept for the one JSON document printed after."""
    if not as_json:
        yield
        return
    with redirect_stdout(sys.stderr):
        yield


GrammarOption = Annotated[
    str,
    typer.Option(
        help="full (default: the whole SELECT through llguidance; the embedded model only, "
        "qualified elsewhere), qualified, schema or none: the decoding grammar."
    ),
]
