"""A reply across the running system (issue #15 item 4): nats-server with its real users, federation,
hub and Lyon's node as `relais run` starts them, Lyon's link to the hub through a proxy the test
cuts, and the formatter; the dispatcher's part (sending the reply) is played by the test.

The policy, written by hand: a reply written while the node is offline is stored (202) and waits;
when the link returns it is relayed once, targeted to its conversation's page only, rendered as one
part keeping what it answers, and approved by the policy (or held by a `moderated` replies policy
until a moderator approves it), each once; when its delivery is published (the dispatcher's side,
published here by the test), the hub's conversation is resolved with its clock stopped, audited as
`inbox.answered` once, and the node's conversation is resolved too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import nats
import pytest

from shared import bus
from shared.ids import utc_now
from shared.schemas import (
    DeliveryUpdated,
    InboxItemReceived,
    Message,
    PostApproved,
    conversation_key,
    deliveries_subject,
    inbox_msg_id,
    inbox_subject,
)
from tests.harness import RelaisSystem, eventually, http

LYON = "lyon-part-dieu"
PAGE = f"{LYON}-mastodon"


@pytest.fixture
def relais(tmp_path: Path) -> Iterator[RelaisSystem]:
    """The hub side and Lyon's node, without the dispatcher (what it says of a reply, the test says)
    nor the sandbox."""
    system = RelaisSystem(tmp_path, agencies=[LYON], proxied=True)
    system.start_links()
    try:
        system.start("nats", "federation", "formatter", "hub", f"intake-{LYON}")
        yield system
    finally:
        system.stop()
        system.close_links()


def publish(relais: RelaisSystem, subject: str, message: Message, msg_id: str) -> None:
    async def send() -> None:
        nc = await nats.connect(relais.nats_url)
        try:
            await bus.publish(nc.jetstream(), subject, message, msg_id)
        finally:
            await nc.close()

    asyncio.run(send())


def ask(relais: RelaisSystem, item_id: str) -> InboxItemReceived:
    now = datetime.now(UTC).isoformat()
    item = InboxItemReceived(
        post_id="",
        agency=LYON,
        occurred_at=now,
        network="mastodon",
        page=PAGE,
        item_id=item_id,
        conversation=conversation_key("mastodon", item_id),
        root_id=item_id,
        kind="comment",
        author_name="Samira B.",
        text="Bonjour, le forum de l'emploi est-il ouvert samedi ?",
        created_at=now,
        via="poll",
    )
    publish(
        relais, inbox_subject(LYON, item.conversation, "received"), item, inbox_msg_id("mastodon", item_id)
    )
    return item


def approvals(relais: RelaisSystem, post_id: str) -> list[PostApproved]:
    async def read() -> list[PostApproved]:
        nc = await nats.connect(relais.nats_url)
        try:
            js = nc.jetstream()
            sub = await js.subscribe(f"decisions.{LYON}.{post_id}.approved", ordered_consumer=True)
            found = []
            try:
                while True:
                    msg = await sub.next_msg(timeout=1)
                    found.append(msgspec.json.decode(msg.data, type=PostApproved))
            except nats.errors.TimeoutError:
                return found
            finally:
                await sub.unsubscribe()
        finally:
            await nc.close()

    return asyncio.run(read())


def deliver_published(relais: RelaisSystem, post_id: str) -> None:
    """What the dispatcher says once the reply is on Mastodon (the other helper's side)."""
    delivery = DeliveryUpdated(
        post_id=post_id,
        agency=LYON,
        occurred_at=utc_now(),
        network="mastodon",
        page=PAGE,
        status="published",
        remote_id="1150001",
        url="https://mastodon.example/@lyon/1150001",
    )
    publish(relais, deliveries_subject(LYON, post_id, "published"), delivery, f"{post_id}.{PAGE}.published")


def conversation_at(relais: RelaisSystem, where: str, conversation: str) -> dict[str, Any] | None:
    if where == "hub":
        status, body = http("GET", f"{relais.hub_url}/v1/inbox/{conversation}", token=relais.token("admin"))
        return dict(body) if status == 200 else None
    url = f"{relais.intake_url(LYON)}/v1/inbox/{conversation}"
    status, body = http("GET", url, token=relais.token("advisor", LYON))
    return dict(body["conversation"]) if status == 200 else None


def test_a_reply_written_offline_is_published_once_and_resolves_the_conversation(
    relais: RelaisSystem,
) -> None:
    item = ask(relais, "114000077")
    for where in ("hub", "node"):
        eventually(lambda where=where: conversation_at(relais, where, item.conversation), timeout=30)

    relais.links[LYON].cut()
    url = f"{relais.intake_url(LYON)}/v1/inbox/{item.conversation}/replies"
    status, accepted = http("POST", url, {"text": "Oui, de 9 h à 13 h."}, token=relais.token("advisor", LYON))
    assert status == 202, accepted
    post_id = accepted["id"]
    time.sleep(2)  # long enough for a relay attempt to fail
    assert relais.wait_status(post_id, ("waiting_for_hub",), agency=LYON)
    relais.links[LYON].restore()

    [approved] = eventually(lambda: approvals(relais, post_id), timeout=30)
    assert approved.approved_by == "policy:auto-approve"
    [variant] = approved.variants
    assert (variant.network, variant.page, variant.parts) == ("mastodon", PAGE, ["Oui, de 9 h à 13 h."])
    assert variant.reply_to is not None
    assert (variant.reply_to.conversation, variant.reply_to.item_id) == (item.conversation, item.item_id)
    assert relais.decision_subjects(post_id) == {"approved": 1}

    deliver_published(relais, post_id)
    hub = eventually(
        lambda: (c := conversation_at(relais, "hub", item.conversation)) and c["status"] == "resolved" and c,
        timeout=30,
    )
    assert (hub["waiting"], hub["deadline"]) == (False, None)
    node = eventually(
        lambda: (c := conversation_at(relais, "node", item.conversation)) and c["status"] == "resolved" and c,
        timeout=30,
    )
    assert node["id"] == item.conversation
    entries = relais.audit_with(post_id, "received", "inbox.answered")
    events = [e["event"] for e in entries]
    assert events.count("received") == 1 and events.count("inbox.answered") == 1, events
    [received] = [e for e in entries if e["event"] == "received"]
    assert received["actor"] == f"advisor@{LYON}"
    assert received["detail"]["reply_to"] == {"conversation": item.conversation, "item_id": item.item_id}


def test_a_saved_reply_written_at_the_hub_is_used_at_the_node(relais: RelaisSystem) -> None:
    saved = {"id": "merci", "language": "fr", "title": "Merci", "body": "Merci {auteur}, à samedi !"}
    status, body = http("POST", f"{relais.hub_url}/v1/saved-replies", saved, token=relais.token("admin"))
    assert status == 200, body
    item = ask(relais, "114000079")
    eventually(lambda: conversation_at(relais, "node", item.conversation), timeout=30)
    url = f"{relais.intake_url(LYON)}/v1/inbox/{item.conversation}/replies"

    def replied() -> Any:  # 422 unknown_saved_reply until the catalogue reaches the node
        status, accepted = http("POST", url, {"saved_reply": "merci"}, token=relais.token("advisor", LYON))
        return accepted if status == 202 else None

    accepted = eventually(replied, timeout=30)
    assert relais.get_post(accepted["id"], LYON)["text"] == "Merci Samira B., à samedi !"


def test_a_moderated_agencys_reply_waits_for_a_moderator(relais: RelaisSystem) -> None:
    policy = {"scope": f"replies:agency:{LYON}", "mode": "moderated"}
    assert http("PUT", f"{relais.hub_url}/v1/policies", policy, token=relais.token("admin"))[0] == 200
    item = ask(relais, "114000078")
    eventually(lambda: conversation_at(relais, "node", item.conversation), timeout=30)
    url = f"{relais.intake_url(LYON)}/v1/inbox/{item.conversation}/replies"
    status, accepted = http("POST", url, {"text": "Oui, samedi."}, token=relais.token("advisor", LYON))
    assert status == 202, accepted
    post_id = accepted["id"]
    relais.wait_status(post_id, ("awaiting_approval",), agency=LYON)
    assert approvals(relais, post_id) == []

    approve = f"{relais.hub_url}/v1/moderation/{post_id}/approve"
    status, decided = http("POST", approve, token=relais.token("admin"))
    assert status == 200 and decided["decision"] == "approved", decided
    [approved] = eventually(lambda: approvals(relais, post_id), timeout=30)
    assert approved.approved_by == "admin"
    assert approved.variants[0].reply_to is not None


@pytest.fixture
def whole(tmp_path: Path) -> Iterator[RelaisSystem]:
    """Every process `make run` starts for Lyon, the dispatcher reading its inboxes every half second."""
    system = RelaisSystem(tmp_path / "whole", agencies=[LYON])
    system.processes["dispatcher"].spec.env["RELAIS_INBOX_POLL_SECONDS"] = "0.5"
    try:
        system.start()
        yield system
    finally:
        system.stop()


def test_a_question_polled_from_the_network_is_answered_once_and_resolved_everywhere(
    whole: RelaisSystem,
) -> None:
    """With the dispatcher's side too: a mention made in the sandbox is polled, answered from Lyon's
    node, sent once with Mastodon's reply API (the sandbox's emulator), and its `published` resolves
    the conversation at the hub and at the node."""
    body = {
        "network": "mastodon",
        "account": "ft_lyon_partdieu",
        "texts": ["Le forum est-il ouvert samedi ?"],
    }
    status, answer = http("POST", f"{whole.sandbox_url}/_sandbox/incoming", body)
    assert status == 201, answer
    item_id = answer["items"][0]["item_id"]
    conversation = conversation_key("mastodon", item_id)
    eventually(lambda: conversation_at(whole, "node", conversation), timeout=30)

    url = f"{whole.intake_url(LYON)}/v1/inbox/{conversation}/replies"
    status, accepted = http("POST", url, {"text": "Oui, de 9 h à 13 h."}, token=whole.token("advisor", LYON))
    assert status == 202, accepted
    post = whole.wait_status(accepted["id"], ("published",), agency=LYON, timeout=60)
    [delivery] = post["deliveries"]
    assert (delivery["page"], delivery["status"]) == (PAGE, "published")
    for where in ("hub", "node"):
        eventually(
            lambda where=where: (
                (c := conversation_at(whole, where, conversation)) and c["status"] == "resolved"
            ),
            timeout=30,
        )
    hub = conversation_at(whole, "hub", conversation)
    assert hub is not None and (hub["waiting"], hub["deadline"]) == (False, None)
    assert [e["event"] for e in whole.audit(accepted["id"])].count("inbox.answered") == 1
