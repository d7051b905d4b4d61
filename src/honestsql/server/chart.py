"""Charts of a result, drawn by matplotlib from the data; never from code a model wrote."""

from __future__ import annotations

import io
from typing import Any

from honestsql.errors import InvalidInput, Unavailable

NUMERIC = {"integer", "real", "decimal"}


def _chart_points(rows: list[list[Any]]) -> tuple[list[str], list[float]]:
    """Labels and numbers from rows of [label, number]; anything else is the client's error."""
    labels, values = [], []
    for index, row in enumerate(rows):
        if len(row) != 2:
            raise InvalidInput(f"Row {index} must be [label, number].")
        label, value = row
        if isinstance(value, bool) or not isinstance(value, int | float | str | None):
            raise InvalidInput(f"Row {index}: the value must be a number.")
        try:
            number = 0.0 if value is None else float(value)
        except ValueError:
            raise InvalidInput(f"Row {index}: {str(value)[:40]!r} is not a number.") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise InvalidInput(f"Row {index}: the value must be finite.")
        if isinstance(label, dict | list):
            raise InvalidInput(f"Row {index}: the label must be a value.")
        labels.append(str(label)[:200])
        values.append(number)
    return labels, values


CATEGORY = {"text", "date", "datetime", "boolean"}


def render_chart(columns: list[dict[str, str]], rows: list[list[Any]]) -> bytes:
    """A bar chart (category x number) or line chart (date x number) drawn by matplotlib from the
    result data; never from code a model wrote."""
    kinds = [c.get("type", "") for c in columns]
    if not (kinds[0] in CATEGORY and kinds[1] in NUMERIC):
        raise InvalidInput("A chart needs a text or date column followed by a numeric one.")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ModuleNotFoundError:
        raise Unavailable("Charts need matplotlib: pip install 'honestsql[server]'.") from None
    labels, values = _chart_points(rows)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    if kinds[0] in {"date", "datetime"}:
        ax.plot(labels, values, marker="o", color="#1f5fa8")
    else:
        ax.bar(labels, values, color="#1f5fa8")
    ax.set_xlabel(columns[0].get("name", ""))
    ax.set_ylabel(columns[1].get("name", ""))
    ax.tick_params(axis="x", labelrotation=45 if len(labels) > 6 else 0, labelsize=8)
    ax.grid(axis="y", alpha=0.3)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()
