"""A reply written at the hub across the running system (issue #15 item 4): every process `make run`
starts for Lyon (nats-server, federation, formatter, hub, dispatcher, the sandbox's emulators, Lyon's
node), the dispatcher reading its inboxes every half second.

The policy, written by hand: a mention made on the network is polled into the hub's inbox; a
moderator's reply (`POST /v1/inbox/{conversation}/replies` at the hub) is sent to the network
exactly once, under the item it answers, as the conversation's page; its `published` resolves the
hub's conversation (clock stopped, `inbox.answered` once, by the moderator) and the node's, and the
agency's node shows the reply with its delivery. A resend with the same Idempotency-Key sends nothing more.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.schemas import conversation_key
from tests.harness import RelaisSystem, eventually, http
from tests.intake.test_reply_end_to_end import LYON, PAGE, conversation_at


@pytest.fixture
def whole(tmp_path: Path) -> Iterator[RelaisSystem]:
    system = RelaisSystem(tmp_path / "whole", agencies=[LYON])
    system.processes["dispatcher"].spec.env["RELAIS_INBOX_POLL_SECONDS"] = "0.5"
    try:
        system.start()
        yield system
    finally:
        system.stop()


def test_a_reply_written_at_the_hub_reaches_the_network_once_and_resolves_the_conversation(
    whole: RelaisSystem,
) -> None:
    body = {
        "network": "mastodon",
        "account": "ft_lyon_partdieu",
        "texts": ["Le forum est-il ouvert samedi ?"],
    }
    status, answer = http("POST", f"{whole.sandbox_url}/_sandbox/incoming", body)
    assert status == 201, answer
    item_id = answer["items"][0]["item_id"]
    conversation = conversation_key("mastodon", item_id)
    eventually(lambda: conversation_at(whole, "hub", conversation), timeout=30)

    url = f"{whole.hub_url}/v1/inbox/{conversation}/replies"
    key = {"Idempotency-Key": "hub-reply-e2e-1"}
    reply = {"text": "Oui, de 9 h à 13 h."}
    status, accepted = http("POST", url, reply, token=whole.token("moderator"), headers=key)
    assert status == 202, accepted
    again = http("POST", url, reply, token=whole.token("moderator"), headers=key)
    assert again == (202, accepted)  # a resend: the same reply, nothing more

    post = whole.wait_status(accepted["id"], ("published",), agency=LYON, timeout=60)  # the node shows it
    [delivery] = post["deliveries"]
    assert (delivery["page"], delivery["status"]) == (PAGE, "published")
    hub = eventually(
        lambda: (c := conversation_at(whole, "hub", conversation)) and c["status"] == "resolved" and c,
        timeout=30,
    )
    assert (hub["waiting"], hub["deadline"]) == (False, None)
    node = eventually(  # the node was told what the reply answers (PostAnnounced.reply_to)
        lambda: (c := conversation_at(whole, "node", conversation)) and c["status"] == "resolved" and c,
        timeout=30,
    )
    assert node["id"] == conversation
    sent = [p for p in whole.sandbox_posts() if p.get("reply_to") == item_id]
    assert len(sent) == 1, sent
    assert sent[0]["text"].endswith("Oui, de 9 h à 13 h.")
    events = whole.audit(accepted["id"])
    [answered] = [e for e in events if e["event"] == "inbox.answered"]
    assert answered["actor"] == "moderator"
    assert [e["event"] for e in events].count("inbox.reply_written") == 1
