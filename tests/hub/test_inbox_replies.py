"""Replies at the hub (issue #15 item 4): the real hub app, its INBOX consumer and its published
deliveries' consumer on a real nats-server, a real hub.db.

The policy, written by hand:
- a reply is approved by the policy unless its agency's replies policy (`replies:agency:<id>`, else
  `replies:default`) is `moderated` (or `trusted` and its author is not listed); the posts' policies
  do not hold replies; a replies policy's scope names the default or an agency;
- when a reply's delivery is published, its conversation's clock stops and the conversation is
  `resolved`, audited once as `inbox.answered` by the reply's author, naming the delivery (post,
  page, remote id); a redelivered `published` changes nothing;
- a reply is sent only when it answers one of its agency's conversations as the hub's inbox has it
  (the agency's, on the reply's page, of the thread it names, an item of it, of the kind it says):
  anything else is rejected with the reason, and, were it published all the same, resolves nothing;
  a reply read before its conversation waits for it a while, then is rejected;
- the person writing after the response reopens the conversation with a new clock.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest

from services.hub.inbox import REPLIES
from services.hub.inbox_store import conversations
from services.hub.keys import INBOX
from services.hub.service import UNKNOWN_REPLY_TRIES
from services.hub.store import decision_of, events_named, queued_or_decided
from shared import bus
from shared.schemas import (
    DeliveryUpdated,
    InboxItemReceived,
    PostRendered,
    ReplyTo,
    Variant,
    deliveries_subject,
    encode,
)
from shared.tokens import issue_token, load_or_create_private_key
from tests.hub.hub_app import Hub
from tests.hub.inbox_desk import LYON, RENNES, Desk, inbox_desk, question
from tests.waiting import until

PARIS = ZoneInfo("Europe/Paris")
LYON_PAGE, RENNES_PAGE = f"{LYON}-mastodon", f"{RENNES}-mastodon"
MONDAY_9AM = datetime(2026, 12, 7, 9, tzinfo=PARIS)


def reply_to(item: InboxItemReceived, page: str = LYON_PAGE) -> ReplyTo:
    return ReplyTo(
        conversation=item.conversation,
        network="mastodon",
        page=page,
        item_id=item.item_id,
        root_id=item.root_id,
        kind=item.kind,
    )


def rendered_reply(post_id: str, answers: ReplyTo, agency: str = LYON) -> PostRendered:
    variant = Variant(
        "mastodon", answers.page, ["Oui, de 9 h à 13 h."], agency, "Europe/Paris", reply_to=answers
    )
    return PostRendered(
        post_id=post_id,
        agency=agency,
        occurred_at="2026-12-07T08:10:00Z",
        author="claire",
        variants=[variant],
    )


async def publish_published(hub: Hub, post_id: str, page: str, at: datetime, copy: str = "") -> None:
    """As the dispatcher tells it (the other helper's side): the reply is on the network."""
    delivery = DeliveryUpdated(
        post_id=post_id,
        agency=LYON,
        occurred_at=at.astimezone(UTC).isoformat(),
        network="mastodon",
        page=page,
        status="published",
        remote_id="1150001",
        url="https://mastodon.example/@lyon/1150001",
    )
    subject = deliveries_subject(LYON, post_id, "published")
    await bus.publish(hub.js, subject, delivery, f"{post_id}.{page}.published{copy}")


@contextlib.asynccontextmanager
async def replies_consumer(hub: Hub) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(bus.consume(hub.js, REPLIES, hub.client.app[INBOX].handle_published, stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)


def conversation(hub: Hub, conversation_id: str) -> dict[str, Any]:
    [row] = conversations(hub.db, conversation_id)
    return row


async def asked(desk: Desk, page: str, item_id: str, at: datetime, **more: str) -> InboxItemReceived:
    item = question(page, item_id, at, **more)
    await desk.publish(item)
    await desk.stored("inbox_items", 1, where=f"item_id = '{item_id}'")
    return item


async def test_a_published_reply_stops_the_clock_and_resolves_the_conversation_once(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, MONDAY_9AM + timedelta(minutes=20)) as desk, replies_consumer(live_hub):
        item = await asked(desk, LYON_PAGE, "301", MONDAY_9AM)
        post_id = f"{LYON}-01JREPLY0000000000000000"
        await live_hub.approver.decide(encode(rendered_reply(post_id, reply_to(item))))
        decision = decision_of(live_hub.db, post_id)
        assert decision is not None and (decision.decision, decision.by) == (
            "approved",
            "policy:auto-approve",
        )

        answered_at = MONDAY_9AM + timedelta(minutes=15)
        await publish_published(live_hub, post_id, LYON_PAGE, answered_at)
        await until(lambda: conversation(live_hub, item.conversation)["status"] == "resolved")
        await publish_published(live_hub, post_id, LYON_PAGE, answered_at, copy=".again")  # redelivered
        await asyncio.sleep(0.5)
        row = conversation(live_hub, item.conversation)
        assert row["clock_started_at"] is None and row["deadline"] is None
        assert row["answered_at"] == answered_at.astimezone(UTC).isoformat(timespec="microseconds")
        [entry] = events_named(live_hub.db, "inbox.answered")
        assert (entry["post_id"], entry["agency"], entry["actor"], entry["page"]) == (
            post_id,
            LYON,
            "claire",
            LYON_PAGE,
        )
        assert entry["detail"]["conversation"] == item.conversation
        assert entry["detail"]["remote_id"] == "1150001" and entry["detail"]["item_id"] == item.item_id
        status, body = await _get(live_hub, f"/v1/inbox/{item.conversation}")
        assert status == 200 and (body["status"], body["waiting"], body["deadline"]) == (
            "resolved",
            False,
            None,
        )

        # The person writes again after the response: a new clock, the conversation is open again.
        desk.set_time(MONDAY_9AM + timedelta(hours=1))
        await asked(desk, LYON_PAGE, "302", MONDAY_9AM + timedelta(minutes=30), root_id="301")
        row = conversation(live_hub, item.conversation)
        assert (row["status"], row["clock"]) == ("new", 2) and row["clock_started_at"] is not None


async def test_a_reply_that_does_not_answer_its_agencys_conversation_is_rejected(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, MONDAY_9AM + timedelta(minutes=20)) as desk, replies_consumer(live_hub):
        theirs = await asked(desk, RENNES_PAGE, "401", MONDAY_9AM)
        mine = await asked(desk, LYON_PAGE, "402", MONDAY_9AM)
        other_thread = await asked(desk, LYON_PAGE, "403", MONDAY_9AM)
        # Bodies an agency's NATS user could publish, on its own page: each names something that is
        # not one of its conversations' items as it is.
        forged = {
            "A": (reply_to(theirs), f"conversation {theirs.conversation} is not agency {LYON}'s"),
            "B": (
                reply_to(mine, page=f"{LYON}-bluesky"),
                f"conversation {mine.conversation} is on mastodon:{LYON_PAGE}, not mastodon:{LYON}-bluesky",
            ),
            "C": (
                msgspec.structs.replace(reply_to(mine), item_id=other_thread.item_id),
                f"item {other_thread.item_id} is not one of conversation {mine.conversation}'s",
            ),
            "D": (
                msgspec.structs.replace(reply_to(mine), item_id="999999"),
                f"item 999999 is not one of conversation {mine.conversation}'s",
            ),
            "E": (
                msgspec.structs.replace(reply_to(mine), kind="comment"),
                f"item {mine.item_id} is a mention, not a comment",
            ),
            "F": (
                msgspec.structs.replace(reply_to(mine), root_id="403"),
                f"403 is not the first item of conversation {mine.conversation}",
            ),
        }
        for letter, (answers, reason) in forged.items():
            post_id = f"{LYON}-01JFORGED00000000000000{letter}"
            await live_hub.approver.decide(encode(rendered_reply(post_id, answers)))
            decision = decision_of(live_hub.db, post_id)
            assert decision is not None
            assert (decision.decision, decision.by, decision.reason) == (
                "rejected",
                "hub:reply-check",
                reason,
            )
            # Published all the same (a dispatcher's bug): it resolves nothing either.
            await publish_published(live_hub, post_id, LYON_PAGE, MONDAY_9AM + timedelta(minutes=5))
        honest = f"{LYON}-01JHONEST000000000000000C"
        await live_hub.approver.decide(encode(rendered_reply(honest, reply_to(mine))))
        await publish_published(live_hub, honest, LYON_PAGE, MONDAY_9AM + timedelta(minutes=6))
        await until(lambda: conversation(live_hub, mine.conversation)["status"] == "resolved")
        for untouched in (theirs, other_thread):
            row = conversation(live_hub, untouched.conversation)
            assert row["status"] == "new" and row["clock_started_at"] is not None
        assert [e["post_id"] for e in events_named(live_hub.db, "inbox.answered")] == [honest]


async def test_a_reply_read_before_its_conversation_waits_for_it_then_is_rejected(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, MONDAY_9AM + timedelta(minutes=20)):
        unknown = question(LYON_PAGE, "601", MONDAY_9AM)  # never published
        post_id = f"{LYON}-01JEARLY0000000000000000A"
        data = encode(rendered_reply(post_id, reply_to(unknown)))
        with pytest.raises(bus.Retry):
            await live_hub.approver.decide(data, attempt=1)
        assert not queued_or_decided(live_hub.db, post_id)
        await live_hub.approver.decide(data, attempt=UNKNOWN_REPLY_TRIES)
        decision = decision_of(live_hub.db, post_id)
        assert decision is not None and decision.decision == "rejected"
        assert decision.reason == f"conversation {unknown.conversation} is not at the hub"


async def test_an_agencys_replies_policy_decides_whether_replies_wait(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, MONDAY_9AM + timedelta(minutes=20)) as desk:
        item = await asked(desk, LYON_PAGE, "501", MONDAY_9AM)
        # Posts of the agency are moderated: its replies still go on their own.
        assert (await _put_policy(live_hub, {"scope": f"agency:{LYON}", "mode": "moderated"}))[0] == 200
        first = f"{LYON}-01JPOLICY000000000000000A"
        await live_hub.approver.decide(encode(rendered_reply(first, reply_to(item))))
        assert decision_of(live_hub.db, first) is not None

        assert (await _put_policy(live_hub, {"scope": f"replies:agency:{LYON}", "mode": "moderated"}))[
            0
        ] == 200
        held = f"{LYON}-01JPOLICY000000000000000B"
        await live_hub.approver.decide(encode(rendered_reply(held, reply_to(item))))
        assert queued_or_decided(live_hub.db, held) and decision_of(live_hub.db, held) is None
        decision = await live_hub.approver.moderate(held, "moderatrice")
        assert (decision.decision, decision.by) == ("approved", "moderatrice")

        # Trusted advisors' replies go out alone, the others' wait.
        trusted = {"scope": f"replies:agency:{LYON}", "mode": "trusted", "trusted": ["claire"]}
        assert (await _put_policy(live_hub, trusted))[0] == 200
        alone = f"{LYON}-01JPOLICY000000000000000C"
        await live_hub.approver.decide(encode(rendered_reply(alone, reply_to(item))))
        assert decision_of(live_hub.db, alone) is not None
        waits = rendered_reply(f"{LYON}-01JPOLICY000000000000000D", reply_to(item))
        waits = msgspec.structs.replace(waits, author="yann")
        await live_hub.approver.decide(encode(waits))
        assert (
            queued_or_decided(live_hub.db, waits.post_id) and decision_of(live_hub.db, waits.post_id) is None
        )

        status, body = await _get(live_hub, "/v1/policies")
        assert status == 200
        assert {"scope": f"replies:agency:{LYON}", "mode": "trusted", "trusted": ["claire"]} in body[
            "policies"
        ]


async def test_a_replies_policy_is_for_the_default_or_an_agency(live_hub: Hub) -> None:
    assert (await _put_policy(live_hub, {"scope": "replies:default", "mode": "moderated"}))[0] == 200
    for policy, code, field in (
        ({"scope": f"replies:agency:{LYON}", "mode": "held"}, "invalid_mode", "mode"),
        ({"scope": f"replies:page:{LYON_PAGE}", "mode": "moderated"}, "invalid_scope", "scope"),
        ({"scope": "replies:agency:", "mode": "moderated"}, "invalid_scope", "scope"),
        ({"scope": "replies", "mode": "auto"}, "invalid_scope", "scope"),
    ):
        status, body = await _put_policy(live_hub, policy)
        assert status == 422 and (body["error"]["code"], body["error"]["field"]) == (code, field), body


async def _put_policy(hub: Hub, policy: dict[str, Any]) -> tuple[int, Any]:
    response = await hub.client.put("/v1/policies", json=policy, headers=_auth(hub, "admin"))
    return response.status, await response.json()


async def _get(hub: Hub, path: str) -> tuple[int, Any]:
    response = await hub.client.get(path, headers=_auth(hub, "admin"))
    return response.status, await response.json()


def _auth(hub: Hub, role: str) -> dict[str, str]:
    key = load_or_create_private_key(hub.settings.token_key_file)
    return {"Authorization": f"Bearer {issue_token(key, role=role, subject=f'{role}-probe')}"}
