"""The dispatcher reads what people send its Mastodon, Bluesky and X pages and puts each item on the bus
once, masked.

Real NATS, sandbox, federation and dispatcher processes; the people are the sandbox's generator
(`/_sandbox/incoming`). What is expected is the inbox's policy, written here by hand:
- every item is announced once on `inbox.<agency>.<conversation>.received` (a plain subscriber
  counts every publish, even one JetStream would drop) and kept once in the ledger, however often
  the network lists it (two notifications of one status, the whole list again);
- a citizen's identifiers (a NIR with a valid key, a phone number, an e-mail address) are masked
  before anything is written or sent: they are nowhere in the bus's messages, in the ledger's
  files or in the dispatcher's log;
- a reply to a Relais delivery carries that post's id, and a reply to that reply too, in the
  same conversation; a mention starts its own;
- a rate limit, server errors, a cursor naming a deleted notification and a dispatcher killed
  between storing and publishing lose nothing and repeat nothing.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from shared.schemas import conversation_key, inbox_subject
from tests.dispatcher.conftest import FleetFactory
from tests.dispatcher.fleet import DeliveryFleet, make_pages
from tests.dispatcher.inbox_kit import (
    BusTap,
    generate,
    ledger_bytes,
    ledger_inbox,
    notify_again,
    outbox_size,
    purge,
)
from tests.harness import eventually, http

POLL = {"RELAIS_INBOX_POLL_SECONDS": "0.3"}
# A NIR whose key is right (97 - 2951099126111 mod 97 = 93), a mobile number, an address.
IDENTIFIERS = ("2 95 10 99 126 111 93", "06 12 34 56 78", "jean.dupont@example.fr")
CITIZEN = (
    f"Bonjour, mon numéro de sécu est {IDENTIFIERS[0]}, appelez-moi au {IDENTIFIERS[1]}"
    f" ou écrivez à {IDENTIFIERS[2]}"
)
MASKED = "Bonjour, mon numéro de sécu est ⟦nir⟧, appelez-moi au ⟦phone⟧ ou écrivez à ⟦email⟧"
SETTLE_S = 1.5  # several reads after the last item: time for a repeat to show, were there one


def dispatcher_log(fleet: DeliveryFleet) -> list[dict[str, Any]]:
    path = fleet.processes["dispatcher"].log_path
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if line.startswith("{")]


def events(fleet: DeliveryFleet, name: str) -> list[dict[str, Any]]:
    return [line for line in dispatcher_log(fleet) if line.get("event") == name]


def epoch(moment: str) -> float:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()


def part_ids(fleet: DeliveryFleet) -> list[str]:
    """The parts of the ledger's one delivery, as published."""
    with sqlite3.connect(f"file:{fleet.data_dir / 'dispatcher.db'}?mode=ro", uri=True, timeout=10) as db:
        [row] = db.execute("select part_ids from deliveries").fetchall()
    ids: list[str] = json.loads(row[0])
    return ids


def cursor(fleet: DeliveryFleet, page: str) -> str | None:
    with sqlite3.connect(f"file:{fleet.data_dir / 'dispatcher.db'}?mode=ro", uri=True, timeout=10) as db:
        try:
            row = db.execute("select cursor from inbox_cursors where page = ?", [page]).fetchone()
        except sqlite3.OperationalError:
            return None
    return row[0] if row else None


def assert_once(tap: BusTap, fleet: DeliveryFleet, expected: list[str]) -> None:
    on_bus = Counter(message.item_id for _, message in tap.messages())
    kept = Counter(row["item_id"] for row in ledger_inbox(fleet))
    assert on_bus == Counter(expected), on_bus
    assert kept == Counter(expected), kept


