"""Bringing the hub's news back to the agency: page registry, decisions, delivery results, and
its inbox (services/intake/inbox_follower.py).

Everything arrives through durable JetStream consumers filtered on this agency
(`shared.agency_consumers`, made by the hub side), so what happened while the agency was offline
is applied when it reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
import nats.errors
import nats.js.errors
import sqlite_utils
import structlog
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from services.intake.advocacy_relay import follow_advocacy, follow_sealing_key
from services.intake.inbox_follower import follow_inbox
from services.intake.inbox_store import resolve
from services.intake.saved_replies import follow_saved_replies
from services.intake.security import revoke_locally
from services.intake.store import (
    awaits_decision,
    delete_page,
    edit_text,
    expire_deliveries,
    has_delivery,
    insert_announced,
    pending_count,
    reply_of,
    set_post_status,
    update_delivery,
    upsert_page,
)
from services.intake.stories import follow_stories
from shared import bus
from shared.accounts import AdvisorAccount, store_advisor
from shared.agency_consumers import advisors_consumer, news_consumers, pages_consumer, revocations_consumer
from shared.ids import utc_now
from shared.schemas import (
    AgencyHeartbeat,
    DeliveryUpdated,
    PageRecord,
    PostAnnounced,
    PostApproved,
    PostEdited,
    PostExpired,
    PostInvalid,
    PostQueued,
    PostRejected,
    PostScheduled,
    decode_any,
    heartbeat_subject,
)

log = structlog.get_logger("relais.intake.follower")


# A delivery result for a post this node never hears of (a bug upstream) stops being retried.
UNKNOWN_POST_ATTEMPTS = 60
# A result for one of the node's own posts waits this many deliveries for its approval to be applied
# here, then is applied anyway: a slow decisions consumer must not hide a publication.
DECISION_WAIT_ATTEMPTS = 30


def apply_event(
    db: sqlite_utils.Database, subject: str, data: bytes, *, wait_for_decision: bool = True
) -> None:
    event = decode_any(subject, data)
    plog = log.bind(post_id=event.post_id, agency=event.agency)
    match event:
        case PostInvalid():
            set_post_status(db, event.post_id, "invalid", "; ".join(event.reasons))
            plog.info("post.invalid", reasons=event.reasons)
        case PostRejected():
            set_post_status(db, event.post_id, "rejected", event.reason)
            plog.info("post.rejected", reason=event.reason)
        case PostQueued():
            set_post_status(db, event.post_id, "awaiting_approval")
            plog.info("post.awaiting_approval", pages=len(event.pages))
        case PostApproved():
            set_post_status(db, event.post_id, "publishing")
            plog.info("post.approved", by=event.approved_by)
        case PostEdited():
            edit_text(db, event.post_id, event.text)
            plog.info("post.edited", by=event.edited_by, revision=event.revision)
        case PostScheduled():
            set_post_status(db, event.post_id, "scheduled")
            plog.info("post.scheduled", publish_at=event.publish_at)
        case PostExpired():
            expire_deliveries(db, event.post_id, event.pages, event.reason)
            plog.info("post.expired", pages=event.pages, reason=event.reason)
        case PostAnnounced():
            if insert_announced(db, event):
                plog.info("post.announced", origin=event.origin_agency, pages=len(event.targets))
        case DeliveryUpdated():
            if not has_delivery(db, event.post_id, event.page):
                # Its campaign's announcement comes on another consumer and may not be applied yet:
                # acking now would lose the result for good.
                raise bus.Retry("delivery of a post not known here yet", delay=1.0)
            if wait_for_decision and awaits_decision(db, event.post_id, event.agency):
                # The approval, and a moderator's edit before it, come through the decisions consumer:
                # applied first, « Publiée » never shows the advisor's words the moderator replaced.
                raise bus.Retry("delivery of a post whose approval is not applied here yet", delay=1.0)
            error = msgspec.to_builtins(event.error) if event.error else None
            parts = [msgspec.to_builtins(p) for p in event.parts]
            if update_delivery(
                db,
                event.post_id,
                event.page,
                event.status,
                event.remote_id,
                event.url,
                error,
                parts,
                event.throttled_until,
            ):
                plog.info("delivery.updated", page=event.page, status=event.status)
            if event.status == "published":
                _resolve_if_reply(db, event, plog)


def _resolve_if_reply(
    db: sqlite_utils.Database, event: DeliveryUpdated, plog: structlog.typing.FilteringBoundLogger
) -> None:
    """A reply written here is published: its conversation is resolved (as at the hub)."""
    reply_to = reply_of(db, event.post_id)
    if (
        reply_to is not None
        and reply_to.page == event.page
        and resolve(db, reply_to.conversation, event.post_id, event.occurred_at)
    ):
        plog.info("inbox.resolved", conversation=reply_to.conversation, page=event.page)


async def follow(nc: NATS, db: sqlite_utils.Database, agency: str, stop: asyncio.Event) -> None:
    js = nc.jetstream()

    async def on_event(message: bus.Incoming) -> None:
        try:
            apply_event(
                db, message.subject, message.data, wait_for_decision=message.attempt <= DECISION_WAIT_ATTEMPTS
            )
        except bus.Retry:
            if message.attempt < UNKNOWN_POST_ATTEMPTS:
                raise
            log.error("delivery.unknown_post", subject=message.subject, attempts=message.attempt)

    async with asyncio.TaskGroup() as group:
        group.create_task(sync_pages(js, db, agency, stop))
        group.create_task(heartbeat(nc, db, agency, stop))
        group.create_task(sync_revocations(js, db, agency, stop))
        group.create_task(sync_advisors(js, db, agency, stop))
        group.create_task(follow_inbox(js, db, agency, stop))
        group.create_task(follow_saved_replies(js, db, agency, stop))
        group.create_task(follow_stories(js, db, agency, stop))
        group.create_task(follow_advocacy(js, db, agency, stop))
        group.create_task(follow_sealing_key(js, db, agency, stop))
        for spec in news_consumers(agency):
            group.create_task(bus.consume(js, spec, on_event, stop))


async def sync_pages(
    js: JetStreamContext, db: sqlite_utils.Database, agency: str, stop: asyncio.Event
) -> None:
    """Keep a local copy of this agency's pages, so posts can be checked while offline.

    A durable consumer on the bucket's stream, filtered on this agency's keys (rather than a KV
    watch, which would need the right to read every agency's pages).
    """

    async def on_page(message: bus.Incoming) -> None:
        page = message.subject.rsplit(".", 1)[1]
        operation = (message.headers or {}).get("KV-Operation")
        if operation in ("DEL", "PURGE") or not message.data:
            delete_page(db, page)
            return
        upsert_page(db, msgspec.json.decode(message.data, type=PageRecord), message.data)

    await bus.consume(js, pages_consumer(agency), on_page, stop)


async def heartbeat(
    nc: NATS, db: sqlite_utils.Database, agency: str, stop: asyncio.Event, every: float = 5.0
) -> None:
    """Tell the hub this node is alive (core NATS: a lost heartbeat is simply the next one)."""
    while not stop.is_set():
        if nc.is_connected:
            beat = AgencyHeartbeat(agency=agency, sent_at=utc_now(), outbox_pending=pending_count(db))
            with contextlib.suppress(nats.errors.Error):
                await nc.publish(heartbeat_subject(agency), msgspec.json.encode(beat))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


async def sync_revocations(
    js: JetStreamContext, db: sqlite_utils.Database, agency: str, stop: asyncio.Event
) -> None:
    """Keep a local list of revoked tokens, so they stay refused while the link is down."""

    async def on_revoked(message: bus.Incoming) -> None:
        token_id = message.subject.rsplit(".", 1)[1]
        revoke_locally(db, token_id, message.data.decode() or utc_now())
        log.info("token.revoked", token_id=token_id, agency=agency)

    await bus.consume(js, revocations_consumer(agency), on_revoked, stop)


async def sync_advisors(
    js: JetStreamContext, db: sqlite_utils.Database, agency: str, stop: asyncio.Event
) -> None:
    """Keep a local copy of this agency's advisor accounts (argon2 hashes), so advisors sign in here
    while the link is down; a disabled account's sessions end as soon as the news arrives."""

    async def on_account(message: bus.Incoming) -> None:
        account = msgspec.json.decode(message.data, type=AdvisorAccount)
        if account.agency != agency or account.role != "advisor":  # the hub's key says ours: a bug upstream
            log.error(
                "advisor.not_ours", agency=agency, account_agency=account.agency, username=account.username
            )
            return
        if store_advisor(db, account):
            log.info("advisor.stored", agency=agency, username=account.username, disabled=account.disabled)

    await bus.consume(js, advisors_consumer(agency), on_account, stop)
