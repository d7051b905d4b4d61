"""The main commands: ask, check, schema, demo, version."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table as RichTable

import honestsql
from honestsql.catalog import Catalog
from honestsql.cli import export, show
from honestsql.cli.apps import app
from honestsql.cli.common import (
    AllowPrivilegedOption,
    ApiKeyOption,
    BaseUrlOption,
    CandidatesOption,
    DbOption,
    DescriptionsOption,
    GlossaryOption,
    JsonOption,
    LlmOption,
    ModelOption,
    PolicyOption,
    SchemasOption,
    TargetOption,
    emit_json,
    fail,
    out,
    schema_list,
)
from honestsql.errors import HonestSQLError


def _read_sql(sql: str | None, file: Path | None) -> str | bytes:
    if sql is not None and file is not None:
        raise typer.BadParameter("give the SQL as an argument or with --file, not both")
    if file is not None:
        try:
            return file.read_bytes()
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {file}: {exc.strerror}") from None
    if sql is None or sql == "-":
        if sql is None and sys.stdin.isatty():
            raise typer.BadParameter(
                "give a SQL query, '-' to read it from standard input, or --file"
            )
        return sys.stdin.buffer.read()
    return sql


@app.command()
def check(
    db: DbOption,
    sql: Annotated[
        str | None, typer.Argument(help="The SQL query; '-' (or nothing) reads standard input.")
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Read the SQL from a file.")
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.001, help="Wall-clock limit in seconds.")
    ] = 10.0,
    max_rows: Annotated[
        int | None,
        typer.Option("--max-rows", min=0, help="Rows to return at most (default 1000)."),
    ] = None,
    no_execute: Annotated[
        bool, typer.Option("--no-execute", help="Verify only; do not run the query.")
    ] = False,
    descriptions: DescriptionsOption = None,
    schemas: SchemasOption = None,
    allow_privileged: AllowPrivilegedOption = False,
    policy: PolicyOption = None,
    output: export.OutputOption = None,
    fmt: export.FormatOption = None,
    as_csv: export.CsvOption = False,
    as_json: JsonOption = False,
) -> None:
    """Verify a SQL query against the real schema and, if it passes, run it read-only."""
    text = _read_sql(sql, file)
    try:
        database = honestsql.connect(
            db,
            descriptions=descriptions,
            schemas=schema_list(schemas),
            allow_privileged=allow_privileged,
            policy=policy,
        )
        with database:
            if (output is not None or as_csv) and not no_execute:
                done = export.write(
                    database,
                    text if isinstance(text, str) else text.decode("utf-8", "replace"),
                    output,
                    fmt,
                    timeout=timeout,
                    max_rows=max_rows,
                    as_json=as_json,
                )
                raise typer.Exit(0 if done.ok else 1)
            result = honestsql.check(
                database,
                text,
                timeout=timeout,
                max_rows=1000 if max_rows is None else max_rows,
                execute=not no_execute,
            )
    except HonestSQLError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json(result.to_dict())
    else:
        show.check_result(result)
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in plain language.")],
    db: DbOption,
    target: TargetOption = 0.75,
    llm: LlmOption = None,
    base_url: BaseUrlOption = None,
    model: ModelOption = None,
    api_key: ApiKeyOption = None,
    guided: Annotated[
        str | None, typer.Option(help="Send the SQL grammar to the server: llama.cpp or vllm.")
    ] = None,
    candidates: CandidatesOption = 5,
    evidence: Annotated[
        str, typer.Option(help="A hint about the data (BIRD-style evidence).")
    ] = "",
    timeout: Annotated[float, typer.Option(min=0.01, help="Time limit per query, seconds.")] = 10.0,
    max_rows: Annotated[int, typer.Option(min=0, help="Rows to return at most.")] = 1000,
    redact_values: Annotated[
        bool | None,
        typer.Option(
            "--redact-values/--no-redact-values",
            help="Mask personal-looking sample values in prompts. "
            "Default: on for remote servers, off for local ones.",
        ),
    ] = None,
    no_audit: Annotated[
        bool, typer.Option("--no-audit", help="Do not write the audit log.")
    ] = False,
    schema_budget: Annotated[
        int,
        typer.Option(
            min=500,
            help="Characters of schema text the prompt may hold; a larger schema is cut to the "
            "tables and columns the question needs.",
        ),
    ] = 24_000,
    use_embeddings: Annotated[
        bool,
        typer.Option(
            "--embeddings",
            help="When the schema is cut, also match by meaning (needs honestsql[embeddings]).",
        ),
    ] = False,
    sql_only: Annotated[bool, typer.Option("--sql-only", "-q", help="Print only the SQL.")] = False,
    descriptions: DescriptionsOption = None,
    schemas: SchemasOption = None,
    allow_privileged: AllowPrivilegedOption = False,
    policy: PolicyOption = None,
    glossary: GlossaryOption = None,
    output: export.OutputOption = None,
    fmt: export.FormatOption = None,
    as_csv: export.CsvOption = False,
    show_candidates: Annotated[
        bool,
        typer.Option(
            "--show-candidates",
            help="When it abstains, show what the candidate queries found, grouped by result "
            "and marked unverified.",
        ),
    ] = False,
    follow_up: Annotated[
        str | None,
        typer.Option(
            "--follow-up",
            help="Continue this conversation (the id an earlier answer printed): the question "
            "is read in the light of the earlier ones.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Answer a question with verified, read-only SQL, or abstain and say why."""
    from honestsql.cli.chat import make_service
    from honestsql.pipeline import Settings

    if not question.strip():
        raise typer.BadParameter("the question is empty")
    settings = Settings(
        candidates=candidates,
        timeout=timeout,
        max_rows=max_rows,
        redact=redact_values,
        schema_budget_chars=schema_budget,
        embeddings=use_embeddings,
    )
    try:
        service = make_service(
            db,
            (llm, base_url, model, api_key, guided),
            settings,
            audited=not no_audit,
            descriptions=descriptions,
            schemas=schema_list(schemas),
            allow_privileged=allow_privileged,
            policy=policy,
            glossary=glossary,
        )
        with service, show.stages() as on_stage:
            answer = service.ask(
                question,
                target=target,
                evidence=evidence,
                on_stage=on_stage,
                conversation=follow_up,
            )
            answered = answer.decision == "answer"
            if output is not None and answered:
                done = export.write(
                    service.database()[1],
                    answer.sql or "",
                    output,
                    fmt,
                    timeout=timeout,
                    max_rows=None,
                    as_json=False,
                )
                answered = done.ok
    except HonestSQLError as exc:
        fail(exc, as_json)
    if as_csv and answered:
        export.print_csv(answer.columns, answer.rows)
    elif as_json:
        emit_json(answer.to_dict())
    elif sql_only:
        if answer.sql:
            sys.stdout.write(answer.sql + "\n")
    else:
        # Rows asked for on stdout (--csv): the prose goes to stderr, so that an abstention's
        # "I don't know" never lands in the data.
        with show.prose_to_stderr(as_csv):
            show.answer(answer, target)
            if show_candidates and not answered:
                show.alternatives(answer, db, question)
            show.thread(answer, question)
    raise typer.Exit(0 if answered else 1)


