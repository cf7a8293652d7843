"""Plain-text tables for the reports `relais report` prints (the inbox's and the advocacy figures)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["columns", "count"]


def count(value: int | None) -> str:
    """A figure, or a dash where none was given (never 0, which is a count)."""
    return "-" if value is None else str(value)


def columns(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The header and the rows, each column as wide as its widest cell."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
