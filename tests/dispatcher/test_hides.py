"""Hiding comments through the real dispatcher (issue #15 item 5): the hub's `InboxHideOrdered` is
carried out once with the network's moderation API by the shard that owns the page, and its outcome
(`InboxItemHidden`) is announced once, even when the dispatcher is SIGKILLed after the call landed
and before its outcome was stored.

The policy, written by hand (services/dispatcher/hides.py): the comment leaves the public listing of
the emulator; an order heard twice is one row and one announcement (`Nats-Msg-Id`
`hide:<network>:<item_id>`); after a kill mid-call the restarted dispatcher calls again (re-hiding is
harmless on these networks) and announces once; a deleted comment or a network without
`hide_comments` is `failed` with an `ErrorReport` in words and never a token.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import msgspec
import nats

from services.dispatcher.settings import ledger_name
from services.dispatcher.shards import Shard
from shared import bus
from shared.ids import utc_now
from shared.schemas import InboxHideOrdered, InboxItemHidden, conversation_key, inbox_subject
from tests.dispatcher.conftest import FleetFactory
from tests.dispatcher.fleet import DeliveryFleet, Page, make_pages
from tests.dispatcher.test_replies import events
from tests.harness import eventually, http


def comment(fleet: DeliveryFleet, page: Page, text: str = "Mon NIR est [NIR masqué]") -> dict[str, Any]:
    body = {"network": page.network, "account": page.handle, "kind": "comment", "texts": [text]}
    status, answer = http("POST", f"{fleet.sandbox_url}/_sandbox/audience", body)
    assert status == 201, answer
    item: dict[str, Any] = answer["items"][0]
    return item


def public(fleet: DeliveryFleet, page: Page) -> list[str]:
    status, answer = http("GET", f"{fleet.sandbox_url}/_sandbox/audience/{page.network}/{page.handle}")
    assert status == 200, answer
    return [item["id"] for item in answer["items"]]


def order(fleet: DeliveryFleet, page: Page, item: dict[str, Any], copy: int = 0) -> InboxHideOrdered:
    """The hub's order to hide `item`, published `copy`+1-th time under its own message id."""
    ordered = InboxHideOrdered(
        post_id="",
        agency=page.agency,
        occurred_at=utc_now(),
        conversation=conversation_key(page.network, item["root_id"]),
        network=page.network,
        page=page.page,
        item_id=item["id"],
        by="moderatrice",
    )

    async def publish() -> None:
        nc = await nats.connect(fleet.nats_url)
        try:
            js = nc.jetstream()
            await bus.ensure_streams(js)
            subject = inbox_subject(page.agency, ordered.conversation, "hide")
            await bus.publish(js, subject, ordered, f"hide-order:{page.network}:{item['id']}:{copy}")
        finally:
            await nc.close()

    asyncio.run(publish())
    return ordered


def announced(fleet: DeliveryFleet) -> list[InboxItemHidden]:
    async def read() -> list[InboxItemHidden]:
        nc = await nats.connect(fleet.nats_url)
        found = []
        try:
            sub = await nc.jetstream().subscribe("inbox.*.*.hidden", ordered_consumer=True)
            while True:
                try:
                    msg = await sub.next_msg(timeout=0.5)
                except nats.errors.TimeoutError:
                    break
                found.append(msgspec.json.decode(msg.data, type=InboxItemHidden))
        finally:
            await nc.close()
        return found

    return asyncio.run(read())


def hides(fleet: DeliveryFleet, ledger: str = "dispatcher.db") -> dict[str, dict[str, Any]]:
    database = fleet.data_dir / ledger
    if not database.exists():
        return {}
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as db:
        db.row_factory = sqlite3.Row
        try:
            rows = db.execute("select * from hides").fetchall()
        except sqlite3.OperationalError:
            return {}
    return {row["item_id"]: dict(row) for row in rows}


def test_an_order_heard_twice_hides_once_and_is_announced_once(fleet_factory: FleetFactory) -> None:
    pages = make_pages(1, ("facebook", "instagram"))
    fleet = fleet_factory(pages)
    shown = {p.page: comment(fleet, p, "Bonjour") for p in pages}
    items = {p.page: comment(fleet, p) for p in pages}

    for page in pages:
        order(fleet, page, items[page.page])
        order(fleet, page, items[page.page], copy=1)  # the hub asked again: the same item

    # Until both pages' orders are in the ledger, each hidden (an order heard later comes in later).
    wanted = sorted(i["id"] for i in items.values())
    rows = eventually(
        lambda: (
            (r := hides(fleet))
            and sorted(r) == wanted
            and all(x["status"] == "hidden" for x in r.values())
            and r
        )
    )
    assert all(row["attempts"] == 1 for row in rows.values())
    for page in pages:
        assert public(fleet, page) == [shown[page.page]["id"]]
    said = eventually(lambda: (found := announced(fleet)) and len(found) >= 2 and found)
    assert sorted((m.network, m.page, m.item_id, m.outcome, m.agency) for m in said) == sorted(
        (p.network, p.page, items[p.page]["id"], "hidden", p.agency) for p in pages
    )
    assert all(m.error is None for m in said)


