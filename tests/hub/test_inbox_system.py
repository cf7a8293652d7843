"""The inbox wired into the running hub (`relais run`'s processes: federation, hub, nats-server): a
question published on INBOX, twice, reaches `GET /v1/inbox` once, on the calendar the registry gave
its page (the demo registry's Lyon page: Auvergne-Rhône-Alpes, `fr-metropole`), and is audited."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import nats

from shared import bus
from shared.schemas import InboxItemReceived, conversation_key, inbox_msg_id, inbox_subject
from tests.harness import RelaisSystem, eventually, http

LYON = "lyon-part-dieu"


def test_a_question_reaches_the_running_hubs_inbox_once(relais: RelaisSystem) -> None:
    item = InboxItemReceived(
        post_id="",
        agency=LYON,
        occurred_at=datetime.now(UTC).isoformat(),
        network="mastodon",
        page=f"{LYON}-mastodon",
        item_id="110000000000000042",
        conversation=conversation_key("mastodon", "110000000000000042"),
        root_id="110000000000000042",
        kind="mention",
        text="Bonjour, mon inscription est-elle validée ?",
        created_at=datetime.now(UTC).isoformat(),
        via="webhook",
    )

    async def publish() -> None:
        nc = await nats.connect(relais.nats_url)
        try:
            subject = inbox_subject(LYON, item.conversation, "received")
            await bus.publish(nc.jetstream(), subject, item, inbox_msg_id("mastodon", item.item_id))
            await bus.publish(nc.jetstream(), subject, item, "a copy from another path")
        finally:
            await nc.close()

    asyncio.run(publish())
    admin = relais.token("admin")

    def listed() -> list[dict[str, object]] | None:
        status, body = http("GET", f"{relais.hub_url}/v1/inbox", token=admin)
        assert status == 200, body
        return body["conversations"] or None

    [conversation] = eventually(listed, timeout=30)
    assert conversation["conversation"] == item.conversation
    assert (conversation["region"], conversation["calendar"], conversation["status"]) == (
        "auvergne-rhone-alpes",
        "fr-metropole",
        "new",
    )
    assert str(conversation["deadline"]).endswith(("+01:00", "+02:00"))  # Paris's offset, never Z
    status, view = http("GET", f"{relais.hub_url}/v1/inbox/{item.conversation}", token=admin)
    assert status == 200 and [i["item_id"] for i in view["items"]] == [item.item_id]

    def audited() -> int:  # the audit records bus events: two messages (one item), each once
        status, body = http("GET", f"{relais.hub_url}/v1/audit?event=inbox.received", token=admin)
        assert status == 200, body
        return len(body["events"])

    eventually(lambda: audited() == 2)
