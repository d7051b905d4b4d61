"""The ``honestsql`` command line. Every command that prints data has ``--json`` (``mcp`` alone has
not: its standard output is the MCP protocol); exit codes: 0 ok, 1 rejected, abstained or failed,
2 usage error."""

from __future__ import annotations

# The commands register themselves on the apps.
from honestsql.cli import (  # noqa: E402, F401
    bench,
    bench_ask,
    bench_security,
    calibrate,
    chat,
    core,
    evaluation,
    glossary,
    memory,
    models,
    peers,
    server,
)
from honestsql.cli.apps import app, main

__all__ = ["app", "main"]