def test_each_item_reaches_the_bus_once_masked_and_attached_to_its_post(fleet_factory: FleetFactory) -> None:
    [page] = make_pages(1, ["mastodon"])
    fleet = fleet_factory([page], **POLL)
    with BusTap(fleet.nats_url) as tap:
        fleet.approve("post-1", page.agency, [page], {page.page: ["Forum emploi jeudi à Lyon"]})
        [delivery] = fleet.wait_settled(1).values()
        ours = delivery["remote_id"]
        [mention] = generate(fleet, page.handle, texts=[CITIZEN])
        replies = generate(
            fleet, page.handle, texts=["Où est le forum ?", "Faut-il un CV ?"], reply_to=ours, duplicates=1
        )
        [nested] = generate(fleet, page.handle, texts=["Et à quelle heure ?"], reply_to=replies[0]["item_id"])
        expected = [mention["item_id"], replies[0]["item_id"], replies[1]["item_id"], nested["item_id"]]
        eventually(lambda: len(tap.messages()) >= len(expected), timeout=30)
        # The network lists every item once more: read, and dropped by the key.
        again = notify_again(fleet, page.handle)
        eventually(lambda: cursor(fleet, page.page) == again[-1]["notification_id"], timeout=30)
        time.sleep(SETTLE_S)

        assert_once(tap, fleet, expected)
        received = {message.item_id: (subject, message) for subject, message in tap.messages()}
        stored = {row["item_id"]: row for row in ledger_inbox(fleet)}

    subject, first = received[mention["item_id"]]
    assert (first.kind, first.post_id, first.root_id, first.parent_id) == ("mention", "", first.item_id, None)
    assert first.conversation == conversation_key("mastodon", first.item_id)
    assert subject == inbox_subject(page.agency, first.conversation, "received")
    assert (first.agency, first.page, first.network) == (page.agency, page.page, "mastodon")
    assert first.via == "poll"
    assert first.text == f"@{page.handle} {MASKED}"
    assert first.masked == ["nir", "phone", "email"]
    assert stored[first.item_id]["text"] == first.text and stored[first.item_id]["masked"] == first.masked

    thread = conversation_key("mastodon", ours)
    for reply in replies:
        _, message = received[reply["item_id"]]
        assert (message.kind, message.post_id) == ("reply", "post-1")
        assert (message.parent_id, message.root_id) == (ours, ours)
        assert (message.remote_post_id, message.conversation) == (ours, thread)
        assert stored[reply["item_id"]]["post_id"] == "post-1"
    _, answer = received[nested["item_id"]]
    assert (answer.kind, answer.post_id, answer.parent_id) == ("reply", "post-1", replies[0]["item_id"])
    assert (answer.conversation, answer.root_id, answer.remote_post_id) == (thread, ours, ours)

    log = fleet.processes["dispatcher"].log_path.read_bytes()
    bus, ledger = tap.raw(), ledger_bytes(fleet)
    for value in IDENTIFIERS:
        for form in (value, value.replace(" ", "")):
            assert form.encode() not in bus and form.encode() not in ledger and form.encode() not in log
    lines = events(fleet, "inbox.item_received")
    assert Counter(line["item"] for line in lines) == Counter(expected)  # logged once, as announced
    where = {(line["agency"], line["page"], line["network"]) for line in lines}
    assert where == {(page.agency, page.page, "mastodon")}


@pytest.mark.parametrize("network", ["bluesky", "x"])
def test_other_networks_items_reach_the_bus_once_masked_and_attached_to_their_post(
    fleet_factory: FleetFactory, network: str
) -> None:
    [page] = make_pages(1, [network])
    fleet = fleet_factory([page], **POLL)
    with BusTap(fleet.nats_url) as tap:
        fleet.approve("post-1", page.agency, [page], {page.page: ["1/2 Forum emploi", "2/2 jeudi à Lyon"]})
        [delivery] = fleet.wait_settled(1).values()
        ours = delivery["remote_id"]
        on = {"network": network}
        [mention] = generate(fleet, page.handle, texts=[CITIZEN], **on)
        reply, _ = generate(fleet, page.handle, texts=["Où ?"], reply_to=ours, duplicates=1, **on)
        [nested] = generate(fleet, page.handle, texts=["Salle 2 ?"], reply_to=reply["item_id"], **on)
        [to_second] = generate(fleet, page.handle, texts=["Et jeudi ?"], reply_to=part_ids(fleet)[1], **on)
        expected = [mention["item_id"], reply["item_id"], nested["item_id"], to_second["item_id"]]
        eventually(lambda: len(tap.messages()) >= len(expected), timeout=30)
        notify_again(fleet, page.handle, network)
        time.sleep(SETTLE_S)

        assert_once(tap, fleet, expected)
        received = {message.item_id: message for _, message in tap.messages()}
    first = received[mention["item_id"]]
    assert (first.kind, first.post_id, first.network, first.via) == ("mention", "", network, "poll")
    assert first.text.endswith(
        "Bonjour, mon numéro de sécu est ⟦nir⟧, appelez-moi au ⟦phone⟧ ou écrivez à ⟦email⟧"
    )
    assert first.masked == ["nir", "phone", "email"]
    thread = conversation_key(network, ours)
    for item in (reply, nested, to_second):  # the second part's thread is the first's
        message = received[item["item_id"]]
        assert (message.kind, message.post_id, message.conversation) == ("reply", "post-1", thread)
    bus, ledger = tap.raw(), ledger_bytes(fleet)
    for value in IDENTIFIERS:
        assert value.encode() not in bus and value.encode() not in ledger


