"""The agency's inbox at its node, offline-first: a real nats-server with the deployment's real
users, the hub side's streams and consumers, a real node (SQLite file, HTTP), and a link the tests
stop and cut.

The policy, written by hand: an item reaches its agency's node once, however often it was
published, including while the node was away; an escalation shows on its conversation and never
goes back down; an assignment made while the link is down is stored (200 after the write) and
reaches the hub once when the link returns, once only even if the node is not sure it was sent.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from services.intake.inbox_relay import relay_assignments
from services.intake.keys import DATABASE, LINK
from shared.schemas import InboxAssigned, InboxItemReceived
from tests.harness import free_port
from tests.intake.conftest import Client, NodeFactory, auth
from tests.intake.inbox_bus import LYON, RENNES, HubSide, hub_side, item
from tests.intake.test_media_relay import until
from tests.tcp_proxy import TcpProxy


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[HubSide]:
    async with hub_side(tmp_path / "bus") as side:
        await side.add_advisor(LYON, "claire")
        await side.add_advisor(LYON, "karim")
        await side.add_advisor(LYON, "ancien", disabled=True)
        await side.add_advisor(RENNES, "yann")
        yield side


async def inbox(client: Client, token: str, query: str = "") -> list[dict[str, Any]]:
    response = await client.get(f"/v1/inbox{query}", headers=auth(token))
    assert response.status == 200, await response.text()
    return list((await response.json())["conversations"])


async def conversation(client: Client, token: str, conversation_id: str, lang: str = "") -> dict[str, Any]:
    query = f"?lang={lang}" if lang else ""
    response = await client.get(f"/v1/inbox/{conversation_id}{query}", headers=auth(token))
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def arrived(client: Client, token: str, conversation_id: str, items: int) -> bool:
    found = [c for c in await inbox(client, token) if c["id"] == conversation_id]
    return bool(found) and found[0]["items"] >= items


async def assign(client: Client, token: str, conversation_id: str, assignee: str) -> tuple[int, Any]:
    response = await client.post(
        f"/v1/inbox/{conversation_id}/assign", json={"assignee": assignee}, headers=auth(token)
    )
    return response.status, await response.json()


async def mirrored(client: Client, username: str) -> bool:
    """The hub's account of `username` reached the node."""
    return (
        client.app[DATABASE].execute("select 1 from users where username = ?", [username]).fetchone()
        is not None
    )


async def link_up(client: Client, up: bool) -> bool:
    return bool(client.app[LINK].connected) == up


async def test_an_item_sent_while_the_node_is_offline_arrives_once_when_it_comes_back(
    hub: HubSide, make_node: NodeFactory, tokens: dict[str, str]
) -> None:
    node = await make_node(nats_url=hub.agency_url(LYON))
    await until(lambda: link_up(node, True))
    await node.close()  # the node stops: what follows happens while it is away

    first, reply = item(), item()
    reply = msgspec.structs.replace(reply, conversation=first.conversation, root_id=first.root_id)
    await hub.send_item(first)
    await hub.send_item(first)  # polled twice within the window: one message in the stream
    await hub.send_item(first, msg_id="after-the-window")  # pushed later as well: two messages
    await hub.send_item(reply)

    node = await make_node(nats_url=hub.agency_url(LYON))  # the same data directory: it comes back
    advisor = tokens["advisor"]
    await until(lambda: arrived(node, advisor, first.conversation, 2))
    await asyncio.sleep(0.5)  # anything delivered twice would be applied by now
    [summary] = await inbox(node, advisor)
    assert (summary["id"], summary["items"], summary["assignee"], summary["status"]) == (
        first.conversation,
        2,
        "",
        "new",
    )
    shown = await conversation(node, advisor, first.conversation)
    assert [i["item_id"] for i in shown["items"]] == [first.item_id, reply.item_id]  # oldest first
    rows = node.app[DATABASE].execute("select count(*) from inbox_items").fetchone()[0]
    assert rows == 2


