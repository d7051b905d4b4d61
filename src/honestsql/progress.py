"""Progress bars on standard error, for long work in any layer (assembling a model, runs)."""

from __future__ import annotations

from typing import Any

from rich.console import Console

_ERR = Console(stderr=True)


def progress_bar(description: str, total: int) -> Any:
    """A Rich progress bar on stderr, with ``advance(n)`` and ``reached(done, total=None)`` to
    move it (a total given there replaces the first one)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_ERR,
        transient=True,
    )
    task = progress.add_task(description, total=total)
    return (
        progress,
        lambda n: progress.advance(task, n),
        lambda done, new_total=None: progress.update(task, completed=done, total=new_total),
    )
