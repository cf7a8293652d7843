"""A question polled by the dispatcher reaches the hub's inbox, as `make run` wires the services: real
processes (nats-server, the federation publishing the demo registry, the hub, the sandbox and the
dispatcher) on loopback, the dispatcher reading every half second.

The policy: a citizen's mention of Lyon Part-Dieu's Mastodon page (registry handle ft_lyon_partdieu),
with a NIR, a phone number and an e-mail address, becomes one conversation of Lyon Part-Dieu at the
hub, new in its queue, its text masked, once though the network notified it twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.schemas import conversation_key
from tests.harness import RelaisSystem, eventually, http

LYON = "lyon-part-dieu"
LYON_MASTODON = "ft_lyon_partdieu"


@pytest.fixture
def system(tmp_path: Path) -> Iterator[RelaisSystem]:
    relais = RelaisSystem(tmp_path, agencies=[LYON])
    relais.processes["dispatcher"].spec.env["RELAIS_INBOX_POLL_SECONDS"] = "0.5"
    try:
        relais.start("nats", "federation", "hub", "sandbox", "dispatcher")
        yield relais
    finally:
        relais.stop()


def conversations(system: RelaisSystem) -> list[dict[str, Any]]:
    status, body = http("GET", f"{system.hub_url}/v1/inbox", token=system.token("admin"))
    assert status == 200, body
    found: list[dict[str, Any]] = body["conversations"]
    return found


def test_a_polled_mention_becomes_a_new_masked_conversation_of_the_pages_agency(system: RelaisSystem) -> None:
    text = "Bonjour, sécu 2 95 10 99 126 111 93, appelez le 06 12 34 56 78 ou jean.dupont@example.fr"
    body = {"network": "mastodon", "account": LYON_MASTODON, "texts": [text], "duplicates": 1}
    status, answer = http("POST", f"{system.sandbox_url}/_sandbox/incoming", body)
    assert status == 201, answer
    item_id = answer["items"][0]["item_id"]
    conversation = conversation_key("mastodon", item_id)

    def at_the_hub() -> dict[str, Any] | None:
        found = [c for c in conversations(system) if c["conversation"] == conversation]
        return found[0] if found else None

    found = eventually(at_the_hub, timeout=30)
    assert (found["agency"], found["network"], found["status"]) == (LYON, "mastodon", "new")
    assert (
        found["last_item"]["text"] == f"@{LYON_MASTODON} Bonjour, sécu ⟦nir⟧, appelez le ⟦phone⟧ ou ⟦email⟧"
    )
    assert [c["conversation"] for c in conversations(system)].count(conversation) == 1
