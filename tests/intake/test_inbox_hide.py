"""Asking to hide an item at the node (issue #15 item 5), offline first: a real nats-server with the
deployment's real users, the hub side's streams and consumers, a real node, a link the test cuts.

The policy, written by hand (services/intake/hide_requests.py): a request made while the link is cut
is stored (202 after the write, the item `requested`) and reaches the hub once when the link returns;
the hub's order and the dispatcher's outcome then show on the item (`hidden`, or `failed` with the
reason); refused at the node, in the error shape naming the field: another agency's conversation or
an item not of it (404), a network that cannot hide comments, a private message or a mention (422),
an item asked for already (409).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
import pytest

from shared.ids import utc_now
from shared.schemas import (
    ErrorReport,
    InboxHideOrdered,
    InboxHideRequested,
    InboxItemHidden,
    InboxItemReceived,
    conversation_key,
    inbox_subject,
)
from tests.harness import free_port
from tests.intake.conftest import Client, NodeFactory, auth
from tests.intake.inbox_bus import LYON, RENNES, HubSide, hub_side, item
from tests.intake.test_inbox_node import arrived, link_up
from tests.intake.test_media_relay import until
from tests.tcp_proxy import TcpProxy


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[HubSide]:
    async with hub_side(tmp_path / "bus") as side:
        yield side


def comment(agency: str = LYON, item_id: str = "17900001", kind: str = "comment") -> InboxItemReceived:
    """A comment on one of `agency`'s Instagram posts (a network that hides comments)."""
    root = f"root-{item_id}"
    return msgspec.structs.replace(
        item(agency),
        network="instagram",
        page=f"{agency}-instagram",
        item_id=item_id,
        root_id=root,
        parent_id=None,
        conversation=conversation_key("instagram", root),
        kind=kind,
        text="Mon NIR est ⟦nir⟧",
        masked=["nir"],
    )


async def hide(node: Client, token: str, conversation: str, item_id: str) -> tuple[int, Any]:
    response = await node.post(f"/v1/inbox/{conversation}/items/{item_id}/hide", headers=auth(token))
    return response.status, await response.json()


async def shown(node: Client, token: str, conversation: str) -> dict[str, dict[str, Any]]:
    response = await node.get(f"/v1/inbox/{conversation}", headers=auth(token))
    assert response.status == 200, await response.text()
    return {i["item_id"]: i for i in (await response.json())["items"]}


async def requests_at_hub(hub: HubSide) -> list[InboxHideRequested]:
    js = hub.nc.jetstream()
    info = await js.stream_info("INBOX", subjects_filter="inbox.*.*.hide_requested")
    count = sum((info.state.subjects or {}).values())
    found = []
    if count:
        sub = await js.subscribe("inbox.*.*.hide_requested", ordered_consumer=True)
        try:
            for _ in range(count):
                found.append(
                    msgspec.json.decode((await sub.next_msg(timeout=5)).data, type=InboxHideRequested)
                )
        finally:
            await sub.unsubscribe()
    return found


async def test_a_request_made_offline_reaches_the_hub_once_and_the_outcome_shows(
    hub: HubSide, make_node: NodeFactory, tokens: dict[str, str]
) -> None:
    link = TcpProxy(free_port(), hub.port)
    link.start()
    try:
        node = await make_node(nats_url=hub.agency_url(LYON, port=link.listen_port))
        question = comment()
        await hub.send_item(question)
        advisor = tokens["advisor"]
        await until(lambda: arrived(node, advisor, question.conversation, 1))

        link.cut()
        await until(lambda: link_up(node, False))
        status, body = await hide(node, advisor, question.conversation, question.item_id)
        assert (status, body) == (
            202,
            {"conversation": question.conversation, "item_id": question.item_id, "hidden": "requested"},
        )
        assert (await shown(node, advisor, question.conversation))[question.item_id]["hidden"] == "requested"
        again = await hide(node, advisor, question.conversation, question.item_id)
        assert (again[0], again[1]["error"]["code"], again[1]["error"]["field"]) == (
            409,
            "already_hidden",
            "item_id",
        )
        await asyncio.sleep(1.0)
        assert await requests_at_hub(hub) == []  # not while cut

        link.restore()
        await until(lambda: requests_at_hub(hub), within=30)
        await asyncio.sleep(1.0)  # a second copy would be on its way by now
        [sent] = await requests_at_hub(hub)
        assert (sent.agency, sent.conversation, sent.network, sent.page, sent.item_id, sent.by) == (
            LYON,
            question.conversation,
            "instagram",
            f"{LYON}-instagram",
            question.item_id,
            "claire",
        )

        # The hub orders it, the dispatcher hides it: the node shows it hidden.
        order = InboxHideOrdered(**{f: getattr(sent, f) for f in InboxHideOrdered.__struct_fields__})
        await hub.publish(inbox_subject(LYON, question.conversation, "hide"), order, "order-1")
        outcome = _outcome(question, "hidden")
        await hub.publish(inbox_subject(LYON, question.conversation, "hidden"), outcome, "hidden-1")

        async def hidden() -> bool:
            return bool(
                (await shown(node, advisor, question.conversation))[question.item_id]["hidden"] == "hidden"
            )

        await until(hidden)
        assert (await shown(node, advisor, question.conversation))[question.item_id]["hide_error"] is None
    finally:
        link.close()


