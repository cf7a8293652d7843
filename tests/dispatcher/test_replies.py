"""Replies through the real dispatcher (issue #15 item 4): an approved reply variant is sent once with
the network's reply API, under the item it answers, even when the dispatcher is SIGKILLed after the
call landed and before its outcome was stored; a reply left in doubt where the network cannot read
answers back waits for a person; a reply to a network without the reply capability fails at once, in
words. Checked on what the sandbox received.

The policy, written by hand: one post per reply on the network, replying to the item (Mastodon
`in_reply_to_id`, Bluesky `reply.parent`, X `reply.in_reply_to_tweet_id`); the delivery `published`
with the network's id of that post; after a kill mid-call, the restarted dispatcher reconciles
(`find_reply`) and finds it rather than answering again; a private answer lost on the way (Messenger,
Telegram: their APIs cannot read a chat back) is `unconfirmed` and dead-lettered, never sent again
on its own, and sent again at once by a person's retry, while on Mastodon (a private message is a
`direct` status in a thread the page reads) it is looked up and found, not sent twice; Threads has
no reply capability: `failed`, nothing sent, an error that says so.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import msgspec
import nats

from shared.schemas import DeliveryUpdated, ReplyTo, conversation_key
from tests.dispatcher.conftest import FleetFactory
from tests.dispatcher.fleet import DeliveryFleet, Page, make_pages
from tests.dispatcher.test_delivery import command
from tests.harness import eventually, http

REPLYING = ("mastodon", "bluesky", "x")


def ask(fleet: DeliveryFleet, page: Page, text: str, *, private: bool = False) -> ReplyTo:
    """A person writes to the page (in private: a Mastodon `direct` status); the reply that answers it."""
    body = {
        "network": page.network,
        "account": page.handle,
        "texts": [text],
        "author": "ana",
        "private": private,
    }
    status, answer = http("POST", f"{fleet.sandbox_url}/_sandbox/incoming", body)
    assert status == 201, answer
    item_id = answer["items"][0]["item_id"]
    return ReplyTo(
        conversation=conversation_key(page.network, item_id),
        network=page.network,
        page=page.page,
        item_id=item_id,
        root_id=item_id,
        kind="message" if private else "mention",
    )


def answers(fleet: DeliveryFleet, replies: dict[str, ReplyTo]) -> dict[str, list[dict[str, Any]]]:
    """What the sandbox received under each item answered, by page."""
    received = fleet.received()
    return {page: [p for p in received if p["reply_to"] == reply.item_id] for page, reply in replies.items()}


def announced(fleet: DeliveryFleet, post_id: str) -> list[DeliveryUpdated]:
    """The post's `published` announcements on the bus (what the hub resolves a conversation on)."""

    async def read() -> list[DeliveryUpdated]:
        nc = await nats.connect(fleet.nats_url)
        found = []
        try:
            subject = f"deliveries.*.{post_id}.published"
            sub = await nc.jetstream().subscribe(subject, ordered_consumer=True)
            while True:
                try:
                    msg = await sub.next_msg(timeout=1)
                except nats.errors.TimeoutError:
                    break
                found.append(msgspec.json.decode(msg.data, type=DeliveryUpdated))
        finally:
            await nc.close()
        return found

    return asyncio.run(read())


def events(fleet: DeliveryFleet) -> list[dict[str, Any]]:
    """The services' JSON log lines."""
    lines = (line for line in fleet.logs().splitlines() if line.startswith("{"))
    return [json.loads(line) for line in lines]


def texts_for(pages: list[Page]) -> dict[str, list[str]]:
    return {p.page: [f"Bonjour, l'atelier CV a lieu jeudi à 14 h ({p.page})."] for p in pages}


