"""A read cursor for networks that list comments newest first without a "since" parameter.

YouTube's comment threads and LinkedIn's comments on a post give no cursor that means "after what I
read last time": a page token pages backwards from the newest item. What the reader can remember is
the newest creation time it has seen and the ids seen at exactly that time (networks date to the
second or millisecond, and several comments share one); an item is new when it is dated later, or
at that time with another id. Nothing dated at or after the mark is lost, and nothing before it is
read twice.

`Watermark` is that mark; `dump_cursor` and `load_cursor` carry a JSON object of them as the cursor
string the dispatcher stores, and an unreadable cursor is `CursorExpired` (the reader starts again
from the newest items; the store's key drops what it already has).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .conversations import CursorExpired

__all__ = ["Watermark", "dump_cursor", "load_cursor"]

_VERSION = 1


@dataclass(frozen=True)
class Watermark:
    """The newest creation time read (Unix time) and the ids read at exactly that time."""

    time: float
    ids: frozenset[str] = frozenset()

    def is_new(self, time: float, item_id: str) -> bool:
        return time > self.time or (time == self.time and item_id not in self.ids)

    def advanced(self, dated: Iterable[tuple[float, str]]) -> Watermark:
        """The mark once these (time, id) pairs are read too."""
        newest, ids = self.time, set(self.ids)
        for time, item_id in dated:
            if time > newest:
                newest, ids = time, {item_id}
            elif time == newest:
                ids.add(item_id)
        return Watermark(newest, frozenset(ids))

    def dump(self) -> list[Any]:
        return [self.time, sorted(self.ids)]

    @classmethod
    def load(cls, value: object) -> Watermark:
        if (
            not isinstance(value, list)
            or len(value) != 2
            or not isinstance(value[0], int | float)
            or isinstance(value[0], bool)
            or not isinstance(value[1], list)
            or not all(isinstance(item, str) for item in value[1])
        ):
            raise CursorExpired("the cursor's mark is unreadable")
        return cls(float(value[0]), frozenset(value[1]))


def dump_cursor(fields: dict[str, Any]) -> str:
    # In the fields' order (no sorting): a map kept in the order its entries were read stays so.
    return json.dumps({"v": _VERSION, **fields}, separators=(",", ":"))


def load_cursor(cursor: str) -> dict[str, Any]:
    """The cursor's fields; `CursorExpired` for one this version cannot read (another format, a
    cursor written by an older reader, or garbage)."""
    try:
        fields = json.loads(cursor)
    except (TypeError, ValueError):
        raise CursorExpired("the cursor is not one this reader wrote") from None
    if not isinstance(fields, dict) or fields.get("v") != _VERSION:
        raise CursorExpired("the cursor is not one this reader wrote")
    return fields
