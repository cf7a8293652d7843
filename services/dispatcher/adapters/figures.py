"""A post's figures as a network's answer gives them (`read_engagement`, issue #15).

A count is a non-negative integer, given as a JSON number or, where a network sends unsigned longs
as text (YouTube's statistics, SlideShare's XML), as a decimal string. Anything else (absent, null, a
negative or a boolean) is no figure: None, never 0 in its place.
"""

from __future__ import annotations

__all__ = ["count", "total"]


def count(value: object) -> int | None:
    """The count `value` gives, or None when it gives none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def total(*values: object) -> int | None:
    """The sum of counts that together make one figure (reposts and quotes are both shares); None
    when the network gives none of them."""
    counts = [figure for value in values if (figure := count(value)) is not None]
    return sum(counts) if counts else None
