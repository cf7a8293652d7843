"""The published posts' figures at the hub (issue #15 item 6): every `EngagementMeasured` the
dispatcher announces, read from the ENGAGEMENT stream by the durable consumer `hub-engagement` into
`delivery_engagement` (one row per post, page and age; m017).

The first figures stored for a (post, page, age) stand: a redelivery, or the same read announced again
after a crash, changes nothing. Figures are not audited (the ENGAGEMENT stream has no audit reader,
service.py): they are measurements of the networks, not decisions or actions of anyone, arrive three
times for every delivery, and carry nothing a person could dispute later; the row keeps when it was
measured.
"""

from __future__ import annotations

import asyncio

import sqlite_utils
import structlog
from nats.js import JetStreamContext

from shared import bus
from shared.schemas import ENGAGEMENT_AGES, EngagementMeasured, decode, engagement_subject
from shared.sqlite_writes import write_transaction

__all__ = ["CONSUMER", "figures_by_page", "follow", "record"]

log = structlog.get_logger("relais.hub.engagement")

CONSUMER = bus.ConsumerSpec(stream="ENGAGEMENT", durable="hub-engagement", filter_subject="engagement.*.*.*")


def record(db: sqlite_utils.Database, subject: str, data: bytes) -> bool:
    """Store one read's figures unless that (post, page, age) has some; False when nothing was
    stored (already there, or a message whose subject does not say what its body does)."""
    event = decode(data, EngagementMeasured)
    where = {"post_id": event.post_id, "agency": event.agency, "page": event.page, "network": event.network}
    if event.age not in ENGAGEMENT_AGES or subject != engagement_subject(
        event.agency, event.post_id, event.age
    ):
        log.warning("engagement.refused", **where, subject=subject, age=event.age)
        return False
    with write_transaction(db):
        stored = db.execute(
            "insert or ignore into delivery_engagement (post_id, page, age, agency, network, remote_id,"
            " measured_at, likes, shares, replies, views) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                *(event.post_id, event.page, event.age, event.agency, event.network, event.remote_id),
                *(event.measured_at, event.likes, event.shares, event.replies, event.views),
            ],
        ).rowcount
    if stored:
        log.info("engagement.recorded", **where, age=event.age, measured_at=event.measured_at)
    return bool(stored)


def figures_by_page(db: sqlite_utils.Database, post_id: str) -> dict[str, list[dict[str, object]]]:
    """A post's figures read back, by page, youngest age first (`GET /v1/posts/{post_id}`)."""
    rows = db.execute(
        "select page, age, measured_at, likes, shares, replies, views from delivery_engagement"
        " where post_id = ?",
        [post_id],
    ).fetchall()
    order = list(ENGAGEMENT_AGES)
    pages: dict[str, list[dict[str, object]]] = {}
    for page, age, measured_at, likes, shares, replies, views in sorted(
        rows, key=lambda row: (row[0], order.index(row[1]) if row[1] in order else len(order))
    ):
        figures = {"likes": likes, "shares": shares, "replies": replies, "views": views}
        pages.setdefault(page, []).append({"age": age, "measured_at": measured_at, **figures})
    return pages


async def follow(js: JetStreamContext, db: sqlite_utils.Database, stop: asyncio.Event) -> None:
    async def on_message(message: bus.Incoming) -> None:
        record(db, message.subject, message.data)

    await bus.consume(js, CONSUMER, on_message, stop)
