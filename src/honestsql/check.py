"""``check``: guard, verify against the schema, then execute read-only. No LLM involved."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlglot import exp

from honestsql.catalog import Catalog
from honestsql.db import Database, QueryResult
from honestsql.errors import HonestSQLError, InvalidInput
from honestsql.findings import Finding
from honestsql.guard import MAX_SQL_CHARS, TOO_DEEP, GuardedStatement, guard
from honestsql.reads import text_literals
from honestsql.verify import qualify_tables, verify

#: The most syntax-tree nodes one statement may have: resolving and checking grow with it.
MAX_TERMS = 25_000

#: Text values of one query whose presence is probed (``ground``).
MAX_PROBES = 5

Status = Literal["ok", "rejected", "error"]

log = logging.getLogger(__name__)


@dataclass
class CheckResult:
    """The outcome of checking one query; ``to_dict`` is the documented ``--json`` object."""

    status: Status
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    result: QueryResult | None = None
    sql: str | None = None
    elapsed_ms: float = 0.0
    #: The checked statement's parse tree, for callers that inspect it further.
    expression: exp.Query | None = field(default=None, repr=False, compare=False)
    #: With ``ground``: the ``table.column = 'value'`` comparisons whose value the column does
    #: not hold (a probe that could not run counts too, marked "not checked").
    ungrounded: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "status": self.status,
            "errors": [f.to_dict() for f in self.errors],
            "warnings": [f.to_dict() for f in self.warnings],
            "sql": self.sql,
            "columns": [c.to_dict() for c in self.result.columns] if self.result else [],
            "rows": self.result.json_rows() if self.result else [],
            "truncated": self.result.truncated if self.result else False,
            "elapsed_ms": round(self.elapsed_ms, 3),
        }


def validate_sql_text(sql: str | bytes, max_chars: int = MAX_SQL_CHARS) -> str:
    """Reject input that is not a usable SQL text, with a message that says why."""
    if isinstance(sql, bytes):
        try:
            sql = sql.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput(
                f"The SQL is not valid UTF-8 text (byte {exc.start}); save it as UTF-8."
            ) from None
    try:
        sql.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(
            f"The SQL is not valid UTF-8 text (character {exc.start}); save it as UTF-8."
        ) from None
    if "\x00" in sql:
        raise InvalidInput("The SQL contains a NUL character; remove it.")
    if not sql.strip():
        raise InvalidInput("The SQL is empty; give one SELECT query.")
    if len(sql) > max_chars:
        raise InvalidInput(
            f"The SQL is {len(sql):,} characters long; the limit is {max_chars:,}. "
            "Shorten it or raise the limit (max_chars)."
        )
    return sql


def check(
    db: Database,
    sql: str | bytes,
    *,
    timeout: float = 10.0,
    max_rows: int = 1000,
    execute: bool = True,
    max_chars: int = MAX_SQL_CHARS,
    ground: bool = False,
    quoted_strings: bool = False,
) -> CheckResult:
    """Guard, verify and (when both pass and ``execute``) run ``sql`` on ``db``; with
    ``ground``, also probe whether the text values it compares with columns exist there.

    A double-quoted word that names nothing is read as a string as SQLite reads it: always on
    SQLite, and on every engine with ``quoted_strings`` (a model's queries: a model used to
    SQLite writes ``country = "Germany"``); the SQL returned shows it as ``'Germany'``.

    Never raises for a problem with the query or the database: every failure becomes a
    ``rejected`` or ``error`` result carrying the finding.
    """
    started = time.perf_counter()

    def done(status: Status, errors: list[Finding], **kw: Any) -> CheckResult:
        return CheckResult(
            status, errors=errors, elapsed_ms=(time.perf_counter() - started) * 1000, **kw
        )

    if timeout <= 0:
        raise InvalidInput(f"The timeout must be a positive number of seconds, not {timeout}.")
    if max_rows < 0:
        raise InvalidInput(f"max_rows must be 0 or more, not {max_rows}.")
    try:
        text = validate_sql_text(sql, max_chars)
    except InvalidInput as exc:
        return done("rejected", [_finding(exc)])
    deadline = started + timeout
    try:
        checked = _guard_and_verify(db, text, quoted_strings)
    except HonestSQLError as exc:
        return done("error", [_finding(exc)])
    except RecursionError:  # deep nesting outside the verifier (which names the statement)
        return done("rejected", [Finding("syntax", TOO_DEEP)])
    except Exception as exc:  # noqa: BLE001 - fail closed: a query that cannot be checked is not run
        log.exception("checking %r failed", text[:200])
        return done("rejected", [_internal(exc)])
    if isinstance(checked, CheckResult):
        return done(checked.status, checked.errors, warnings=checked.warnings, sql=checked.sql)
    guarded, warnings = checked
    if not execute:
        return done(
            "ok", [], warnings=warnings, sql=guarded.executable_sql, expression=guarded.expression
        )
    remaining = deadline - time.perf_counter()
    if remaining <= 0:
        return done(
            "error",
            [Finding("timeout", f"Checking the query took longer than its {timeout:g} s limit.")],
            warnings=warnings,
            sql=guarded.executable_sql,
        )
    try:
        result = db.execute(guarded.executable_sql, timeout=remaining, max_rows=max_rows)
    except HonestSQLError as exc:
        return done("error", [_finding(exc)], warnings=warnings, sql=guarded.executable_sql)
    return done(
        "ok",
        [],
        warnings=warnings,
        result=result,
        sql=guarded.executable_sql,
        expression=guarded.expression,
        ungrounded=_ungrounded(db, guarded.expression, timeout) if ground else [],
    )


def _guard_and_verify(
    db: Database, text: str, quoted_strings: bool
) -> tuple[GuardedStatement, list[Finding]] | CheckResult:
    """The statement guarded, allowed by the policy and verified against the schema, with its
    warnings; or the refusal, as a result without timing."""
    guarded = guard(text, db.sql_dialect)
    if not isinstance(guarded, GuardedStatement):
        return CheckResult("rejected", errors=guarded)
    terms = guarded.terms
    if terms > MAX_TERMS:
        return CheckResult(
            "rejected",
            errors=[
                Finding(
                    "invalid_input",
                    f"The SQL has {terms:,} terms; honestsql checks at most {MAX_TERMS:,}. "
                    "Split it into smaller queries (a long OR chain reads better as IN (...)).",
                )
            ],
        )
    try:
        catalog = db.catalog()
    except HonestSQLError as exc:
        return CheckResult("error", errors=[_finding(exc)], sql=guarded.executable_sql)
    if quoted_strings or db.sql_dialect == "sqlite":  # a real name stays one, denied ones too
        every = db.access.catalog if db.access else catalog
        guarded = guarded.with_expression(sqlite_strings(guarded.expression, every), db.sql_dialect)
    denied = db.access.problems(guarded.expression, db.sql_dialect) if db.access else []
    if denied:
        return CheckResult("rejected", errors=denied, sql=guarded.executable_sql)
    try:
        findings = verify(guarded.expression, catalog, db.sql_dialect)
    except RecursionError:
        return CheckResult(
            "rejected", errors=[Finding("syntax", TOO_DEEP)], sql=guarded.executable_sql
        )
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity == "warning"]
    if errors:
        return CheckResult("rejected", errors=errors, warnings=warnings, sql=guarded.executable_sql)
    if db.dialect.qualify_names:
        guarded = guarded.with_expression(
            qualify_tables(guarded.expression, catalog, db.sql_dialect), db.sql_dialect
        )
    return guarded, warnings


#: Columns every SQLite table has without declaring them.
_ROWID = {"rowid", "oid", "_rowid_"}


def sqlite_strings(expression: exp.Query, catalog: Catalog) -> exp.Query:
    """SQLite reads a double-quoted word that names no column as a string: ``name = "Martin"``
    is ``name = 'Martin'``. Each such word written as the string SQLite reads, so the checks
    (and the SQL shown) see what runs; a quoted name that exists stays a name. (MySQL and
    Spark parse every double-quoted word as a string already.)"""
    names = _ROWID | {c.name.lower() for t in catalog.tables for c in t.columns}
    names |= {node.alias_or_name.lower() for node in expression.find_all(exp.Alias, exp.CTE)}
    for alias in expression.find_all(exp.TableAlias):  # a table's alias and column list
        names |= {alias.name.lower(), *(c.name.lower() for c in alias.columns)}
    for column in list(expression.find_all(exp.Column)):
        word = column.this
        if (
            not column.table
            and isinstance(word, exp.Identifier)
            and word.quoted
            and word.name.lower() not in names
        ):
            column.replace(exp.Literal.string(word.name))
    return expression


def _internal(exc: Exception) -> Finding:
    return Finding(
        "internal",
        f"honestsql could not check this query ({type(exc).__name__}: {exc}); it was not run. "
        "This is a bug in honestsql: please report it with the query.",
    )


def _ungrounded(db: Database, expression: exp.Query, timeout: float) -> list[str]:
    """Text values the query compares with a column that holds no such value."""
    missing = []
    dialect = db.sql_dialect
    for table, column, value in text_literals(expression, db.catalog(), dialect)[:MAX_PROBES]:
        source = exp.table_(table.bare_name, db=table.schema_name, quoted=True)
        probe = (
            exp.select("1")
            .from_(source)
            .where(
                exp.EQ(
                    this=exp.column(column.name, quoted=True),
                    expression=exp.Literal.string(value),
                )
            )
            .limit(1)
            .sql(dialect=dialect)
        )
        comparison = f"{table.name}.{column.name} = '{value}'"
        try:
            found = db.execute(probe, timeout=timeout, max_rows=1).rows
        except HonestSQLError as exc:
            missing.append(f"{comparison} (not checked: {exc.kind})")
            continue
        if not found:
            missing.append(comparison)
    return missing


def _finding(exc: HonestSQLError) -> Finding:
    return Finding(exc.kind, exc.message)