def test_the_shard_that_owns_the_page_hides_it_and_no_other(fleet_factory: FleetFactory) -> None:
    pages = make_pages(6, ("facebook",))
    layout = Shard.parse("1/2")
    assert {layout.owner(p.network, p.page) for p in pages} == {1, 2}  # both shards have pages
    fleet = fleet_factory(pages, shards=2)
    items = {p.page: comment(fleet, p) for p in pages}

    for page in pages:
        order(fleet, page, items[page.page])

    said = eventually(lambda: (found := announced(fleet)) and len(found) >= len(pages) and found, timeout=15)
    assert sorted(m.item_id for m in said) == sorted(i["id"] for i in items.values())
    assert all(m.outcome == "hidden" for m in said)
    for number in (1, 2):
        kept = hides(fleet, ledger_name(number))
        owned = {items[p.page]["id"] for p in pages if layout.owner(p.network, p.page) == number}
        assert set(kept) == owned and all(r["status"] == "hidden" for r in kept.values()), number
    assert all(public(fleet, page) == [] for page in pages)


def test_a_hide_is_announced_once_when_the_dispatcher_dies_after_the_call_landed(
    fleet_factory: FleetFactory,
) -> None:
    [page] = make_pages(1, ("facebook",))
    fleet = fleet_factory([page], RELAIS_DISPATCHER_HTTP_TIMEOUT="6")
    item = comment(fleet, page)
    fleet.arm(page.network, page.handle, "timeout_after_create", seconds=60)  # hides, then never answers

    order(fleet, page, item)

    def landed_and_in_flight() -> bool:
        row = hides(fleet).get(item["id"])
        return row is not None and row["status"] == "calling" and public(fleet, page) == []

    eventually(landed_and_in_flight, timeout=15, interval=0.05)
    fleet.kill("dispatcher")  # SIGKILL: the comment is hidden, the outcome never stored
    fleet.start("dispatcher")

    row = eventually(lambda: (r := hides(fleet).get(item["id"])) and r["status"] == "hidden" and r)
    assert row["attempts"] == 2  # the call before the kill, the harmless one after it
    assert public(fleet, page) == []
    said = eventually(lambda: announced(fleet))
    assert [(m.item_id, m.outcome) for m in said] == [(item["id"], "hidden")]
    assert any(e.get("event") == "hide.resumed_after_interruption" for e in events(fleet))


def test_a_hide_that_cannot_be_done_fails_in_words_without_a_token(fleet_factory: FleetFactory) -> None:
    facebook, mastodon = make_pages(1, ("facebook", "mastodon"))
    fleet = fleet_factory([facebook, mastodon])
    deleted = comment(fleet, facebook)
    status, _ = http("DELETE", f"{fleet.sandbox_url}/_sandbox/audience/facebook/{deleted['id']}")
    assert status == 200
    toot = {"id": "110000000000000001", "root_id": "110000000000000001"}

    order(fleet, facebook, deleted)
    order(fleet, mastodon, toot)
    nowhere = Page(mastodon.agency, "myspace", mastodon.page, mastodon.handle)  # no such network
    order(fleet, nowhere, {"id": "42", "root_id": "42"})

    rows = eventually(
        lambda: (r := hides(fleet)) and len(r) == 3 and all(x["status"] == "failed" for x in r.values()) and r
    )
    assert rows[deleted["id"]]["attempts"] == 1 and rows[toot["id"]]["attempts"] == 0
    found = eventually(lambda: (f := announced(fleet)) and len(f) == 3 and f)
    said = {m.item_id: m for m in found}
    gone, never = said[deleted["id"]], said[toot["id"]]
    assert gone.outcome == never.outcome == "failed"
    assert gone.error is not None and gone.error.network_code == "100/33"
    assert "no longer shows" in gone.error.message
    assert never.error is not None and never.error.network_code == "no_hide_comments"
    assert "Relais cannot hide comments on Mastodon" in never.error.message
    unknown = said["42"]
    assert unknown.error is not None and unknown.error.network_code == "no_hide_comments"
    for message in said.values():
        assert "sbx-" not in msgspec.json.encode(message).decode()  # no token, in any form
    assert "sbx-facebook" not in fleet.logs()
