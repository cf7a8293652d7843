"""The inbox across the running system (`relais run`'s processes: nats-server with its real users,
federation, hub, Lyon's node): a question published on INBOX reaches both the hub's inbox and
Lyon's node; an advisor account made at the hub reaches the node; the node's assignment reaches the
hub, which then shows the conversation as its agency's advisor's (`pending`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import nats

from shared import bus
from shared.schemas import InboxItemReceived, conversation_key, inbox_msg_id, inbox_subject
from tests.harness import RelaisSystem, eventually, http
from tests.hub.dashboard_client import create_user

LYON = "lyon-part-dieu"


def test_a_question_assigned_at_the_node_is_the_advisors_at_the_hub(relais: RelaisSystem) -> None:
    now = datetime.now(UTC).isoformat()
    item = InboxItemReceived(
        post_id="",
        agency=LYON,
        occurred_at=now,
        network="mastodon",
        page=f"{LYON}-mastodon",
        item_id="110000000000000077",
        conversation=conversation_key("mastodon", "110000000000000077"),
        root_id="110000000000000077",
        kind="mention",
        author_name="Samira B.",
        text="Bonjour, l'atelier CV de mardi est-il complet ?",
        created_at=now,
        via="webhook",
    )
    assert create_user(relais.data_dir, "karim", "advisor", agency=LYON).returncode == 0

    async def publish() -> None:
        nc = await nats.connect(relais.nats_url)
        try:
            subject = inbox_subject(LYON, item.conversation, "received")
            await bus.publish(nc.jetstream(), subject, item, inbox_msg_id("mastodon", item.item_id))
        finally:
            await nc.close()

    asyncio.run(publish())
    advisor, admin = relais.token("advisor", LYON), relais.token("admin")
    node = f"{relais.intake_url(LYON)}/v1/inbox/{item.conversation}"
    hub = f"{relais.hub_url}/v1/inbox/{item.conversation}"
    eventually(lambda: http("GET", node, token=advisor)[0] == 200, timeout=30)

    def assigned() -> Any:  # 422 until karim's account reaches the node
        status, body = http("POST", f"{node}/assign", {"assignee": "karim"}, token=advisor)
        return body if status == 200 else None

    answer = eventually(assigned, timeout=30)
    assert (answer["assignee"], answer["status"]) == ("karim", "pending")

    def at_the_hub() -> Any:
        status, body = http("GET", hub, token=admin)
        return body if status == 200 and body["assignee"] == "karim" else None

    conversation = eventually(at_the_hub, timeout=30)
    assert (conversation["agency"], conversation["status"]) == (LYON, "pending")
