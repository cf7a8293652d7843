"""The audit trail's hash chain: each entry carries the hash of the one before it, so changing,
dropping or inserting an entry anywhere breaks every hash after it. Pure functions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64
# What an entry's hash covers, in this order; `detail` is canonical JSON.
HASHED_FIELDS = (
    "id",
    "source",
    "occurred_at",
    "recorded_at",
    "post_id",
    "agency",
    "event",
    "actor",
    "network",
    "page",
    "detail",
)


def entry_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    canonical = json.dumps(
        [prev_hash, *(entry.get(f) for f in HASHED_FIELDS)],
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Break:
    entry_id: int
    reason: str


def verify_chain(entries: Iterable[Mapping[str, Any]]) -> tuple[int, Break | None]:
    """Walk the entries in id order; return how many verified and the first break, if any."""
    prev = GENESIS
    expected_id: int | None = None
    count = 0
    for entry in entries:
        if expected_id is not None and entry["id"] != expected_id:
            return count, Break(entry["id"], f"entry {expected_id} is missing (found {entry['id']} next)")
        if entry["prev_hash"] != prev:
            return count, Break(entry["id"], "its prev_hash does not match the entry before it")
        if entry_hash(prev, entry) != entry["hash"]:
            return count, Break(entry["id"], "its content does not match its hash (it was changed)")
        prev = entry["hash"]
        expected_id = entry["id"] + 1
        count += 1
    return count, None
