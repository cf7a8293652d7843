"""The advocacy stories offered to this agency, at its node (issue #16): a copy of the hub's offers,
kept through the node's durable consumer on the `advocacy_stories` bucket (`stories_consumer`: this
agency's keys only), so that advisors see them while the link is down. `GET /v1/stories` lists the
ones offered now (approved at the hub, not withdrawn, not expired), each with its link as each
network will carry it from this agency (`shared.advocacy.links`).

An offer replaces the one kept only when it comes later in the bucket's stream (a redelivery of an
older value never undoes a withdrawal).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlite_utils
import structlog
from aiohttp import web
from nats.js import JetStreamContext

from services.intake.api_types import OfferedStoryList
from services.intake.handlers import claims_for_agency
from services.intake.keys import DATABASE, SETTINGS
from shared import bus
from shared.advocacy.links import tag_link
from shared.advocacy.stories import ADVOCACY_NETWORKS, OfferedStory
from shared.agency_consumers import stories_consumer
from shared.api_contract import typed_json

__all__ = ["add_routes", "follow_stories", "offered_stories", "store_offer"]

log = structlog.get_logger("relais.intake.stories")


def store_offer(db: sqlite_utils.Database, offer: OfferedStory, sequence: int) -> bool:
    """Keep the offer (or its withdrawal) unless a later one is here; True when it changed."""
    with db.atomic():
        cursor = db.execute(
            "insert into offered_stories (id, record, offered, expires_at, sequence) values (?, ?, ?, ?, ?)"
            " on conflict (id) do update set record = excluded.record, offered = excluded.offered,"
            " expires_at = excluded.expires_at, sequence = excluded.sequence"
            " where excluded.sequence > offered_stories.sequence",
            [offer.id, msgspec.json.encode(offer).decode(), int(offer.offered), offer.expires_at, sequence],
        )
    return cursor.rowcount == 1


def offered_stories(db: sqlite_utils.Database, now: datetime) -> list[OfferedStory]:
    """What the agency's advisors are offered at `now`, newest first."""
    rows = db.execute("select record from offered_stories where offered = 1 order by id desc").fetchall()
    offers = [msgspec.json.decode(row[0], type=OfferedStory) for row in rows]
    return [offer for offer in offers if datetime.fromisoformat(offer.expires_at) > now]


def _view(offer: OfferedStory, agency: str) -> dict[str, Any]:
    view = msgspec.structs.asdict(offer)
    del view["offered"]  # only offered stories are listed
    view["links"] = {
        n: tag_link(offer.link, network=n, story_id=offer.id, agency=agency) for n in ADVOCACY_NETWORKS
    }
    return view


async def list_stories(request: web.Request) -> web.Response:
    claims_for_agency(request)
    agency = request.app[SETTINGS].agency
    offers = offered_stories(request.app[DATABASE], datetime.now(UTC))
    return typed_json({"stories": [_view(offer, agency) for offer in offers]}, OfferedStoryList)


async def follow_stories(
    js: JetStreamContext, db: sqlite_utils.Database, agency: str, stop: asyncio.Event
) -> None:
    async def on_offer(message: bus.Incoming) -> None:
        offer = msgspec.json.decode(message.data, type=OfferedStory)
        if store_offer(db, offer, message.sequence):
            log.info("story.stored", agency=agency, story=offer.id, offered=offer.offered)

    await bus.consume(js, stories_consumer(agency), on_offer, stop)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/stories", list_stories)
