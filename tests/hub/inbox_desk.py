"""The hub's inbox for tests: the real hub app (tests/hub/conftest.py `live_hub`), its page registry
mirror fed through the real `pages` bucket, its INBOX consumer reading from the real nats-server, and
a clock the test sets (`Inbox.now`) so that hours of business time pass at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec

from services.hub.inbox import CONSUMER, Inbox
from services.hub.keys import INBOX, MIRROR
from shared import bus
from shared.schemas import (
    PAGES_BUCKET,
    InboxAssigned,
    InboxItemReceived,
    PageRecord,
    conversation_key,
    inbox_msg_id,
    inbox_subject,
    page_key,
)
from tests.hub.hub_app import Hub

LYON, RENNES, SAINT_DENIS = "lyon-part-dieu", "rennes-sud", "saint-denis"
PAGES = {
    f"{LYON}-mastodon": (LYON, "auvergne-rhone-alpes", "fr-metropole"),
    f"{RENNES}-mastodon": (RENNES, "bretagne", "fr-metropole"),
    # The page's own zone is Paris's (as a national team may register it): the calendar's runs the clock.
    f"{SAINT_DENIS}-mastodon": (SAINT_DENIS, "la-reunion", "fr-reunion"),
}


@dataclass
class Desk:
    hub: Hub
    inbox: Inbox
    clock: list[datetime]  # the inbox's current time is clock[0]

    def set_time(self, instant: datetime) -> None:
        self.clock[0] = instant

    async def publish(self, item: InboxItemReceived, msg_id: str | None = None) -> None:
        """As the dispatcher (polling) or the hub's webhooks publish it; `msg_id` another de-dup id
        (a copy the stream does not recognise: past its window, or from another path)."""
        subject = inbox_subject(item.agency, item.conversation, "received")
        await bus.publish(self.hub.js, subject, item, msg_id or inbox_msg_id(item.network, item.item_id))

    async def assign(self, assigned: InboxAssigned, subject: str | None = None) -> None:
        subject = subject or inbox_subject(assigned.agency, assigned.conversation, "assigned")
        await bus.publish(self.hub.js, subject, assigned, f"{subject}.{assigned.occurred_at}")

    async def stored(self, table: str, count: int, where: str = "1", within: float = 10.0) -> None:
        """Wait until the consumer has stored `count` rows (the bus is asynchronous)."""
        loop = asyncio.get_running_loop()
        until = loop.time() + within
        while self.hub.db.execute(f"select count(*) from {table} where {where}").fetchone()[0] != count:
            assert loop.time() < until, f"{table} never had {count} rows where {where}"
            await asyncio.sleep(0.05)

    async def escalated_subjects(self) -> dict[str, int]:
        info = await self.hub.js.stream_info("INBOX", subjects_filter="inbox.*.*.escalated")
        return dict(info.state.subjects or {})


def question(
    page: str, item_id: str, created_at: datetime, text: str = "Bonjour, où en est mon dossier ?", **more: str
) -> InboxItemReceived:
    agency = PAGES[page][0]
    root = more.pop("root_id", item_id)
    return InboxItemReceived(
        post_id="",
        agency=agency,
        occurred_at=datetime.now(UTC).isoformat(),
        network="mastodon",
        page=page,
        item_id=item_id,
        conversation=conversation_key("mastodon", root),
        root_id=root,
        kind="mention",
        text=text,
        created_at=created_at.astimezone(UTC).isoformat(),
        via=more.pop("via", "poll"),
        **more,  # type: ignore[arg-type]
    )


def assignment(
    item: InboxItemReceived, assignee: str, at: datetime, agency: str | None = None
) -> InboxAssigned:
    return InboxAssigned(
        post_id="",
        agency=agency or item.agency,
        occurred_at=at.astimezone(UTC).isoformat(),
        conversation=item.conversation,
        network=item.network,
        page=item.page,
        assignee=assignee,
        by="claire",
    )


@contextlib.asynccontextmanager
async def inbox_desk(hub: Hub, now: datetime) -> AsyncIterator[Desk]:
    kv = await bus.ensure_key_value(hub.js, PAGES_BUCKET)
    for page, (agency, region, calendar) in PAGES.items():
        record = PageRecord(
            page=page,
            network="mastodon",
            handle=f"ft_{agency}",
            agency=agency,
            region=region,
            department="00",
            timezone="Europe/Paris",
            credentials_ref=f"sandbox/{page}",
            calendar=calendar,
        )
        await kv.put(page_key(agency, page), msgspec.json.encode(record))
    app = hub.client.app
    inbox = app[INBOX]
    clock = [now]
    inbox.now = lambda: clock[0]
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(app[MIRROR].follow(hub.js, stop)),
        asyncio.create_task(bus.consume(hub.js, CONSUMER, inbox.handle, stop)),
    ]
    try:
        await asyncio.wait_for(app[MIRROR].loaded.wait(), 10)
        yield Desk(hub, inbox, clock)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
