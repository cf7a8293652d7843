"""Hiding an item at the hub (issue #15 item 5): the real hub app, its INBOX consumer on a real
nats-server, a real hub.db; the audit consumer's `record` fed with what the stream holds.

The policy, written by hand (services/hub/inbox_hides.py):
- a node's request (`hide_requested`) or a moderator's (`POST /v1/inbox/{c}/items/{i}/hide`) is
  ordered once: one `InboxHideOrdered` on the bus, one `inbox.hide_ordered` audit entry (the order
  read back by the audit adds none), the item `requested`; asking again orders nothing more;
- refused, and audited `inbox.hide_refused` with the reason: another agency's conversation (its body
  naming it, or naming another agency than its subject's), another page than the conversation's, an
  item not of the conversation, a network that cannot hide comments, a private message, a mention (on
  someone else's post);
- the dispatcher's `hidden` sets the item `hidden` (or `failed`, with the reason), shown by
  `GET /v1/inbox/{c}`, and is audited `inbox.hidden`;
- the API: moderators and admins; another region's conversation 403 `outside_scope` (audited); each
  refusal in the error shape naming its field.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import nats

from services.hub.keys import MIRROR
from services.hub.service import record
from services.hub.store import events_named
from shared import bus
from shared.schemas import (
    PAGES_BUCKET,
    ErrorReport,
    InboxHideOrdered,
    InboxHideRequested,
    InboxItemHidden,
    InboxItemReceived,
    PageRecord,
    conversation_key,
    inbox_subject,
    page_key,
)
from shared.tokens import issue_token, load_or_create_private_key
from tests.hub.hub_app import Hub
from tests.hub.inbox_desk import LYON, RENNES, Desk, inbox_desk, question

MONDAY_9AM = datetime(2026, 12, 7, 9, tzinfo=ZoneInfo("Europe/Paris"))
FACEBOOK = {LYON: ("auvergne-rhone-alpes", f"{LYON}-facebook"), RENNES: ("bretagne", f"{RENNES}-facebook")}


async def facebook_pages(desk: Desk) -> None:
    kv = await bus.ensure_key_value(desk.hub.js, PAGES_BUCKET)
    for agency, (region, page) in FACEBOOK.items():
        record_ = PageRecord(
            page=page,
            network="facebook",
            handle="1001",
            agency=agency,
            region=region,
            department="00",
            timezone="Europe/Paris",
            credentials_ref=f"sandbox/{page}",
        )
        await kv.put(page_key(agency, page), msgspec.json.encode(record_))
    for _ in range(100):
        if all(desk.hub.client.app[MIRROR].get(page) for _, page in FACEBOOK.values()):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the mirror never had the facebook pages")


def comment(agency: str, item_id: str, kind: str = "comment", root: str | None = None) -> InboxItemReceived:
    root = root or f"1001_{item_id}"
    return InboxItemReceived(
        post_id="",
        agency=agency,
        occurred_at=datetime.now(UTC).isoformat(),
        network="facebook",
        page=FACEBOOK[agency][1],
        item_id=item_id,
        conversation=conversation_key("facebook", root),
        root_id=root,
        kind=kind,
        text="Mon NIR est ⟦nir⟧",
        masked=["nir"],
        created_at=MONDAY_9AM.astimezone(UTC).isoformat(),
        via="webhook",
    )


def request(item: InboxItemReceived, agency: str | None = None, **changes: Any) -> InboxHideRequested:
    asked = InboxHideRequested(
        post_id="",
        agency=agency or item.agency,
        occurred_at=datetime.now(UTC).isoformat(),
        conversation=item.conversation,
        network=item.network,
        page=item.page,
        item_id=item.item_id,
        by="claire",
    )
    return msgspec.structs.replace(asked, **changes)


async def ask(
    desk: Desk, asked: InboxHideRequested, subject_agency: str | None = None, copy: int = 0
) -> None:
    subject = inbox_subject(subject_agency or asked.agency, asked.conversation, "hide_requested")
    await bus.publish(desk.hub.js, subject, asked, f"{subject}.{asked.item_id}.{copy}")


async def stream(hub: Hub, subjects: str = "inbox.>") -> list[bus.Incoming]:
    """What INBOX holds, as the audit consumer hands it over."""
    sub = await hub.js.subscribe(subjects, ordered_consumer=True)
    found = []
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=0.3)
            except nats.errors.TimeoutError:
                break
            meta = msg.metadata
            found.append(bus.Incoming(msg.subject, msg.data, 1, meta.stream, meta.sequence.stream))
    finally:
        await sub.unsubscribe()
    return found


async def orders(hub: Hub) -> list[InboxHideOrdered]:
    return [msgspec.json.decode(m.data, type=InboxHideOrdered) for m in await stream(hub, "inbox.*.*.hide")]


async def post(hub: Hub, path: str, role: str, region: str | None = None, agency: str | None = None) -> Any:
    key = load_or_create_private_key(hub.settings.token_key_file)
    token = issue_token(
        key, role=role, subject=f"{role}-{region or 'national'}", region=region, agency=agency
    )
    response = await hub.client.post(path, headers={"Authorization": f"Bearer {token}"})
    return response.status, await response.json()


async def view(hub: Hub, conversation: str) -> dict[str, Any]:
    key = load_or_create_private_key(hub.settings.token_key_file)
    token = issue_token(key, role="admin", subject="admin")
    response = await hub.client.get(f"/v1/inbox/{conversation}", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200
    return {item["item_id"]: item for item in (await response.json())["items"]}


async def test_a_node_request_is_ordered_once_and_the_outcome_is_shown_and_audited(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, MONDAY_9AM + timedelta(hours=1)) as desk:
        await facebook_pages(desk)
        item = comment(LYON, "5001")
        await desk.publish(item)
        await desk.stored("inbox_items", 1)

        await ask(desk, request(item))
        await ask(desk, request(item), copy=1)  # asked twice (two advisors, or a redelivery)
        await desk.stored("inbox_items", 1, "hidden = 'requested'")
        await asyncio.sleep(0.3)  # the second request read too

        [order] = await orders(live_hub)
        assert (order.agency, order.conversation, order.network, order.page, order.item_id, order.by) == (
            LYON,
            item.conversation,
            "facebook",
            FACEBOOK[LYON][1],
            "5001",
            "claire",
        )
        assert (await view(live_hub, item.conversation))["5001"]["hidden"] == "requested"

        # The dispatcher's outcome, as it publishes it.
        hidden = InboxItemHidden(
            post_id="",
            agency=LYON,
            occurred_at=datetime.now(UTC).isoformat(),
            conversation=item.conversation,
            network="facebook",
            page=FACEBOOK[LYON][1],
            item_id="5001",
            outcome="hidden",
        )
        subject = inbox_subject(LYON, item.conversation, "hidden")
        await bus.publish(live_hub.js, subject, hidden, "hide:facebook:5001")
        await desk.stored("inbox_items", 1, "hidden = 'hidden'")
        shown = (await view(live_hub, item.conversation))["5001"]
        assert (shown["hidden"], shown["hide_error"]) == ("hidden", None)

        record(live_hub.db, await stream(live_hub))
        [ordered] = events_named(live_hub.db, "inbox.hide_ordered")
        assert (ordered["actor"], ordered["agency"], ordered["detail"]["item_id"]) == ("claire", LYON, "5001")
        assert ordered["detail"]["origin"] == "node"
        assert len(events_named(live_hub.db, "inbox.hide_requested")) == 2
        [done] = events_named(live_hub.db, "inbox.hidden")
        assert (done["actor"], done["detail"]["outcome"], done["page"]) == (
            "dispatcher",
            "hidden",
            FACEBOOK[LYON][1],
        )
        assert events_named(live_hub.db, "inbox.hide_refused") == []


async def test_requests_the_hub_refuses_are_audited_with_the_reason(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, MONDAY_9AM + timedelta(hours=1)) as desk:
        await facebook_pages(desk)
        lyon, rennes = comment(LYON, "5101"), comment(RENNES, "5102")
        message = comment(LYON, "m_5103", kind="message", root="psid-1")
        mastodon = question(f"{LYON}-mastodon", "5104", MONDAY_9AM)
        mention = comment(LYON, "5105", kind="mention", root="someone-elses-post")
        for item in (lyon, rennes, message, mastodon, mention):
            await desk.publish(item)
        await desk.stored("inbox_items", 5)

        # Lyon's user, on its own subject, asks for Rennes's conversation; then names Rennes in the body.
        await ask(desk, request(rennes, agency=LYON))
        await ask(desk, request(rennes), subject_agency=LYON, copy=1)
        # Lyon's own conversation, but an item of another one; a private message; a network without hiding.
        await ask(desk, request(lyon, item_id="5102"))
        await ask(desk, request(message))
        await ask(desk, request(mastodon))
        # Its own conversation and item, but naming Rennes's page.
        await ask(desk, request(lyon, page=FACEBOOK[RENNES][1]))
        await ask(desk, request(mention))  # a comment on someone else's post: not the page's to hide
        await desk.stored("audit", 7, "event = 'inbox.hide_refused'")

        refused = events_named(live_hub.db, "inbox.hide_refused")
        reasons = {
            (e["detail"]["item_id"], e["detail"]["conversation"]): e["detail"]["reason"] for e in refused
        }
        said = [e["detail"]["reason"] for e in refused]
        assert sum(f"conversation {rennes.conversation} is not agency {LYON}'s" == r for r in said) == 1
        assert sum(f"names agency {RENNES}" in r and f"came on inbox.{LYON}." in r for r in said) == 1
        assert (
            reasons[("5102", lyon.conversation)]
            == f"item 5102 is not one of conversation {lyon.conversation}'s"
        )
        assert "private message" in reasons[("m_5103", message.conversation)]
        assert "cannot hide comments on Mastodon" in reasons[("5104", mastodon.conversation)]
        assert "on someone else's post" in reasons[("5105", mention.conversation)]
        wrong_page = f"is on facebook:{FACEBOOK[LYON][1]}, not facebook:{FACEBOOK[RENNES][1]}"
        assert wrong_page in reasons[("5101", lyon.conversation)]
        assert all(e["agency"] == LYON for e in refused)  # the publisher's agency, never Rennes
        assert await orders(live_hub) == []
        assert (
            live_hub.db.execute("select count(*) from inbox_items where hidden is not null").fetchone()[0]
            == 0
        )


async def test_a_moderator_hides_within_her_scope_and_each_refusal_names_its_field(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, MONDAY_9AM + timedelta(hours=1)) as desk:
        await facebook_pages(desk)
        lyon, message = comment(LYON, "5201"), comment(LYON, "m_5202", kind="message", root="psid-2")
        mastodon = question(f"{LYON}-mastodon", "5203", MONDAY_9AM)
        for item in (lyon, message, mastodon):
            await desk.publish(item)
        await desk.stored("inbox_items", 3)
        path = f"/v1/inbox/{lyon.conversation}/items/5201/hide"

        for role, agency in (("ops", None), ("advisor", LYON)):
            status, body = await post(live_hub, path, role, agency=agency)
            assert (status, body["error"]["code"]) == (403, "forbidden"), role
        status, body = await post(live_hub, path, "moderator", region="bretagne")
        assert (status, body["error"]["code"], body["error"]["field"]) == (
            403,
            "outside_scope",
            "conversation",
        )
        assert any(e["agency"] == LYON for e in events_named(live_hub.db, "permission.denied"))
        status, body = await post(
            live_hub, "/v1/inbox/facebook-000000000000000000000000/items/1/hide", "admin"
        )
        assert (status, body["error"]["field"]) == (404, "conversation")
        status, body = await post(live_hub, f"/v1/inbox/{lyon.conversation}/items/9999/hide", "admin")
        assert (status, body["error"]["code"], body["error"]["field"]) == (404, "not_found", "item_id")
        status, body = await post(live_hub, f"/v1/inbox/{message.conversation}/items/m_5202/hide", "admin")
        assert (status, body["error"]["code"], body["error"]["field"]) == (422, "private_message", "item_id")
        status, body = await post(live_hub, f"/v1/inbox/{mastodon.conversation}/items/5203/hide", "admin")
        assert (status, body["error"]["code"], body["error"]["field"]) == (422, "cannot_hide", "network")
        assert await orders(live_hub) == []

        status, body = await post(live_hub, path, "moderator", region="auvergne-rhone-alpes")
        assert (status, body) == (
            202,
            {"conversation": lyon.conversation, "item_id": "5201", "hidden": "requested"},
        )
        status, body = await post(live_hub, path, "admin")
        assert (status, body["error"]["code"], body["error"]["field"]) == (409, "already_hidden", "item_id")
        [order] = await orders(live_hub)
        assert (order.item_id, order.by) == ("5201", "moderator-auvergne-rhone-alpes")
        assert len(events_named(live_hub.db, "inbox.hide_refused")) == 4  # 404 item, 422 twice, 409

        # It failed on the network: shown with the reason, and not ordered again.
        failed = InboxItemHidden(
            post_id="",
            agency=LYON,
            occurred_at=datetime.now(UTC).isoformat(),
            conversation=lyon.conversation,
            network="facebook",
            page=FACEBOOK[LYON][1],
            item_id="5201",
            outcome="failed",
            error=ErrorReport("Facebook no longer shows what this answers", "100/33"),
        )
        await bus.publish(
            live_hub.js, inbox_subject(LYON, lyon.conversation, "hidden"), failed, "hide:facebook:5201"
        )
        await desk.stored("inbox_items", 1, "hidden = 'failed'")
        shown = (await view(live_hub, lyon.conversation))["5201"]
        assert shown["hide_error"] == {
            "message": "Facebook no longer shows what this answers",
            "network_code": "100/33",
        }
        status, body = await post(live_hub, path, "admin")
        assert (status, body["error"]["code"]) == (409, "hide_failed")
        record(live_hub.db, await stream(live_hub))
        [ordered] = events_named(live_hub.db, "inbox.hide_ordered")
        assert ordered["detail"]["origin"] == "hub"