async def test_an_escalation_shows_on_its_conversation_and_never_goes_back_down(
    hub: HubSide, make_node: NodeFactory, tokens: dict[str, str]
) -> None:
    node = await make_node(nats_url=hub.agency_url(LYON))
    question = item()
    await hub.send_item(question)
    await hub.escalate(question, "region", "2026-12-07T11:00:00+01:00")
    await hub.escalate(question, "hub", "2026-12-07T13:00:00+01:00")
    await hub.escalate(question, "region", "2026-12-07T11:00:00+01:00")  # late or redelivered

    async def at_hub() -> bool:
        response = await node.get(f"/v1/inbox/{question.conversation}", headers=auth(tokens["advisor"]))
        return response.status == 200 and (await response.json())["conversation"]["escalation"] == "hub"

    await until(at_hub)
    await asyncio.sleep(0.5)
    summary = (await conversation(node, tokens["advisor"], question.conversation))["conversation"]
    assert (summary["escalation"], summary["deadline"], summary["calendar"]) == (
        "hub",
        "2026-12-07T13:00:00+01:00",
        "fr-metropole",
    )


async def test_an_assignment_made_while_the_link_is_cut_reaches_the_hub_once_when_it_returns(
    hub: HubSide, make_node: NodeFactory, tokens: dict[str, str]
) -> None:
    link = TcpProxy(free_port(), hub.port)
    link.start()
    try:
        node = await make_node(nats_url=hub.agency_url(LYON, port=link.listen_port))
        question = item()
        await hub.send_item(question)
        advisor = tokens["advisor"]
        await until(lambda: arrived(node, advisor, question.conversation, 1))
        await until(lambda: mirrored(node, "karim"))

        link.cut()
        await until(lambda: link_up(node, False))
        status, body = await assign(node, advisor, question.conversation, "karim")
        assert status == 200, body
        assert body["assignee"] == "karim"
        await asyncio.sleep(1.0)
        assert await hub.assigned_messages(LYON, question.conversation) == []  # not while cut
        assert [c["id"] for c in await inbox(node, advisor, "?assignee=me")] == []
        assert [c["id"] for c in await inbox(node, advisor, "?queue=shared")] == []

        link.restore()
        await until(lambda: hub.assigned_messages(LYON, question.conversation), within=30)
        await asyncio.sleep(1.0)  # a second copy would be on its way by now
        [(_, data)] = await hub.assigned_messages(LYON, question.conversation)
        sent = msgspec.json.decode(data, type=InboxAssigned)
        assert (sent.agency, sent.assignee, sent.by, sent.page) == (LYON, "karim", "claire", question.page)

        # Back to the shared queue: a second message, after the first.
        status, body = await assign(node, advisor, question.conversation, "")
        assert (status, body["assignee"]) == (200, "")
        await until(lambda: _count(hub, question, 2))
        assert [c["id"] for c in await inbox(node, advisor, "?queue=shared")] == [question.conversation]
    finally:
        link.close()


async def _count(hub: HubSide, question: InboxItemReceived, count: int) -> bool:
    return len(await hub.assigned_messages(LYON, question.conversation)) == count


