"""The hub team's saved replies at the node: a copy of the hub's catalogue, kept through the node's
durable consumer on the `saved_replies` bucket (`saved_replies_consumer`), so that advisors use them
while the link is down. Each one is checked again here (`shared.saved_replies.parse`): one the hub
should never have sent is logged and not kept."""

from __future__ import annotations

import asyncio

import msgspec
import sqlite_utils
import structlog
from nats.js import JetStreamContext

from shared import bus
from shared.agency_consumers import saved_replies_consumer
from shared.saved_replies import SavedReply, SavedReplyError, SavedReplyRecord, parse

__all__ = [
    "find_saved_reply",
    "follow_saved_replies",
    "saved_replies",
    "saved_reply_ids",
    "store_saved_reply",
]

log = structlog.get_logger("relais.intake.saved_replies")


def store_saved_reply(db: sqlite_utils.Database, record: SavedReplyRecord) -> bool:
    """Keep the reply unless a later version is here already (a redelivery, an older copy); True when
    it changed."""
    try:
        parse(record.id, record.language, record.title, record.body)
    except SavedReplyError as exc:
        log.error("saved_reply.invalid", saved_reply=record.id, field=exc.field, error=str(exc))
        return False
    with db.atomic():
        cursor = db.execute(
            "insert into saved_replies (id, language, title, body, version) values (?, ?, ?, ?, ?)"
            " on conflict (id) do update set language = excluded.language, title = excluded.title,"
            " body = excluded.body, version = excluded.version"
            " where excluded.version > saved_replies.version",
            [record.id, record.language, record.title, record.body, record.version],
        )
    return cursor.rowcount == 1


def find_saved_reply(db: sqlite_utils.Database, reply_id: str) -> SavedReply | None:
    row = db.execute("select language, title, body from saved_replies where id = ?", [reply_id]).fetchone()
    return parse(reply_id, row[0], row[1], row[2]) if row else None


def saved_replies(db: sqlite_utils.Database) -> list[SavedReply]:
    """Every saved reply the node holds, by language then title (the reply form's picker)."""
    rows = db.execute("select id, language, title, body from saved_replies order by language, title, id")
    return [parse(*row) for row in rows]


def saved_reply_ids(db: sqlite_utils.Database) -> list[str]:
    return [row[0] for row in db.execute("select id from saved_replies order by id")]


async def follow_saved_replies(
    js: JetStreamContext, db: sqlite_utils.Database, agency: str, stop: asyncio.Event
) -> None:
    async def on_reply(message: bus.Incoming) -> None:
        record = msgspec.json.decode(message.data, type=SavedReplyRecord)
        if store_saved_reply(db, record):
            log.info("saved_reply.stored", saved_reply=record.id, version=record.version)

    await bus.consume(js, saved_replies_consumer(agency), on_reply, stop)
