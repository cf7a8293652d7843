"""The durable consumers an agency node reads the hub's news through, each filtered on its own
subjects. The hub side creates them (with the agency's media bucket, on its first contact) and the
agency's NATS user may only look them up, fetch and acknowledge: it creates no consumer, so it can
set neither another filter nor a push delivery to a subject of its choosing.
"""

from __future__ import annotations

from nats.js.api import DeliverPolicy

from shared.accounts import ADVISORS_BUCKET
from shared.advocacy.accounts import SEALING_BUCKET, SEALING_KEY
from shared.advocacy.stories import STORIES_BUCKET
from shared.bus import ConsumerSpec
from shared.saved_replies import SAVED_REPLIES_BUCKET
from shared.schemas import PAGES_BUCKET, REVOKED_BUCKET

__all__ = [
    "advisors_consumer",
    "advocacy_consumer",
    "agency_consumers",
    "inbox_consumer",
    "news_consumers",
    "pages_consumer",
    "revocations_consumer",
    "saved_replies_consumer",
    "sealing_consumer",
    "stories_consumer",
]


def news_consumers(agency: str) -> list[ConsumerSpec]:
    """The hub's news for this agency: invalid posts, decisions, delivery results."""
    return [
        ConsumerSpec("VARIANTS", f"intake-{agency}-variants", f"variants.{agency}.*.invalid"),
        ConsumerSpec("DECISIONS", f"intake-{agency}-decisions", f"decisions.{agency}.*.*"),
        ConsumerSpec("DELIVERIES", f"intake-{agency}-deliveries", f"deliveries.{agency}.*.*"),
    ]


def inbox_consumer(agency: str) -> ConsumerSpec:
    """What people sent to this agency's pages (`received`), and the hub's escalations of its
    conversations (`escalated`). The node's own `assigned` messages come back through it too: the
    node wrote them first, so it acknowledges them and changes nothing."""
    return ConsumerSpec("INBOX", f"intake-{agency}-inbox", f"inbox.{agency}.*.*")


def pages_consumer(agency: str) -> ConsumerSpec:
    """This agency's keys of the `pages` bucket (a KV watch would need the right to read them all)."""
    return ConsumerSpec(
        f"KV_{PAGES_BUCKET}",
        f"intake-{agency}-pages",
        f"$KV.{PAGES_BUCKET}.{agency}.*",
        deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
    )


def revocations_consumer(agency: str) -> ConsumerSpec:
    return ConsumerSpec(
        f"KV_{REVOKED_BUCKET}",
        f"intake-{agency}-revocations",
        f"$KV.{REVOKED_BUCKET}.>",
        deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
    )


def advisors_consumer(agency: str) -> ConsumerSpec:
    """This agency's advisor accounts (hashes only), and no other agency's."""
    return ConsumerSpec(
        f"KV_{ADVISORS_BUCKET}",
        f"intake-{agency}-advisors",
        f"$KV.{ADVISORS_BUCKET}.{agency}.*",
        deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
    )


def saved_replies_consumer(agency: str) -> ConsumerSpec:
    """The hub team's saved replies (the same for every agency), kept at the node for offline use."""
    return ConsumerSpec(
        f"KV_{SAVED_REPLIES_BUCKET}",
        f"intake-{agency}-saved-replies",
        f"$KV.{SAVED_REPLIES_BUCKET}.>",
        deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
    )


def stories_consumer(agency: str) -> ConsumerSpec:
    """The advocacy stories offered to this agency's advisors (issue #16), and no other agency's."""
    return ConsumerSpec(
        f"KV_{STORIES_BUCKET}",
        f"intake-{agency}-stories",
        f"$KV.{STORIES_BUCKET}.{agency}.*",
        deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
    )


def advocacy_consumer(agency: str) -> ConsumerSpec:
    """This agency's advocates' account news (#16): `connected`, `status`, `forgotten`. The node's
    own events (`enrolled`, `opted_out`, `disconnected`, `app_password`) come back through it too: it
    wrote them first, so it acknowledges them and changes nothing."""
    return ConsumerSpec("ADVOCACY", f"intake-{agency}-advocacy", f"advocacy.{agency}.*.*")


def sealing_consumer(agency: str) -> ConsumerSpec:
    """The dispatcher's sealing public key (#16): a node seals a Bluesky app password with it."""
    return ConsumerSpec(
        f"KV_{SEALING_BUCKET}",
        f"intake-{agency}-sealing",
        f"$KV.{SEALING_BUCKET}.{SEALING_KEY}",
        deliver_policy=DeliverPolicy.LAST_PER_SUBJECT,
    )


def agency_consumers(agency: str) -> list[ConsumerSpec]:
    """Every consumer an agency node reads through: what the hub creates and its user may use."""
    return [
        *news_consumers(agency),
        inbox_consumer(agency),
        pages_consumer(agency),
        revocations_consumer(agency),
        advisors_consumer(agency),
        saved_replies_consumer(agency),
        stories_consumer(agency),
        advocacy_consumer(agency),
        sealing_consumer(agency),
    ]
