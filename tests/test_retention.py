"""Retention limits: declared once (`shared.retention`), long enough for exactly-once across the
longest promised outage, and brought to an existing deployment's streams and buckets by the
hub side's ordinary declarations (real nats-server)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import nats
from nats.js.api import DiscardPolicy, ObjectStoreConfig, StreamConfig

from shared import bus
from shared.retention import (
    KV_RETENTION,
    LONGEST_EXACTLY_ONCE_OUTAGE,
    MEDIA_RETENTION,
    STREAM_RETENTION,
)
from shared.schemas import PAGES_BUCKET, STREAMS

# What an agency node's exactly-once depends on after an outage (by hand, from the README):
# POSTS and SECURITY refuse a resend by the subject already holding its message; DECISIONS,
# DELIVERIES and VARIANTS are read by the node's durable consumers when it comes back; its media
# are read by the dispatcher for as long as its post may still be published.
OUTLIVE_THE_OUTAGE = {"POSTS", "SECURITY", "DECISIONS", "DELIVERIES", "VARIANTS"}


def test_every_stream_has_limits_and_agency_facing_ones_outlive_the_longest_outage() -> None:
    assert LONGEST_EXACTLY_ONCE_OUTAGE == timedelta(days=90)
    assert set(STREAM_RETENTION) == set(STREAMS)
    for name, retention in STREAM_RETENTION.items():
        assert retention.max_age is not None and retention.max_bytes > 0 and retention.reason, name
    for name in OUTLIVE_THE_OUTAGE:
        assert STREAM_RETENTION[name].max_age > LONGEST_EXACTLY_ONCE_OUTAGE, name  # type: ignore[operator]
    assert (
        MEDIA_RETENTION.max_age is not None and MEDIA_RETENTION.max_age >= STREAM_RETENTION["POSTS"].max_age
    )
    assert KV_RETENTION.max_age is None  # current pages and revoked tokens must never expire


async def test_an_existing_deployment_gets_the_limits_and_fixed_media_subjects(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        # As the previous version left things: no limits, and a media bucket an agency made itself,
        # over another agency's objects and every heartbeat.
        await js.add_stream(StreamConfig(name="POSTS", subjects=["posts.*.*"], deny_delete=True))
        await js.publish("posts.lyon.lyon-1", b"{}")
        await js.create_object_store("media-lyon", ObjectStoreConfig(bucket="media-lyon"))
        await (await js.object_store("media-lyon")).put("lyon-affiche", b"affiche")
        await js.update_stream(
            (await js.stream_info("OBJ_media-lyon")).config.evolve(
                subjects=["$O.media-lyon.C.>", "$O.media-lyon.M.>", "$O.media-rennes.>", "agencies.>"]
            )
        )
        kv = await js.create_key_value(bucket=PAGES_BUCKET, history=1)
        await kv.put("lyon.lyon-x", b"page")

        await bus.ensure_streams(js)
        await bus.ensure_media_bucket(js, "lyon")
        await bus.ensure_key_value(js, PAGES_BUCKET)

        posts = await js.stream_info("POSTS")
        assert posts.config.max_age == STREAM_RETENTION["POSTS"].max_age_seconds
        assert posts.config.max_bytes == STREAM_RETENTION["POSTS"].max_bytes
        assert posts.config.discard == DiscardPolicy.NEW
        assert posts.state.messages == 1  # nothing lost on the way
        media = (await js.stream_info("OBJ_media-lyon")).config
        assert sorted(media.subjects or []) == ["$O.media-lyon.C.>", "$O.media-lyon.M.>"]
        assert (media.max_age, media.max_bytes) == (
            MEDIA_RETENTION.max_age_seconds,
            MEDIA_RETENTION.max_bytes,
        )
        assert (await (await js.object_store("media-lyon")).get("lyon-affiche")).data == b"affiche"
        pages = (await js.stream_info(f"KV_{PAGES_BUCKET}")).config
        assert (pages.max_bytes, pages.max_age) == (KV_RETENTION.max_bytes, 0)
        assert (await (await js.key_value(PAGES_BUCKET)).get("lyon.lyon-x")).value == b"page"
    finally:
        await nc.close()


def test_the_readme_table_says_what_the_code_declares() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Retention", 1)[1].split("\n\n", 2)[2].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ")]

    def row(name: str) -> str:
        [found] = [line for line in rows if name in line.split("|")[1]]
        return found

    for name, retention in STREAM_RETENTION.items():
        assert retention.max_age is not None
        assert f"| {retention.max_age.days} days |" in row(name), name
    assert MEDIA_RETENTION.max_age is not None
    assert f"| {MEDIA_RETENTION.max_age.days} days | 1 GiB each |" in row("media-<agency>")
    assert MEDIA_RETENTION.max_bytes == 1024**3
    assert "| none | 0.25 GiB |" in row("key-value") and KV_RETENTION.max_bytes == 1024**3 // 4
    assert f"**{LONGEST_EXACTLY_ONCE_OUTAGE.days} days**" in readme
