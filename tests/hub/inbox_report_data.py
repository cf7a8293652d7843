"""A small fixed month of the inbox and of publications in a real hub.db, written through the hub's
own store functions (the questions' clocks, a reply's publication, the audit), for the report's
tests. The figures expected of it are worked out by hand in the tests, never read from the report.

November 2026 (Paris UTC+1, Casablanca UTC+1; 1 Nov is a Sunday; holidays: 11 Nov in France, 6 and
18 Nov in Morocco):
- Lyon (fr-metropole, Monday–Friday 09:00–17:00), Mastodon:
  L1 Mon 2 Nov 10:00, answered 10:30 by a published reply;
  L2 Fri 13 Nov 16:00, answered Mon 16 Nov 10:00 (a weekend between);
  L3 Tue 10 Nov 15:00, answered Thu 12 Nov 11:00 (the holiday between; exactly at its deadline);
  L4 Tue 17 Nov 09:00, answered 15:00 (late);
  L5 Wed 18 Nov 09:00, never answered;
  and outside the month: Fri 30 Oct 10:00, and Mon 30 Nov 23:30 UTC (1 Dec 00:30 in Paris).
- Casablanca (ma, Monday–Friday 08:30–16:30), Facebook:
  C1 Wed 18 Nov 10:00 (a holiday), answered Thu 19 Nov 09:30;
  C2 Thu 19 Nov 16:00, answered Fri 20 Nov 08:45;
  C3 Sun 1 Nov 00:30 (31 Oct 23:30 UTC: November's in its zone), answered Mon 2 Nov 09:00.
- Deliveries published: Lyon's post P1 on Mastodon (twice told, 3 Nov) and on Bluesky (3 Nov), P2 on
  Mastodon (20 Nov); Casablanca's P3 on Facebook (5 Nov); outside: P4 on 1 Dec 00:00 UTC, and the
  reply R1 (not a post). Engagement: P1 Mastodon at 1h, 24h and 7d (7d counts); P1 Bluesky at 24h
  without views; P3 Facebook at 7d.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlite_utils

from services.hub.inbox_store import (
    ClockPlan,
    record_item,
    record_reply_published,
    record_response,
    remember_reply,
)
from services.hub.store import append_event
from shared.business_hours import DEFAULT_CALENDARS, deadline
from shared.schemas import DeliveryUpdated, InboxItemReceived, ReplyTo, conversation_key

PARIS, CASABLANCA = ZoneInfo("Europe/Paris"), ZoneInfo("Africa/Casablanca")
LYON, CASA = "lyon-part-dieu", "casablanca-anfa"
LYON_REGION, CASA_REGION = "auvergne-rhone-alpes", "casablanca-settat"
PAGES = {  # page: (agency, network, region, calendar)
    f"{LYON}-mastodon": (LYON, "mastodon", LYON_REGION, "fr-metropole"),
    f"{LYON}-bluesky": (LYON, "bluesky", LYON_REGION, "fr-metropole"),
    f"{CASA}-facebook": (CASA, "facebook", CASA_REGION, "ma"),
}
REPLY_POST = f"{LYON}-01JREPORTREPLY000000000001"


def _item(page: str, item_id: str, asked: datetime) -> InboxItemReceived:
    agency, network, _, _ = PAGES[page]
    return InboxItemReceived(
        post_id="",
        agency=agency,
        occurred_at=asked.astimezone(UTC).isoformat(),
        network=network,
        page=page,
        item_id=item_id,
        conversation=conversation_key(network, item_id),
        root_id=item_id,
        kind="comment",
        text="Bonjour, où en est mon dossier ?",
        created_at=asked.astimezone(UTC).isoformat(),
        via="poll",
    )


def ask(db: sqlite_utils.Database, page: str, item_id: str, asked: datetime) -> InboxItemReceived:
    """A question as the hub's inbox consumer stores it (its page's calendar and region)."""
    _, _, region, calendar_id = PAGES[page]
    calendar = DEFAULT_CALENDARS.get(calendar_id)
    item = _item(page, item_id, asked)

    def plan(start: datetime) -> ClockPlan:
        return ClockPlan(deadline(calendar, start, timedelta(hours=4)), [])

    assert record_item(db, item, asked, calendar_id, plan, region=region)
    return item


def publish(db: sqlite_utils.Database, post_id: str, page: str, at: datetime, copy: str = "") -> None:
    """A delivery's `published` as the audit consumer records it."""
    agency, network, _, _ = PAGES[page]
    append_event(
        db,
        source=f"DELIVERIES:{post_id}:{page}{copy}",
        occurred_at=at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        post_id=post_id,
        agency=agency,
        event="delivery.published",
        actor="dispatcher",
        network=network,
        page=page,
        detail={"remote_id": "1", "url": None},
    )


