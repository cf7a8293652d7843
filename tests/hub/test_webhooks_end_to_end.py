"""Meta's webhooks end to end, as `make run` wires them: real processes (nats-server, the federation
publishing the demo registry, the hub, the sandbox) on loopback, the hub configured with the
sandbox's webhook secrets by `relais` (relais/system.py), the sandbox sending to the hub's address.

The policy: a comment the sandbox pushes for Lyon's Facebook Page (registry handle 104857600123)
reaches the INBOX stream once, masked, under Lyon's agency, even sent twice, and the hub's inbox
lists its conversation as new in Lyon's queue; a push signed with
another secret is refused (401 at every retry), audited, and publishes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import msgspec
import nats
import pytest

from shared.schemas import InboxItemReceived
from tests.harness import RelaisSystem, eventually, http

LYON = "lyon-part-dieu"
LYON_FACEBOOK = "104857600123"


@pytest.fixture
def system(tmp_path: Path) -> Iterator[RelaisSystem]:
    relais = RelaisSystem(tmp_path, agencies=[LYON])
    try:
        relais.start("nats", "federation", "hub", "sandbox")
        yield relais
    finally:
        relais.stop()


def inbox(relais: RelaisSystem) -> list[InboxItemReceived]:
    async def read() -> list[InboxItemReceived]:
        nc = await nats.connect(relais.nats_url)
        try:
            js = nc.jetstream()
            state = (await js.stream_info("INBOX")).state
            if state.messages == 0:
                return []
            raws = [await js.get_msg("INBOX", seq) for seq in range(state.first_seq, state.last_seq + 1)]
            return [msgspec.json.decode(raw.data or b"", type=InboxItemReceived) for raw in raws]
        finally:
            await nc.close()

    return asyncio.run(read())


def test_a_comment_pushed_by_the_sandbox_reaches_the_inbox_once_and_masked(system: RelaisSystem) -> None:
    comment = {
        "page_id": LYON_FACEBOOK,
        "post_id": f"{LYON_FACEBOOK}_77",
        "text": "Bonjour, mon numéro de sécu est 1 85 05 78 006 084 91, appelez le 06 12 34 56 78",
        "copies": 2,
    }

    def pushed() -> bool:  # the hub answers 503 until its copy of the registry is loaded
        status, answer = http("POST", f"{system.sandbox_url}/_sandbox/webhooks/meta", comment)
        assert status == 200, answer
        return all(tries[-1] == 200 for tries in answer["deliveries"])

    eventually(pushed, timeout=30)
    [item] = inbox(system)
    assert (item.agency, item.page, item.kind, item.via) == (LYON, f"{LYON}-facebook", "comment", "webhook")
    assert item.text == "Bonjour, mon numéro de sécu est ⟦nir⟧, appelez le ⟦phone⟧"
    assert item.masked == ["nir", "phone"]

    def in_the_hubs_inbox() -> dict[str, object] | None:  # the hub's own INBOX consumer stored it
        status, body = http("GET", f"{system.hub_url}/v1/inbox", token=system.token("admin"))
        assert status == 200, body
        found = [c for c in body["conversations"] if c["conversation"] == item.conversation]
        return found[0] if found else None

    conversation = eventually(in_the_hubs_inbox, timeout=30)
    assert (conversation["agency"], conversation["network"], conversation["status"]) == (
        LYON,
        "facebook",
        "new",
    )
    assert conversation["last_item"]["text"] == item.text


def test_a_push_signed_with_another_secret_is_refused_and_audited(system: RelaisSystem) -> None:
    body = {"page_id": LYON_FACEBOOK, "text": "Bonjour", "signature": "wrong", "attempts": 2}
    status, answer = http("POST", f"{system.sandbox_url}/_sandbox/webhooks/meta", body)
    assert status == 200, answer
    assert answer["deliveries"] == [[401, 401]]
    assert inbox(system) == []
    status, audit = http(
        "GET", f"{system.hub_url}/v1/audit?event=permission.denied", token=system.token("admin")
    )
    assert status == 200, audit
    routes = [event["detail"]["route"] for event in audit["events"]]
    assert routes == ["/webhooks/meta", "/webhooks/meta"]
    assert "sbx-meta-app-secret" not in str(audit)