async def test_an_assignment_the_node_is_unsure_it_sent_is_not_sent_twice_after_the_dedup_window(
    hub: HubSide, make_node: NodeFactory, tokens: dict[str, str]
) -> None:
    """The node crashed after JetStream stored the assignment and before it marked it relayed, and
    came back after the stream forgot its `Nats-Msg-Id` (two minutes): the resend must be refused
    as already stored, and the next assignment still go through."""
    node = await make_node(nats_url=hub.agency_url(LYON))
    question = item()
    await hub.send_item(question)
    await until(lambda: arrived(node, tokens["advisor"], question.conversation, 1))
    await until(lambda: mirrored(node, "karim"))
    assert (await assign(node, tokens["advisor"], question.conversation, "karim"))[0] == 200
    await until(lambda: _count(hub, question, 1))
    [(stored_at, _)] = await hub.assigned_messages(LYON, question.conversation)

    # The window passes (shortened here, as the hub could configure it), and the mark is lost.
    js = hub.nc.jetstream()
    config = (await js.stream_info("INBOX")).config
    await js.update_stream(dataclasses.replace(config, duplicate_window=0.2))
    await asyncio.sleep(0.5)
    db = node.app[DATABASE]
    with db.atomic():
        db.execute("update inbox_outbox set relayed_at = null")
        db.execute("update conversations set assigned_seq = 0")
    link = node.app[LINK]
    assert link.nc is not None
    assert await relay_assignments(link.nc, db) == 1  # counted as held by the stream
    assert len(await hub.assigned_messages(LYON, question.conversation)) == 1
    row = db.execute(
        "select assigned_seq from conversations where id = ?", [question.conversation]
    ).fetchone()
    assert row[0] == stored_at

    assert (await assign(node, tokens["advisor"], question.conversation, "claire"))[0] == 200
    await until(lambda: _count(hub, question, 2))


async def test_an_assignment_made_on_a_node_without_its_hub_is_relayed_once_after_a_restart(
    hub: HubSide, make_node: NodeFactory, tokens: dict[str, str]
) -> None:
    """The node works without the hub (no server where it looks), stops with the assignment
    unsent, and sends it when it starts again with its hub reachable."""
    node = await make_node(nats_url=hub.agency_url(LYON))
    question = item()
    await hub.send_item(question)
    await until(lambda: arrived(node, tokens["advisor"], question.conversation, 1))
    await until(lambda: mirrored(node, "karim"))
    await node.close()

    alone = await make_node()  # the same data directory, and nobody at its NATS address
    status, body = await assign(alone, tokens["advisor"], question.conversation, "karim")
    assert (status, body["assignee"]) == (200, "karim")
    await alone.close()
    assert await hub.assigned_messages(LYON, question.conversation) == []

    node = await make_node(nats_url=hub.agency_url(LYON))
    await until(lambda: _count(hub, question, 1), within=30)
    await asyncio.sleep(1.0)
    assert len(await hub.assigned_messages(LYON, question.conversation)) == 1


async def test_an_assignment_made_after_the_node_lost_its_last_mark_is_sent_not_taken_for_a_resend(
    hub: HubSide, make_node: NodeFactory, tokens: dict[str, str]
) -> None:
    """The node's file went back in time (restored from a backup taken before its last assignment
    was relayed): the stream's last `assigned` of the conversation is newer than the node knows. A
    new assignment, never sent before, must reach the hub; only a resend may be taken as stored."""
    node = await make_node(nats_url=hub.agency_url(LYON))
    question = item()
    await hub.send_item(question)
    await until(lambda: arrived(node, tokens["advisor"], question.conversation, 1))
    await until(lambda: mirrored(node, "karim"))
    assert (await assign(node, tokens["advisor"], question.conversation, "karim"))[0] == 200
    await until(lambda: _count(hub, question, 1))
    [(first_seq, _)] = await hub.assigned_messages(LYON, question.conversation)
    assert (await assign(node, tokens["advisor"], question.conversation, ""))[0] == 200
    await until(lambda: _count(hub, question, 2))

    db = node.app[DATABASE]
    with db.atomic():  # as the backup had it: the first assignment's mark, not the second's
        db.execute("update conversations set assigned_seq = ?", [first_seq])
    assert (await assign(node, tokens["advisor"], question.conversation, "claire"))[0] == 200
    await until(lambda: _count(hub, question, 3))
    last = msgspec.json.decode(
        (await hub.assigned_messages(LYON, question.conversation))[-1][1], type=InboxAssigned
    )
    assert last.assignee == "claire"