def _outcome(question: InboxItemReceived, outcome: str, error: ErrorReport | None = None) -> InboxItemHidden:
    return InboxItemHidden(
        post_id="",
        agency=question.agency,
        occurred_at=utc_now(),
        conversation=question.conversation,
        network=question.network,
        page=question.page,
        item_id=question.item_id,
        outcome=outcome,
        error=error,
    )


async def test_the_node_refuses_what_cannot_be_hidden_naming_the_field(
    hub: HubSide, make_node: NodeFactory, tokens: dict[str, str]
) -> None:
    node = await make_node(nats_url=hub.agency_url(LYON))
    advisor = tokens["advisor"]
    ours, mastodon = comment(item_id="17900011"), item()
    message = comment(item_id="17900012", kind="message")
    mention = comment(item_id="17900015", kind="mention")
    theirs = comment(RENNES, item_id="17900013")
    moderated = comment(item_id="17900014")  # a moderator at the hub hides it; it fails on the network
    for question in (ours, mastodon, message, theirs, moderated, mention):
        await hub.send_item(question)
    for conversation in (
        ours.conversation,
        mastodon.conversation,
        message.conversation,
        moderated.conversation,
        mention.conversation,
    ):
        await until(partial(arrived, node, advisor, conversation, 1))

    cases = [
        (theirs.conversation, theirs.item_id, 404, "not_found", "conversation"),
        (ours.conversation, "nobody-here", 404, "not_found", "item_id"),
        (mastodon.conversation, mastodon.item_id, 422, "cannot_hide", "network"),
        (message.conversation, message.item_id, 422, "private_message", "item_id"),
        (mention.conversation, mention.item_id, 422, "not_the_pages", "item_id"),
    ]
    for conversation, item_id, status, code, field in cases:
        answered, body = await hide(node, advisor, conversation, item_id)
        assert (answered, body["error"]["code"], body["error"]["field"]) == (status, code, field), item_id
    other_agency = await hide(node, tokens["other_agency"], ours.conversation, ours.item_id)
    assert other_agency[0] == 403

    order = InboxHideOrdered(
        post_id="",
        agency=LYON,
        occurred_at=utc_now(),
        conversation=moderated.conversation,
        network="instagram",
        page=moderated.page,
        item_id=moderated.item_id,
        by="moderatrice",
    )
    await hub.publish(inbox_subject(LYON, moderated.conversation, "hide"), order, "order-m")

    async def requested() -> bool:
        view = await shown(node, advisor, moderated.conversation)
        return bool(view[moderated.item_id]["hidden"] == "requested")

    await until(requested)
    error = ErrorReport("Instagram no longer shows what this answers", "100/33")
    await hub.publish(
        inbox_subject(LYON, moderated.conversation, "hidden"),
        _outcome(moderated, "failed", error),
        "hidden-m",
    )

    async def failed() -> bool:
        return bool(
            (await shown(node, advisor, moderated.conversation))[moderated.item_id]["hidden"] == "failed"
        )

    await until(failed)
    view = (await shown(node, advisor, moderated.conversation))[moderated.item_id]
    assert view["hide_error"] == {
        "message": "Instagram no longer shows what this answers",
        "network_code": "100/33",
    }
    status, body = await hide(node, advisor, moderated.conversation, moderated.item_id)
    assert (status, body["error"]["code"]) == (409, "hide_failed")
    assert await requests_at_hub(hub) == []  # nothing refused was sent