def test_linkedin_comments_on_a_delivery_carry_its_post_and_an_unreadable_cursor_loses_nothing(
    fleet_factory: FleetFactory,
) -> None:
    """LinkedIn reads comments post by post: the reader names the page's deliveries. A cursor this
    version cannot read (`CursorExpired`) is read again from nothing: no item lost, none repeated."""
    [page] = make_pages(1, ["linkedin"])
    fleet = fleet_factory([page], **POLL)
    with BusTap(fleet.nats_url) as tap:
        fleet.approve("post-1", page.agency, [page], {page.page: ["Forum emploi jeudi"]})
        [delivery] = fleet.wait_settled(1).values()
        first = write_linkedin_comments(fleet, page.handle, delivery["remote_id"], [CITIZEN, "Où ?"])
        eventually(lambda: len(tap.messages()) >= 2, timeout=30)
        fleet.stop_only("dispatcher")
        with sqlite3.connect(fleet.data_dir / "dispatcher.db") as db:
            db.execute("update inbox_cursors set cursor = 'written by another version'")
        later = write_linkedin_comments(fleet, page.handle, delivery["remote_id"], ["Et à quelle heure ?"])
        fleet.start("dispatcher")
        eventually(lambda: len(tap.messages()) >= 3, timeout=30)
        time.sleep(SETTLE_S)

        assert_once(tap, fleet, [item["comment_urn"] for item in (*first, *later)])
        messages = [message for _, message in tap.messages()]
    assert {(m.post_id, m.remote_post_id, m.kind) for m in messages} == {
        ("post-1", delivery["remote_id"], "comment")
    }
    assert messages[0].text == MASKED and messages[0].masked == ["nir", "phone", "email"]
    assert len(events(fleet, "inbox.cursor_expired")) == 1


def write_linkedin_comments(
    fleet: DeliveryFleet, organization: str, post: str, texts: list[str]
) -> list[Any]:
    status, answer = http(
        "POST",
        f"{fleet.sandbox_url}/_sandbox/linkedin/comments",
        {"account": organization, "post": post, "texts": texts},
    )
    assert status == 201, answer
    items: list[Any] = answer["items"]
    return items


def test_every_page_is_read_when_reads_cannot_keep_up_with_the_interval(fleet_factory: FleetFactory) -> None:
    """Two read slots, forty pages, a tenth of a second: the longest overdue page goes first, so the
    last page of the registry is read too (in registry order, the first ones took every slot)."""
    pages = make_pages(40, ["mastodon"])
    fleet = fleet_factory(pages, RELAIS_INBOX_POLL_SECONDS="0.1", RELAIS_DISPATCHER_CONCURRENCY="2")
    with BusTap(fleet.nats_url) as tap:
        made = [item for page in (pages[-1], pages[-2]) for item in generate(fleet, page.handle, count=1)]
        eventually(lambda: len(tap.messages()) >= len(made), timeout=20)
        assert_once(tap, fleet, [item["item_id"] for item in made])


def test_a_read_rate_limit_on_x_holds_the_page_s_reads_and_no_publication(
    fleet_factory: FleetFactory,
) -> None:
    """X limits each endpoint apart (its mentions' reads, its posts): a read's 429 holds the page's
    reads until the reset it named, and a post to that page goes at once."""
    [page] = make_pages(1, ["x"])
    fleet = fleet_factory([page], **POLL)
    with BusTap(fleet.nats_url) as tap:
        first = generate(fleet, page.handle, network="x", count=1)  # read, before any fault
        eventually(lambda: len(tap.messages()) == 1, timeout=30)
        fleet.arm("x", page.handle, "rate_limit", seconds=3, on="read_comments")
        made = generate(fleet, page.handle, network="x", count=1)
        eventually(lambda: events(fleet, "inbox.throttled"), timeout=30)
        fleet.approve("post-1", page.agency, [page], {page.page: ["Forum emploi"]})
        eventually(lambda: len(tap.messages()) >= 2 and events(fleet, "delivery.published"), timeout=30)
        time.sleep(SETTLE_S)

        assert_once(tap, fleet, [item["item_id"] for item in (*first, *made)])
    [limited] = events(fleet, "inbox.throttled")
    reset = epoch(limited["until"])
    [published] = events(fleet, "delivery.published")
    assert epoch(published["timestamp"]) < reset  # not held by the read's 429
    received = {line["item"]: epoch(line["timestamp"]) for line in events(fleet, "inbox.item_received")}
    assert received[made[0]["item_id"]] >= reset  # the reads waited for the reset


