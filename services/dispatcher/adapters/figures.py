"""Reading a network's counts into `Engagement` figures (`read_engagement`)."""

from __future__ import annotations

__all__ = ["count", "total"]


def count(value: object) -> int | None:
    """A count as the network wrote it: a non-negative integer (JSON number, or digits in a string,
    as SlideShare's XML gives them); anything else is a figure not given (None, never 0)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def total(*values: object) -> int | None:
    """The sum of counts that together make one figure (reposts and quotes are both shares); None
    when the network gives none of them."""
    counts = [figure for value in values if (figure := count(value)) is not None]
    return sum(counts) if counts else None