def test_an_approved_reply_is_sent_once_under_the_item(fleet_factory: FleetFactory) -> None:
    pages = make_pages(1, REPLYING)
    fleet = fleet_factory(pages)
    replies = {p.page: ask(fleet, p, "Quand a lieu l'atelier CV ?") for p in pages}
    texts = texts_for(pages)

    fleet.approve("reply-1", "agence-000", pages, texts, replies=replies)
    fleet.approve("reply-1", "agence-000", pages, texts, replies=replies, copy=1)  # redelivered
    rows = fleet.wait_settled(len(pages))

    under = answers(fleet, replies)
    for page in pages:
        row = rows[f"reply-1.{page.network}.{page.page}"]
        [sent] = under[page.page]
        # Mastodon names the author it answers (it notifies only the accounts a status mentions).
        text = ("@ana@citoyens.example " if page.network == "mastodon" else "") + texts[page.page][0]
        assert (row["status"], sent["text"], sent["account"]) == (
            "published",
            text,
            page.handle,
        )
        assert row["remote_id"] == sent["remote_id"]
    received = fleet.received()
    assert Counter(p["network"] for p in received) == Counter(REPLYING)
    updates = eventually(lambda: (found := announced(fleet, "reply-1")) and len(found) >= 3 and found)
    assert sorted((u.network, u.page, u.remote_id) for u in updates) == sorted(
        (p.network, p.page, rows[f"reply-1.{p.network}.{p.page}"]["remote_id"]) for p in pages
    )
    assert {u.reply for u in updates} == {True}  # a shard taking the page over never reads its figures
    bluesky = next(p for p in received if p["network"] == "bluesky")
    refs = bluesky["body"]["record"]["reply"]
    assert refs["parent"]["uri"] == refs["root"]["uri"] == replies[pages[1].page].item_id
    x = next(p for p in received if p["network"] == "x")
    assert x["body"]["reply"] == {"in_reply_to_tweet_id": replies[pages[2].page].item_id}
    mastodon = next(p for p in received if p["network"] == "mastodon")
    assert mastodon["body"]["in_reply_to_id"] == replies[pages[0].page].item_id
    assert mastodon["idempotency_key"] == f"reply-1.mastodon.{pages[0].page}"


def test_a_reply_is_sent_exactly_once_when_the_dispatcher_dies_after_the_call_landed(
    fleet_factory: FleetFactory,
) -> None:
    # A call timeout long enough for the kill to come first: the restarted dispatcher reconciles
    # once an interrupted call could no longer land (that timeout after its start).
    pages = make_pages(1, REPLYING)
    fleet = fleet_factory(pages, RELAIS_DISPATCHER_HTTP_TIMEOUT="6")
    replies = {p.page: ask(fleet, p, "Où se passe le forum ?") for p in pages}
    for page in pages:  # the network stores the reply, then keeps the caller waiting
        fleet.arm(page.network, page.handle, "timeout_after_create", seconds=60)

    fleet.approve("reply-k", "agence-000", pages, texts_for(pages), replies=replies)

    def landed_and_in_flight() -> bool:
        rows = fleet.deliveries()
        sent = answers(fleet, replies)
        in_flight = len(rows) == len(pages) and all(r["status"] == "publishing" for r in rows.values())
        return in_flight and all(len(sent[p.page]) == 1 for p in pages)

    eventually(landed_and_in_flight, timeout=30, interval=0.1)
    fleet.kill("dispatcher")  # SIGKILL: the calls landed, their outcomes were never stored
    fleet.start("dispatcher")
    rows = fleet.wait_settled(len(pages), timeout=60)

    under = answers(fleet, replies)
    for page in pages:
        row = rows[f"reply-k.{page.network}.{page.page}"]
        [sent] = under[page.page]
        assert (row["status"], row["remote_id"]) == ("published", sent["remote_id"]), (page, row)
        assert row["attempts"] == 2, row  # the claim before the kill, the reconciliation after it
    assert len(fleet.received()) == len(pages)
    reconciled = [e for e in events(fleet) if e.get("event") == "delivery.published" and e.get("reconciled")]
    assert sorted(e["network"] for e in reconciled) == sorted(REPLYING)