def test_a_rate_limit_and_server_errors_delay_items_without_losing_or_repeating_one(
    fleet_factory: FleetFactory,
) -> None:
    [page] = make_pages(1, ["mastodon"])
    fleet = fleet_factory([page], **POLL)
    with BusTap(fleet.nats_url) as tap:
        fleet.arm("mastodon", page.handle, "rate_limit", seconds=3, on="read_comments")
        throttled = generate(fleet, page.handle, count=3)
        eventually(lambda: events(fleet, "inbox.throttled"), timeout=30)
        # Reads and posts share the page's buckets (Mastodon counts them together): a post waits too.
        fleet.approve("post-1", page.agency, [page], {page.page: ["Forum emploi"]})
        eventually(lambda: len(tap.messages()) >= 3, timeout=30)
        fleet.arm("mastodon", page.handle, "server_error", times=3, on="read_comments")
        failed = generate(fleet, page.handle, count=2)
        eventually(lambda: len(tap.messages()) >= 5, timeout=30)
        time.sleep(SETTLE_S)

        assert_once(tap, fleet, [item["item_id"] for item in (*throttled, *failed)])
    [limited] = events(fleet, "inbox.throttled")
    assert (limited["page"], limited["agency"], limited["code"]) == (page.page, page.agency, "429")
    assert 2 <= limited["seconds"] <= 3
    [published] = events(fleet, "delivery.published")
    # The post waited for the same reset: its bucket took it from the answer's headers, a moment apart.
    assert epoch(published["timestamp"]) >= epoch(limited["until"]) - 0.5
    errors = events(fleet, "inbox.read_failed")
    assert len(errors) == 3
    assert {(e["kind"], e["code"], e["page"]) for e in errors} == {("transient", "503", page.page)}
    assert events(fleet, "inbox.read_crashed") == []
    assert fleet.processes["dispatcher"].alive


def test_a_cursor_naming_deleted_notifications_loses_nothing(fleet_factory: FleetFactory) -> None:
    """Mastodon compares ids: the page after a deleted notification's id is still the right one."""
    [page] = make_pages(1, ["mastodon"])
    fleet = fleet_factory([page], **POLL)
    with BusTap(fleet.nats_url) as tap:
        before = generate(fleet, page.handle, count=2)
        eventually(lambda: cursor(fleet, page.page) == before[-1]["notification_id"], timeout=30)
        purge(fleet, page.handle, [item["notification_id"] for item in before])
        after = generate(fleet, page.handle, count=3)
        eventually(lambda: len(tap.messages()) >= 5, timeout=30)
        time.sleep(SETTLE_S)

        assert_once(tap, fleet, [item["item_id"] for item in (*before, *after)])


def test_a_dispatcher_killed_between_storing_and_publishing_publishes_each_item_once(
    fleet_factory: FleetFactory,
) -> None:
    [page] = make_pages(1, ["mastodon"])
    fleet = fleet_factory([page], **POLL)
    with BusTap(fleet.nats_url) as tap:
        # Ready is not "knows the page": one item through first, or the bus could stop before the
        # dispatcher's mirror of the pages has this one (it did, on a loaded machine).
        first = generate(fleet, page.handle, count=1)
        eventually(lambda: len(tap.messages()) == 1, timeout=30)
        fleet.stop_only("nats")  # stored, the items cannot be published yet
        made = generate(fleet, page.handle, count=3)
        eventually(lambda: len(ledger_inbox(fleet)) == 4 and outbox_size(fleet) >= 3, timeout=30)
        fleet.kill("dispatcher")
        assert len(tap.messages()) == 1
        fleet.start("nats")
        tap.wait_subscribed()  # it would miss what the dispatcher publishes before it is back
        fleet.start("dispatcher")
        eventually(lambda: len(tap.messages()) >= 4, timeout=30)
        time.sleep(SETTLE_S)

        assert_once(tap, fleet, [item["item_id"] for item in first + made])
        assert outbox_size(fleet) == 0
