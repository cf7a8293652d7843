"""Hiding a comment across the running system (issue #15 item 5): every process `relais run` starts
for Lyon (nats-server with its real users, federation, formatter, hub, dispatcher, sandbox, Lyon's
node), Lyon's link to the hub through a proxy the test cuts.

The policy, written by hand: a citizen's comment on Lyon's Facebook page, pushed by Meta's webhook,
reaches the hub and the node masked; an advisor asks to hide it while the node is offline (202, on
disk); when the link returns the request reaches the hub once, the hub orders it once, and the
dispatcher hides it with Facebook's `is_hidden` (the comment leaves the public listing of the
emulator); the dispatcher is SIGKILLed after the call landed and before its outcome was stored, and
after its restart the outcome is still recorded and announced once: the item shows `hidden` at the
hub and at the node, and the audit holds one `inbox.hide_requested`, one `inbox.hide_ordered`, one
`inbox.hidden`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.harness import RelaisSystem, eventually, http

LYON = "lyon-part-dieu"
FACEBOOK_PAGE_ID = "104857600123"  # lyon-part-dieu-facebook's handle in the demo registry
NIR = "1 85 05 78 006 084 36"


@pytest.fixture
def relais(tmp_path: Path) -> Iterator[RelaisSystem]:
    system = RelaisSystem(tmp_path, agencies=[LYON], proxied=True)
    # Long enough for the kill to come first while the network keeps the call waiting.
    system.processes["dispatcher"].spec.env["RELAIS_DISPATCHER_HTTP_TIMEOUT"] = "8"
    system.start_links()
    try:
        system.start()
        yield system
    finally:
        system.stop()
        system.close_links()


def node_items(relais: RelaisSystem, conversation: str) -> dict[str, dict[str, Any]]:
    url = f"{relais.intake_url(LYON)}/v1/inbox/{conversation}"
    status, body = http("GET", url, token=relais.token("advisor", LYON))
    return {i["item_id"]: i for i in body["items"]} if status == 200 else {}


def hub_items(relais: RelaisSystem, conversation: str) -> dict[str, dict[str, Any]]:
    status, body = http("GET", f"{relais.hub_url}/v1/inbox/{conversation}", token=relais.token("admin"))
    return {i["item_id"]: i for i in body["items"]} if status == 200 else {}


def public(relais: RelaisSystem) -> list[str]:
    status, body = http("GET", f"{relais.sandbox_url}/_sandbox/audience/facebook/{FACEBOOK_PAGE_ID}")
    assert status == 200, body
    return [item["id"] for item in body["items"]]


def audited(relais: RelaisSystem, event: str) -> list[dict[str, Any]]:
    status, body = http("GET", f"{relais.hub_url}/v1/audit?event={event}", token=relais.token("admin"))
    assert status == 200, body
    return list(body["events"])


def hide_row(relais: RelaisSystem, item_id: str) -> dict[str, Any] | None:
    database = relais.data_dir / "dispatcher.db"
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as db:
        db.row_factory = sqlite3.Row
        try:
            row = db.execute("select * from hides where item_id = ?", [item_id]).fetchone()
        except sqlite3.OperationalError:
            return None
    return dict(row) if row is not None else None


def test_a_comment_asked_hidden_offline_is_hidden_once_even_when_the_dispatcher_dies_mid_call(
    relais: RelaisSystem,
) -> None:
    pushed = {"page_id": FACEBOOK_PAGE_ID, "text": f"Mon numéro de sécu est {NIR}, rappelez-moi"}
    status, answer = http("POST", f"{relais.sandbox_url}/_sandbox/webhooks/meta", pushed)
    assert status == 200, answer
    [comment_id] = answer["ids"]

    def at_node() -> str | None:
        status, body = http("GET", f"{relais.intake_url(LYON)}/v1/inbox", token=relais.token("advisor", LYON))
        found = (
            [c["id"] for c in body.get("conversations", []) if c["network"] == "facebook"]
            if status == 200
            else []
        )
        return found[0] if found and comment_id in node_items(relais, found[0]) else None

    conversation = eventually(at_node, timeout=30)
    assert NIR not in str(node_items(relais, conversation))  # masked before the bus

    relais.links[LYON].cut()
    url = f"{relais.intake_url(LYON)}/v1/inbox/{conversation}/items/{comment_id}/hide"
    status, body = http("POST", url, token=relais.token("advisor", LYON))
    assert (status, body["hidden"]) == (202, "requested"), body
    # Facebook hides it, then keeps the dispatcher waiting: the kill comes before the outcome is stored.
    faults = {
        "network": "facebook",
        "account": FACEBOOK_PAGE_ID,
        "mode": "timeout_after_create",
        "seconds": 60,
    }
    assert http("POST", f"{relais.sandbox_url}/_sandbox/faults", faults)[0] == 201
    relais.links[LYON].restore()

    def landed_and_in_flight() -> bool:
        row = hide_row(relais, comment_id)
        return row is not None and row["status"] == "calling" and comment_id not in public(relais)

    eventually(landed_and_in_flight, timeout=30, interval=0.05)
    relais.kill("dispatcher")
    relais.start("dispatcher")

    eventually(lambda: node_items(relais, conversation)[comment_id]["hidden"] == "hidden", timeout=30)
    hub = hub_items(relais, conversation)[comment_id]
    assert (hub["hidden"], hub["hide_error"]) == ("hidden", None)
    assert comment_id not in public(relais)
    row = hide_row(relais, comment_id)
    assert row is not None and (row["status"], row["attempts"]) == ("hidden", 2)

    for event in ("inbox.hide_requested", "inbox.hide_ordered", "inbox.hidden"):
        entries = eventually(partial(audited, relais, event), timeout=15)
        assert [e["detail"]["item_id"] for e in entries] == [comment_id], event
    [requested] = audited(relais, "inbox.hide_requested")
    assert (requested["actor"], requested["agency"]) == (f"advisor@{LYON}", LYON)
    [done] = audited(relais, "inbox.hidden")
    assert (done["detail"]["outcome"], done["page"]) == ("hidden", f"{LYON}-facebook")
    assert audited(relais, "inbox.hide_refused") == []
