"""Shares at the hub (issue #16 item 3): each share's `PostReceived` is checked when it reaches the
hub, and written to `advocacy_shares` (m020) with the verdict, in one transaction.

A share is `invalid` (the hub publishes `PostInvalid` on `variants.<agency>.<post_id>.invalid`, from
its outbox in that same transaction; the advisor sees it at her node and writes a new share) when:
its author is not the advocate it names; its story is unknown, not approved, expired, or in a topic
whose audience does not include the agency; or, on X, its text is near-identical
(`shared.advocacy.similarity.closest`) to another share of the same story to X that is not itself
invalid or rejected (the reason names that share and the score). The look at the other shares and
the insert are one `BEGIN IMMEDIATE` transaction: of two near-identical shares arriving together,
exactly one passes.

The approval (services/hub/service.py `Approver.decide`) waits for this verdict: an invalid share is
never decided, a valid one is approved by default or queued when the agency's `shares` policy says
so (services/hub/policy.py); the row follows (`approved`, `queued`, then a moderator's decision).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlite_utils
import structlog
from nats.js import JetStreamContext

from services.hub.outbox import Outbox
from services.hub.store import Outgoing, add_to_outbox, append_uncommitted
from shared import bus
from shared.advocacy.accounts import ADVOCATE_PREFIX, is_advocate_id
from shared.advocacy.similarity import closest
from shared.advocacy.stories import Audience
from shared.ids import utc_now
from shared.pages_mirror import PagesMirror
from shared.schemas import PostInvalid, PostReceived, decode, encode, variants_subject
from shared.sqlite_writes import write_transaction

__all__ = [
    "CONSUMER",
    "NEAR_DUPLICATE_NETWORKS",
    "SHARE_CHECKER",
    "Verdict",
    "check_share",
    "follow",
    "invalid_msg_id",
    "invalid_source",
    "is_share",
    "note_invalid",
    "set_share_status",
    "share_verdict",
]

log = structlog.get_logger("relais.hub.shares")

CONSUMER = bus.ConsumerSpec(stream="POSTS", durable="hub-shares", filter_subject="posts.*.*")
SHARE_CHECKER = "hub:share-check"  # the audit's actor of what these checks decide
NEAR_DUPLICATE_NETWORKS = ("x",)  # X treats the same text from many accounts as spam
PASSED = "received"


@dataclass(frozen=True)
class Verdict:
    status: str  # received (passed: to be decided), invalid, approved, queued, rejected
    reason: str


def is_share(author: str, pages: list[str]) -> bool:
    """Whether a rendered post is a share (its author is an advocate, or it goes to personal pages,
    `adv-…-<network>`): its approval then waits for its verdict here."""
    return is_advocate_id(author) or any(
        page.startswith(ADVOCATE_PREFIX) and is_advocate_id(page.rsplit("-", 1)[0]) for page in pages
    )


def invalid_msg_id(post_id: str) -> str:
    """The hub's `PostInvalid` of a share: its own id (the formatter's `invalid` is another fact)."""
    return f"{post_id}.invalid.share"


def invalid_source(post_id: str) -> str:
    """The audit source of a share's `invalid` entry: written with the verdict, so the PostInvalid the
    audit consumer reads back later (same source: services/hub/service.py) is not recorded twice."""
    return f"hub:share-invalid:{post_id}"


def share_verdict(db: sqlite_utils.Database, post_id: str) -> Verdict | None:
    row = db.execute("select status, reason from advocacy_shares where post_id = ?", [post_id]).fetchone()
    return Verdict(row[0], row[1] or "") if row else None


def note_invalid(db: sqlite_utils.Database, post_id: str, reasons: list[str]) -> None:
    """A share found invalid elsewhere (the formatter: a text too long) is `invalid` here too, inside
    the caller's transaction (the audit's); a share not checked yet is excluded by its audit entry."""
    db.execute(
        "update advocacy_shares set status = 'invalid', reason = ? where post_id = ?"
        " and status in ('received', 'approved', 'queued')",
        ["; ".join(reasons), post_id],
    )


def set_share_status(db: sqlite_utils.Database, post_id: str, status: str, reason: str = "") -> None:
    """A decision on a share (approved, queued, rejected), once it passed the checks."""
    with write_transaction(db):
        db.execute(
            "update advocacy_shares set status = ?, reason = ? where post_id = ? and status != 'invalid'",
            [status, reason, post_id],
        )


def _story_refusal(db: sqlite_utils.Database, post: PostReceived, region: str, now: datetime) -> str | None:
    assert post.share is not None
    story = db.execute(
        "select status, expires_at, topic from advocacy_stories where id = ?", [post.share.story]
    ).fetchone()
    if story is None:
        return f"story {post.share.story} is not one of the hub's stories"
    status, expires_at, topic_id = story
    if status != "approved":
        return f"story {post.share.story} is not approved (it is {status})"
    if datetime.fromisoformat(expires_at) <= now:
        return f"story {post.share.story} expired at {expires_at}"
    topic = db.execute("select regions, agencies from advocacy_topics where id = ?", [topic_id]).fetchone()
    if topic is None:
        return f"story {post.share.story} is in no topic the hub knows"
    audience = Audience(regions=frozenset(json.loads(topic[0])), agencies=frozenset(json.loads(topic[1])))
    if not audience.includes(post.agency, region or None):
        return f"story {post.share.story} is not offered to agency {post.agency} (its topic's audience)"
    return None


def _near_duplicate(db: sqlite_utils.Database, post: PostReceived, networks: list[str]) -> str | None:
    assert post.share is not None
    if not any(n in NEAR_DUPLICATE_NETWORKS for n in networks):
        return None
    row = db.execute("select coalesce(hashtag, '') from advocacy_stories where id = ?", [post.share.story])
    hashtag = row.fetchone()[0]
    others = [
        (other_id, text)
        for other_id, text, other_networks in db.execute(
            "select post_id, text, networks from advocacy_shares where story = ? and post_id != ?"
            " and status not in ('invalid', 'rejected')"
            # A share the formatter refused (too long for a network) is invalid too, whichever was
            # read first, its check or its `invalid` in the audit: it publishes nothing.
            " and not exists (select 1 from audit where audit.post_id = advocacy_shares.post_id"
            " and audit.event = 'invalid')",
            [post.share.story, post.post_id],
        )
        if any(n in NEAR_DUPLICATE_NETWORKS for n in json.loads(other_networks))
    ]
    match = closest(post.text, others, story_hashtag=hashtag)
    if match is None:
        return None
    return (
        f"on X this text is near-identical to share {match.share_id} of the same story (similarity"
        f" {match.score:.2f}): X treats the same text from many accounts as spam; write it in your own words"
    )


def check_share(
    db: sqlite_utils.Database, post: PostReceived, region: str, now: datetime | None = None
) -> Verdict:
    """Check a share as it reaches the hub and record it (its `PostInvalid` in the outbox when it
    fails), in one transaction; a share already recorded keeps its first verdict."""
    assert post.share is not None
    now = now or datetime.now(UTC)
    networks = list(dict.fromkeys(t.network for t in post.targets))
    with write_transaction(db):
        if (known := share_verdict(db, post.post_id)) is not None:
            return known
        reason = (
            (
                f"the share names advocate {post.share.advocate} but is written by {post.author}"
                if post.share.advocate != post.author
                else None
            )
            or _story_refusal(db, post, region, now)
            or _near_duplicate(db, post, networks)
        )
        topic = db.execute("select topic from advocacy_stories where id = ?", [post.share.story]).fetchone()
        db.table("advocacy_shares").insert(
            {
                "post_id": post.post_id,
                "story": post.share.story,
                "topic": topic[0] if topic else "",
                "advocate": post.share.advocate,
                "agency": post.agency,
                "region": region,
                "networks": json.dumps(networks),
                "text": post.text,
                "status": "invalid" if reason else PASSED,
                "reason": reason,
                "received_at": utc_now(),
            }
        )
        if reason:
            now_text = utc_now()
            invalid = PostInvalid(
                post_id=post.post_id, agency=post.agency, occurred_at=now_text, reasons=[reason]
            )
            subject = variants_subject(post.agency, post.post_id, "invalid")
            add_to_outbox(
                db,
                post.post_id,
                post.agency,
                Outgoing(subject, invalid_msg_id(post.post_id), encode(invalid)),
            )
            append_uncommitted(
                db,
                source=invalid_source(post.post_id),
                occurred_at=now_text,
                post_id=post.post_id,
                agency=post.agency,
                event="invalid",
                actor=SHARE_CHECKER,
                detail={"reasons": [reason]},
            )
    return Verdict("invalid" if reason else PASSED, reason or "")


async def follow(
    js: JetStreamContext, db: sqlite_utils.Database, mirror: PagesMirror, outbox: Outbox, stop: asyncio.Event
) -> None:
    """Check every share as it reaches the hub (posts written elsewhere are not shares: skipped)."""

    async def on_post(message: bus.Incoming) -> None:
        post = decode(message.data, PostReceived)
        if post.share is None:
            return
        plog = log.bind(post_id=post.post_id, agency=post.agency)
        if message.subject.split(".")[1] != post.agency:
            plog.error("share.forged", subject=message.subject)  # NATS pins the subject, not the body
            return
        region = mirror.region_of(post.agency)
        if region is None and not mirror.agencies():
            raise bus.Retry("the page registry is not read yet: the agency's region is unknown", delay=1.0)
        verdict = check_share(db, post, region or "")
        plog.info(
            "share.checked", story=post.share.story, advocate=post.share.advocate, status=verdict.status
        )
        if verdict.status == "invalid":
            plog.warning("share.invalid", reason=verdict.reason)
            await outbox.flush()

    await bus.consume(js, CONSUMER, on_post, stop)
