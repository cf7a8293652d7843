"""Retention never weakens exactly-once: past the POSTS stream's max_age the per-subject check that
refuses a resend is gone, so the agency's relay refuses, with a reason the agency sees, to send a
post older than the longest outage that is still exactly-once, and the federation refuses, with a
reason the hub audits, a post older than POSTS's retention (real nats-server, real SQLite)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nats
from nats.js import JetStreamContext
from ulid import ULID

from services.federation.registry import parse_pages_csv
from services.federation.service import Registry, target
from services.federation.store import import_pages
from services.federation.store import open_store as open_registry
from services.intake.relay import OutboxRelay
from services.intake.store import get_post, insert_post, open_store, pending_count
from shared import bus
from shared.ids import new_post_id
from shared.retention import LONGEST_EXACTLY_ONCE_OUTAGE, STREAM_RETENTION
from shared.schemas import (
    PostInvalid,
    PostReceived,
    Target,
    decode,
    encode,
    posts_subject,
    targets_subject,
    variants_subject,
)
from tests.compose_runner import REPO

AGENCY = "lyon"
DEMO_FEDERATION = REPO / "services/federation/data/demo_federation.csv"
POSTS_AGE = timedelta(seconds=1)  # stands for the real 180 days
SHORT = {**STREAM_RETENTION, "POSTS": replace(STREAM_RETENTION["POSTS"], max_age=POSTS_AGE)}


def a_post(accepted: datetime) -> PostReceived:
    return PostReceived(
        post_id=new_post_id(AGENCY),
        agency=AGENCY,
        occurred_at=accepted.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        author="claire",
        text="Forum emploi #Lyon",
        targets=[Target("mastodon", "lyon-mastodon"), Target("bluesky", "lyon-bluesky")],
    )


async def aged_out(js: JetStreamContext) -> int:
    """Wait until POSTS holds nothing any more; its last sequence number."""
    for _ in range(100):
        state = (await js.stream_info("POSTS")).state
        if state.messages == 0:
            return state.last_seq
        await asyncio.sleep(0.1)
    raise AssertionError("POSTS kept its messages past its max_age")


async def test_past_the_posts_retention_the_stream_stores_a_resend_again(nats_url: str) -> None:
    """Why the relay needs its rule: the stream alone refuses a resend only while it remembers."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        await bus.ensure_streams(js, retention=SHORT)
        assert (await js.stream_info("POSTS")).config.max_age == POSTS_AGE.total_seconds()
        post = a_post(datetime.now(UTC))
        subject = posts_subject(AGENCY, post.post_id)
        assert await bus.publish_once(js, subject, post, post.post_id)
        assert not await bus.publish_once(js, subject, post, post.post_id)  # refused while remembered
        await aged_out(js)
        assert await bus.publish_once(js, subject, post, post.post_id)  # stored a second time
    finally:
        await nc.close()


async def test_the_relay_refuses_with_a_reason_a_post_older_than_the_exactly_once_window(
    nats_url: str, tmp_path: Path
) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    db = open_store(tmp_path / "intake.db")
    try:
        await bus.ensure_streams(js, retention=SHORT)
        # Accepted just past the promised outage; it reached the hub back then, but the relay
        # crashed before recording the acknowledgement, so the outbox still holds it unrelayed.
        old = a_post(datetime.now(UTC) - LONGEST_EXACTLY_ONCE_OUTAGE - timedelta(minutes=1))
        insert_post(db, old)
        assert await bus.publish_once(js, posts_subject(AGENCY, old.post_id), old, old.post_id)
        last_seq = await aged_out(js)  # the hub's stream has since forgotten it
        young = a_post(datetime.now(UTC))
        insert_post(db, young)

        link = bus.BusLink()
        link.nc = nc
        relay = OutboxRelay(db, link, media_dir=tmp_path / "media")
        assert await relay.drain() == 1  # the young one only: the old one does not block the queue
        assert await relay.drain() == 0

        state = (await js.stream_info("POSTS")).state
        assert (state.messages, state.last_seq) == (1, last_seq + 1)  # never the old post again
        assert (await js.get_last_msg("POSTS", posts_subject(AGENCY, young.post_id))).data
        shown = get_post(db, old.post_id)  # what GET /v1/posts/{id} answers
        assert shown is not None
        assert shown["status"] == "expired"
        assert "90 days" in shown["reason"] and "a second time" in shown["reason"]
        assert {d["status"] for d in shown["deliveries"]} == {"expired"}
        assert pending_count(db) == 0
    finally:
        await nc.close()


async def test_the_federation_refuses_with_a_reason_a_post_older_than_the_posts_retention(
    nats_url: str, tmp_path: Path
) -> None:
    """Whatever the agency node's clock or version: its post id says when it was accepted."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    registry = open_registry(tmp_path / "federation.db")
    import_pages(registry, parse_pages_csv(DEMO_FEDERATION.read_text(encoding="utf-8")))
    retention = STREAM_RETENTION["POSTS"].max_age
    assert retention is not None

    def post_accepted(accepted: datetime) -> PostReceived:
        return PostReceived(
            post_id=f"lyon-part-dieu-{ULID.from_datetime(accepted)}",
            agency="lyon-part-dieu",
            occurred_at=datetime.now(UTC).isoformat(),
            author="claire",
            text="Forum emploi #Lyon",
            targets=[Target("mastodon", "lyon-part-dieu-mastodon")],
        )

    try:
        await bus.ensure_streams(js)
        old = post_accepted(datetime.now(UTC) - retention - timedelta(days=1))
        young = post_accepted(datetime.now(UTC) - retention + timedelta(days=1))
        for post in (old, young):
            await target(js, Registry(registry), posts_subject(post.agency, post.post_id), encode(post))

        answer = await js.get_last_msg("VARIANTS", variants_subject(old.agency, old.post_id, "invalid"))
        assert answer.data is not None
        [reason] = decode(answer.data, PostInvalid).reasons  # what the hub audits, the agency shows
        assert "180 days" in reason and "not taken again" in reason
        # Never on to moderation and publication; the young one goes on as usual.
        assert (await js.stream_info("TARGETS")).state.messages == 1
        assert await js.get_last_msg("TARGETS", targets_subject(young.agency, young.post_id))
    finally:
        await nc.close()
