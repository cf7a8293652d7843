"""Post and delivery status rules (agency and hub alike): statuses only move forward, and a post's final
status follows from its deliveries. Pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable

# `throttled` (waiting for a network's rate limit to reset, the call not made) shares `publishing`'s
# rank: a delivery may go back and forth between them (a 429, the wait, the next call).
DELIVERY_RANK = {"pending": 0, "throttled": 1, "publishing": 1, "unconfirmed": 2}
DELIVERY_TERMINAL = ("published", "failed", "rejected", "expired")

POST_RANK = {"queued": 0, "waiting_for_hub": 1, "awaiting_approval": 2, "scheduled": 3, "publishing": 4}
POST_TERMINAL = ("published", "partially_published", "failed", "invalid", "rejected", "expired")


def delivery_rank(status: str) -> int:
    return DELIVERY_RANK.get(status, 9 if status in DELIVERY_TERMINAL else -1)


def post_rank(status: str) -> int:
    return POST_RANK.get(status, 9 if status in POST_TERMINAL else -1)


def advances(current: str, new: str, rank: dict[str, int], terminal: tuple[str, ...]) -> bool:
    """True when `new` may replace `current`: never backwards, never out of a final status, except
    that a failed delivery that a person retried at the hub can still end published."""
    if current == "failed" and new in ("publishing", "published"):
        return True
    if current in terminal:
        return False
    new_rank = rank.get(new, 9 if new in terminal else -1)
    return new_rank >= rank.get(current, -1)


def post_status_from_deliveries(statuses: Iterable[str]) -> str | None:
    """The post's status implied by its deliveries, or None while nothing has been attempted."""
    statuses = list(statuses)
    if not statuses:
        return None
    if all(s in DELIVERY_TERMINAL for s in statuses):
        published = sum(s == "published" for s in statuses)
        if published == len(statuses):
            return "published"
        if published:
            return "partially_published"
        return "expired" if all(s == "expired" for s in statuses) else "failed"
    if any(s != "pending" for s in statuses):
        return "publishing"
    return None
