"""The figures read back reach the running hub's `delivery_engagement` (`relais run`'s processes:
federation, hub, nats-server), once per (post, page, age).

Policy, written by hand: the first figures stored for a (post, page, age) stand (a redelivery the bus
cannot drop, or the same read announced again, changes nothing); a figure the network does not give
stays null, never 0; a message whose subject does not name its body's agency, post and age is not
stored; figures are never audited (measurements, not anyone's action); `GET /v1/posts/{post_id}`
shows each delivery's figures, youngest age first."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import UTC, datetime
from typing import Any

import nats

from shared import bus
from shared.schemas import EngagementMeasured, engagement_msg_id, engagement_subject
from tests.harness import RelaisSystem, eventually

LYON = "lyon-part-dieu"
PAGE = f"{LYON}-mastodon"
SETTLE_S = 1.5


def read(post_id: str, age: str, likes: int, **rest: Any) -> EngagementMeasured:
    now = datetime.now(UTC).isoformat()
    fields: dict[str, Any] = {"shares": 2, "replies": 1, "views": None} | rest
    return EngagementMeasured(
        post_id=post_id,
        agency=LYON,
        occurred_at=now,
        network="mastodon",
        page=PAGE,
        remote_id="110000000000000007",
        age=age,
        measured_at=now,
        likes=likes,
        **fields,
    )


def stored(system: RelaisSystem) -> list[dict[str, Any]]:
    with sqlite3.connect(f"file:{system.data_dir / 'hub.db'}?mode=ro", uri=True, timeout=10) as db:
        db.row_factory = sqlite3.Row
        return [dict(row) for row in db.execute("select * from delivery_engagement order by post_id, age")]


def audited(system: RelaisSystem) -> list[str]:
    with sqlite3.connect(f"file:{system.data_dir / 'hub.db'}?mode=ro", uri=True, timeout=10) as db:
        return [str(row[0]) for row in db.execute("select event from audit where event like 'engagement%'")]


def test_each_read_is_stored_once_the_first_figures_stand_and_nothing_is_audited(
    relais: RelaisSystem,
) -> None:
    status, accepted = relais.post(
        {"text": "Offre : cariste H/F #emploi", "networks": ["mastodon"]}, agency=LYON
    )
    assert status == 202, accepted
    post_id = accepted["id"]
    eventually(lambda: (view := relais.hub_post(post_id)) and view["deliveries"], timeout=30)
    first, later = read(post_id, "1h", likes=3), read(post_id, "1h", likes=99)
    mislabelled = read("post-2", "24h", likes=5)

    async def publish() -> None:
        nc = await nats.connect(relais.nats_url)
        try:
            js = nc.jetstream()
            await bus.ensure_streams(js)
            subject = engagement_subject(LYON, post_id, "1h")
            await bus.publish(js, subject, first, engagement_msg_id(post_id, PAGE, "1h"))
            await bus.publish(js, subject, first, "a copy from another path")
            await bus.publish(js, subject, later, "the same age read again")
            # The body says post-2 at 24h, the subject another post: not stored.
            await bus.publish(js, engagement_subject(LYON, "post-3", "24h"), mislabelled, "mislabelled")
            await bus.publish(js, engagement_subject(LYON, post_id, "7d"), read(post_id, "7d", 8), "7d")
        finally:
            await nc.close()

    asyncio.run(publish())
    eventually(lambda: len(stored(relais)) == 2, timeout=30)
    time.sleep(SETTLE_S)

    rows = stored(relais)
    assert [(r["post_id"], r["page"], r["age"], r["likes"]) for r in rows] == [
        (post_id, PAGE, "1h", 3),
        (post_id, PAGE, "7d", 8),
    ]
    assert (rows[0]["shares"], rows[0]["replies"], rows[0]["views"]) == (2, 1, None)
    assert (rows[0]["agency"], rows[0]["network"], rows[0]["remote_id"]) == (
        LYON,
        "mastodon",
        "110000000000000007",
    )
    assert rows[0]["measured_at"] == first.measured_at
    assert audited(relais) == []
    # Not refused by an audit reader either (it has no entry for figures, and would retry forever).
    assert "EngagementMeasured" not in relais.processes["hub"].log_path.read_text(errors="replace")
    view = relais.hub_post(post_id)
    assert view is not None
    [delivery] = view["deliveries"]
    assert delivery["page"] == PAGE
    assert delivery["engagement"] == [
        {"age": "1h", "measured_at": first.measured_at, "likes": 3, "shares": 2, "replies": 1, "views": None},
        {
            "age": "7d",
            "measured_at": rows[1]["measured_at"],
            "likes": 8,
            "shares": 2,
            "replies": 1,
            "views": None,
        },
    ]