@app.command()
def schema(
    db: DbOption,
    descriptions: DescriptionsOption = None,
    schemas: SchemasOption = None,
    allow_privileged: AllowPrivilegedOption = False,
    policy: PolicyOption = None,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Ignore the cache and read again.")
    ] = False,
    no_samples: Annotated[
        bool, typer.Option("--no-samples", help="Do not read sample values.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Print the schema catalog: tables, columns, keys, descriptions, samples, row counts."""
    try:
        database = honestsql.connect(
            db,
            descriptions=descriptions,
            samples=not no_samples,
            schemas=schema_list(schemas),
            allow_privileged=allow_privileged,
            policy=policy,
        )
        with database:
            catalog = database.catalog(refresh=refresh)
    except HonestSQLError as exc:
        fail(exc, as_json)
    if as_json:
        emit_json({"ok": True, "database": database.display_url, **catalog.model_dump(mode="json")})
        return
    _print_catalog(database.display_url, catalog)


def _print_catalog(url: str, catalog: Catalog) -> None:
    out.print(
        f"[bold]{escape(url)}[/] ({catalog.dialect}): {len(catalog.tables)} tables, "
        f"{catalog.column_count} columns"
    )
    for table in catalog.tables:
        rows = (
            ""
            if table.row_count is None
            else f", {'~' if table.row_count_estimated else ''}{table.row_count:,} rows"
        )
        kind = "view" if table.is_view else "table"
        title = f"[bold cyan]{escape(table.name)}[/] [dim]({kind}{rows})[/]"
        note = table.description or table.comment
        if note:
            title += f" — {escape(note)}"
        grid = RichTable(title=title, title_justify="left", show_edge=False, header_style="dim")
        grid.add_column("column")
        grid.add_column("type")
        grid.add_column("key")
        grid.add_column("samples / description")
        fk_of = {
            c: f"→ {fk.ref_table}.{r}"
            for fk in table.foreign_keys
            for c, r in zip(fk.columns, fk.ref_columns, strict=False)
        }
        for column in table.columns:
            key = " ".join(
                k for k in ("PK" if column.primary_key else "", fk_of.get(column.name, "")) if k
            )
            info = column.description or column.comment or ""
            if column.samples:
                samples = ", ".join(repr(s) for s in column.samples)
                info = (
                    f"{info} [dim]e.g. {escape(samples)}[/]"
                    if info
                    else f"[dim]e.g. {escape(samples)}[/]"
                )
            grid.add_row(escape(column.name), escape(column.type), escape(key), info)
        out.print(grid)


@app.command()
def demo(as_json: JsonOption = False) -> None:
    """Build the bundled demo database (a small shop) and print where it is."""
    path = honestsql.demo.ensure()
    if as_json:
        emit_json(
            {"ok": True, "path": str(path), "descriptions": str(honestsql.demo.descriptions_path())}
        )
    else:
        out.print(f"Demo database: {path}\nTry: honestsql schema --db demo")


@app.command()
def version(as_json: JsonOption = False) -> None:
    """Print the honestsql version."""
    if as_json:
        emit_json({"version": honestsql.__version__})
    else:
        out.print(f"honestsql {honestsql.__version__}")