def test_a_reply_that_cannot_be_sent_fails_at_once_in_words(fleet_factory: FleetFactory) -> None:
    threads, mastodon = make_pages(1, ("threads", "mastodon"))
    fleet = fleet_factory([threads, mastodon])
    nowhere = ReplyTo(
        conversation=conversation_key("threads", "1789"),
        network="threads",
        page=threads.page,
        item_id="1789",
        root_id="1789",
        kind="mention",
    )
    replies = {threads.page: nowhere, mastodon.page: ask(fleet, mastodon, "Bonjour ?")}
    texts = {threads.page: ["Bonjour, c'est jeudi."], mastodon.page: ["Bonjour,", "c'est jeudi."]}

    fleet.approve("reply-t", "agence-000", [threads, mastodon], texts, replies=replies)
    rows = fleet.wait_settled(2)

    no_replies = rows[f"reply-t.threads.{threads.page}"]
    assert no_replies["status"] == "failed" and no_replies["attempts"] == 1
    message = json.loads(no_replies["error"])["message"]
    assert "Relais cannot answer people on Threads" in message and "no reply capability" in message
    two_parts = rows[f"reply-t.mastodon.{mastodon.page}"]
    assert two_parts["status"] == "failed"
    assert "a reply is sent as one part, this one has 2" in json.loads(two_parts["error"])["message"]
    assert fleet.received() == []


def test_a_private_answer_left_in_doubt_waits_for_a_person(fleet_factory: FleetFactory) -> None:
    pages = make_pages(1, ("facebook", "telegram"))
    fleet = fleet_factory(pages)
    replies = {}
    for page in pages:  # a person wrote to the page privately (Messenger, the bot's chat)
        body = {
            "network": page.network,
            "account": page.handle,
            "kind": "message",
            "texts": ["Mon dossier ?"],
        }
        status, answer = http("POST", f"{fleet.sandbox_url}/_sandbox/audience", body)
        assert status == 201, answer
        [item] = answer["items"]
        replies[page.page] = ReplyTo(
            conversation=conversation_key(page.network, item["root_id"]),
            network=page.network,
            page=page.page,
            item_id=item["id"],
            root_id=item["root_id"],
            kind="message",
        )
        # The network takes the message, then never answers (longer than the call timeout).
        fleet.arm(page.network, page.handle, "timeout_after_create", seconds=30)

    fleet.approve("reply-m", "agence-000", pages, texts_for(pages), replies=replies)
    rows = fleet.wait_settled(len(pages), timeout=60)

    for page in pages:
        row = rows[f"reply-m.{page.network}.{page.page}"]
        assert (row["status"], row["dead"]) == ("unconfirmed", 1), row
        assert "cannot be read back" in json.loads(row["error"])["message"], row
    assert Counter(p["network"] for p in fleet.received()) == Counter({"facebook": 1, "telegram": 1})

    # A person checked the chats and found no answer: their retry sends it (nothing to look up first).
    for page in pages:
        command(fleet.nats_url, "reply-m", page, "retry")

    def sent_again() -> bool:
        rows = fleet.deliveries()
        return all(rows[f"reply-m.{p.network}.{p.page}"]["status"] == "published" for p in pages)

    eventually(sent_again, timeout=30)
    assert Counter(p["network"] for p in fleet.received()) == Counter({"facebook": 2, "telegram": 2})


def test_a_private_answer_in_doubt_on_mastodon_is_looked_up_and_found(fleet_factory: FleetFactory) -> None:
    [page] = make_pages(1, ("mastodon",))
    fleet = fleet_factory([page], RELAIS_DISPATCHER_HTTP_TIMEOUT="3")
    replies = {page.page: ask(fleet, page, "Mon dossier est-il complet ?", private=True)}
    fleet.arm(page.network, page.handle, "timeout_after_create", seconds=30)

    fleet.approve("reply-d", "agence-000", [page], texts_for([page]), replies=replies)
    rows = fleet.wait_settled(1, timeout=60)

    row = rows[f"reply-d.mastodon.{page.page}"]
    [sent] = answers(fleet, replies)[page.page]
    assert (row["status"], row["dead"], row["remote_id"]) == ("published", 0, sent["remote_id"]), row
    assert sent["body"]["visibility"] == "direct"
    assert len(fleet.received()) == 1