def measure(db: sqlite_utils.Database, post_id: str, page: str, age: str, **figures: int | None) -> None:
    agency, network, _, _ = PAGES[page]
    db.table("delivery_engagement").insert(
        {
            "post_id": post_id,
            "page": page,
            "age": age,
            "agency": agency,
            "network": network,
            "remote_id": "1",
            "measured_at": "2026-11-30T00:00:00.000000+00:00",
            **{name: figures.get(name) for name in ("likes", "shares", "replies", "views")},
        }
    )


def fill_november(db: sqlite_utils.Database) -> None:
    lyon, casa = f"{LYON}-mastodon", f"{CASA}-facebook"

    def paris(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
        return datetime(2026, month, day, hour, minute, tzinfo=PARIS)

    def casablanca(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 11, day, hour, minute, tzinfo=CASABLANCA)

    # L1, answered by a reply whose delivery is published.
    l1 = ask(db, lyon, "l1", paris(2, 10))
    remember_reply(
        db,
        REPLY_POST,
        LYON,
        "claire",
        ReplyTo(
            conversation=l1.conversation,
            network="mastodon",
            page=lyon,
            item_id="l1",
            root_id="l1",
            kind="comment",
        ),
    )
    reply = DeliveryUpdated(
        post_id=REPLY_POST,
        agency=LYON,
        occurred_at=paris(2, 10, 30).astimezone(UTC).isoformat(),
        network="mastodon",
        page=lyon,
        status="published",
        remote_id="9",
    )
    assert record_reply_published(db, reply, paris(2, 10, 30)) == "answered"
    publish(db, REPLY_POST, lyon, paris(2, 10, 30))
    for item_id, asked, answered in [
        ("l2", paris(13, 16), paris(16, 10)),
        ("l3", paris(10, 15), paris(12, 11)),
        ("l4", paris(17, 9), paris(17, 15)),
        ("l5", paris(18, 9), None),
        ("l-october", paris(30, 10, month=10), paris(30, 10, 5, month=10)),
        ("l-december", datetime(2026, 11, 30, 23, 30, tzinfo=UTC), None),
        ("c1", casablanca(18, 10), casablanca(19, 9, 30)),
        ("c2", casablanca(19, 16), casablanca(20, 8, 45)),
        ("c3", casablanca(1, 0, 30), casablanca(2, 9)),
    ]:
        item = ask(db, casa if item_id.startswith("c") else lyon, item_id, asked)
        if answered is not None:
            assert record_response(db, item.conversation, answered)

    publish(db, "P1", lyon, paris(3, 9))
    publish(db, "P1", lyon, paris(3, 9, 5), copy=":again")  # told twice: one delivery
    publish(db, "P1", f"{LYON}-bluesky", paris(3, 9))
    publish(db, "P2", lyon, paris(20, 14))
    publish(db, "P3", casa, casablanca(5, 11))
    publish(db, "P4", lyon, datetime(2026, 12, 1, tzinfo=UTC))
    measure(db, "P1", lyon, "1h", likes=1, shares=0, replies=0, views=10)
    measure(db, "P1", lyon, "7d", likes=5, shares=2, replies=1, views=120)
    measure(db, "P1", lyon, "24h", likes=3, shares=1, replies=0, views=50)
    measure(db, "P1", f"{LYON}-bluesky", "24h", likes=2, shares=0, replies=0, views=None)
    measure(db, "P3", casa, "7d", likes=10, shares=4, replies=2, views=300)
    measure(db, "P4", lyon, "7d", likes=100, shares=100, replies=100, views=100)
