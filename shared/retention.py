"""How long the hub's NATS keeps what it holds, and how much: the one table every stream, bucket
and object store the hub side declares takes its limits from (`shared.bus`), with the reason of each.

Limits never silently weaken exactly-once. Every one discards *new* writes when full (the writer
is refused with a reason and retries, the agency's post shows `waiting_for_hub`) rather than
forgetting old messages: a forgotten post would let a late resend through a second time. Age is
the only thing that forgets, and every stream an agency's exactly-once depends on keeps its
messages well past the longest outage it is promised to survive.

JetStream reserves each stream's `max_bytes` on disk when the stream is declared (and refuses it,
"insufficient storage resources", beyond the server's store): the hub's store must hold the sum
of this table (about 8 GiB with the two key-value buckets) plus one media bucket per agency
node that has connected. Sized for the service's volume with a wide margin: 20,000 posts a month
of a few kilobytes each, every delivery announced three times, kept 180 days, fill under a third.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

__all__ = [
    "KV_RETENTION",
    "LONGEST_EXACTLY_ONCE_OUTAGE",
    "MEDIA_RETENTION",
    "STREAM_RETENTION",
    "Retention",
]

GIB = 1024**3

# An agency node offline for up to this long still has every post stored exactly once, and still
# learns every decision and delivery result when its link returns.
LONGEST_EXACTLY_ONCE_OUTAGE = timedelta(days=90)


@dataclass(frozen=True)
class Retention:
    max_age: timedelta | None  # None: kept until replaced (state, not history)
    max_bytes: int
    reason: str

    @property
    def max_age_seconds(self) -> float:
        """What nats-py takes (0 means no limit)."""
        return self.max_age.total_seconds() if self.max_age else 0.0


_AGENCY_FACING = timedelta(days=180)  # twice the longest outage: a node back on day 90 finds it all
_HUB_INTERNAL = timedelta(days=30)

STREAM_RETENTION: dict[str, Retention] = {
    "POSTS": Retention(
        _AGENCY_FACING,
        GIB,
        "a resend after an outage is refused by the post's subject already having its message "
        "(Nats-Expected-Last-Subject-Sequence: 0): the message must still be there when it comes",
    ),
    "SECURITY": Retention(
        _AGENCY_FACING,
        GIB // 4,
        "refusals are relayed from the agency's outbox like posts, with the same per-subject check",
    ),
    "DECISIONS": Retention(
        _AGENCY_FACING,
        GIB,
        "an agency node reads its decisions through a durable consumer when its link returns",
    ),
    "DELIVERIES": Retention(
        _AGENCY_FACING,
        2 * GIB,
        "an agency node reads its delivery results through a durable consumer when its link returns",
    ),
    "VARIANTS": Retention(
        _AGENCY_FACING,
        2 * GIB,
        "an agency node reads its invalid posts through a durable consumer when its link returns",
    ),
    "TARGETS": Retention(
        _HUB_INTERNAL,
        GIB // 2,
        "read only by the hub side's own services, which run beside the server",
    ),
    "ALERTS": Retention(
        _HUB_INTERNAL,
        GIB // 4,
        "read only by the hub, which runs beside the server",
    ),
    "COMMANDS": Retention(
        _HUB_INTERNAL,
        GIB // 4,
        "read only by the dispatcher, which runs beside the server",
    ),
    "ENGAGEMENT": Retention(
        _HUB_INTERNAL,
        GIB // 4,
        "read only by the hub, which runs beside the server; the figures live on in its database",
    ),
    "INBOX": Retention(
        _AGENCY_FACING,
        GIB,
        "an agency node reads the questions asked on its pages through a durable consumer when its "
        "link returns; citizens' identifiers are masked before they are published here",
    ),
    "ADVOCACY": Retention(
        _AGENCY_FACING,
        GIB // 4,
        "an agency node reads its advocates' account news through a durable consumer when its link "
        "returns; `relais advocates forget` purges an advocate's subjects (her enrolment names her)",
    ),
}

MEDIA_RETENTION = Retention(
    _AGENCY_FACING,
    GIB,
    "one object store per agency (media-<agency>); a file is put just before the post naming it, "
    "so it lives as long as that post: through moderation, scheduling and the dispatcher's "
    "retries; the size caps one agency's share of the hub's disk (full: its uploads wait)",
)

KV_RETENTION = Retention(
    None,
    GIB // 4,
    "key-value buckets (pages, revoked_tokens) hold current state, one value per key: an age limit "
    "would delete live pages and un-revoke tokens",
)
