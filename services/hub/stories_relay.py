"""Approved stories leave the hub for the nodes of the agencies their topic is offered to, and no
other (issue #16 items 1 and 3): through the `advocacy_stories` bucket, one key per (agency, story)
(`shared.advocacy.stories.story_key`), each node reading its own agency's keys through a consumer
the hub side creates (shared/agency_consumers.py), as advisors' accounts travel. So a restricted
topic's stories never reach another agency's node, and advocates see their stories offline.

Every second the hub compares what should be offered (approved, unexpired stories; the agencies of
the page registry that each topic's audience includes) with what it put, and puts the difference: a
new or changed offer, or a withdrawal (`offered` False) where a story expired or its topic no longer
includes the agency. After a restart it reads the bucket's keys first, so withdrawals survive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
import nats.js.errors
import sqlite_utils
import structlog
from nats.js import JetStreamContext

from shared import bus
from shared.advocacy.stories import STORIES_BUCKET, Audience, OfferedStory, story_key
from shared.pages_mirror import PagesMirror

__all__ = ["offers", "publish_stories"]

log = structlog.get_logger("relais.hub.stories")

PUBLISH_EVERY = 1.0  # seconds between looks (an approval reaches the nodes within this)


def offers(db: sqlite_utils.Database, agencies: dict[str, str], now: datetime) -> dict[str, OfferedStory]:
    """What should be offered now, by bucket key: each approved, unexpired story to each agency (of
    `agencies`, agency -> region) its topic's audience includes."""
    topics = {row["id"]: row for row in db.execute_returning_dicts("select * from advocacy_topics")}
    stories = db.execute_returning_dicts("select * from advocacy_stories where status = 'approved'")
    wanted: dict[str, OfferedStory] = {}
    for story in stories:
        topic = topics.get(story["topic"])
        if topic is None or datetime.fromisoformat(story["expires_at"]) <= now:
            continue
        audience = Audience(
            regions=frozenset(json.loads(topic["regions"])), agencies=frozenset(json.loads(topic["agencies"]))
        )
        offer = _offer(story, topic)
        for agency, region in agencies.items():
            if audience.includes(agency, region):
                wanted[story_key(agency, story["id"])] = offer
    return wanted


def _offer(story: dict[str, Any], topic: dict[str, Any]) -> OfferedStory:
    return OfferedStory(
        id=story["id"],
        topic=story["topic"],
        topic_titles=json.loads(topic["titles"]),
        required=bool(topic["required"]),
        link=story["link"],
        texts=json.loads(story["texts"]),
        hashtag=story["hashtag"] or None,
        media=json.loads(story["media"]),
        expires_at=story["expires_at"],
    )


async def publish_stories(
    js: JetStreamContext,
    db: sqlite_utils.Database,
    mirror: PagesMirror,
    stop: asyncio.Event,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    kv = await bus.ensure_key_value(js, STORIES_BUCKET)
    put: dict[str, bytes] = {}  # key -> the value last put (after a restart: what the bucket holds)
    with contextlib.suppress(nats.js.errors.NoKeysError):
        for key in await kv.keys():
            entry = await kv.get(key)
            put[key] = entry.value or b""
    while not (mirror.loaded.is_set() or stop.is_set()):  # no agency known yet would withdraw every offer
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.2)
    while not stop.is_set():
        wanted = {
            key: msgspec.json.encode(offer) for key, offer in offers(db, mirror.agencies(), clock()).items()
        }
        for key, value in wanted.items():
            if put.get(key) != value:
                await kv.put(key, value)
                put[key] = value
                log.info("story.offered", agency=key.split(".", 1)[0], story=key.split(".", 1)[1])
        for key in [k for k in put if k not in wanted]:
            withdrawn = _withdrawal(put[key])
            if withdrawn is not None and withdrawn != put[key]:
                await kv.put(key, withdrawn)
                log.info("story.withdrawn", agency=key.split(".", 1)[0], story=key.split(".", 1)[1])
            put[key] = withdrawn or put[key]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PUBLISH_EVERY)


def _withdrawal(value: bytes) -> bytes | None:
    """The offer `value`, withdrawn (None when it cannot be read: nothing to withdraw)."""
    try:
        offer = msgspec.json.decode(value, type=OfferedStory)
    except msgspec.DecodeError:
        return None
    return msgspec.json.encode(msgspec.structs.replace(offer, offered=False))
