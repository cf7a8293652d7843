"""The hub team's saved replies at the hub (issue #15 item 4): the real hub app, a real hub.db, the
real `saved_replies` bucket on a real nats-server.

The policy, written by hand: admins write saved replies, the hub's readers (moderators, ops, admins)
read them, an advisor's token neither; a saved reply is refused with the field at fault when its
language is not fr or ar, its title is blank, its id is not a bucket key (lower-case letters, digits,
-) or its text has an unknown variable or a lone brace; saving an id again changes it (its version
goes up); every save is audited (`saved_reply.saved`, by whom); each version reaches the bucket the
nodes read, once."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from services.hub.saved_replies import publish_saved_replies
from services.hub.store import events_named
from shared import bus
from shared.saved_replies import SAVED_REPLIES_BUCKET, SavedReplyRecord
from shared.tokens import issue_token, load_or_create_private_key
from tests.hub.hub_app import Hub

RDV = {
    "id": "rdv-prive",
    "language": "fr",
    "title": "Passer en message privé",
    "body": "Bonjour {auteur}, écrivez-nous en message privé : l'agence {agence} vous répond.",
}


def _auth(hub: Hub, role: str, **claims: Any) -> dict[str, str]:
    key = load_or_create_private_key(hub.settings.token_key_file)
    return {"Authorization": f"Bearer {issue_token(key, role=role, subject=f'{role}-probe', **claims)}"}


async def _save(hub: Hub, body: dict[str, Any], role: str = "admin", **claims: Any) -> tuple[int, Any]:
    response = await hub.client.post("/v1/saved-replies", json=body, headers=_auth(hub, role, **claims))
    return response.status, await response.json()


async def test_an_admin_saves_a_reply_and_every_save_is_a_new_version_audited(live_hub: Hub) -> None:
    status, saved = await _save(live_hub, RDV)
    assert status == 200, saved
    assert (saved["version"], saved["variables"], saved["updated_by"]) == (
        1,
        ["auteur", "agence"],
        "admin-probe",
    )
    status, changed = await _save(live_hub, {**RDV, "body": "Bonjour {auteur}, écrivez-nous en privé."})
    assert status == 200 and (changed["version"], changed["variables"]) == (2, ["auteur"])
    for role, claims in (("moderator", {}), ("moderator", {"region": "bretagne"}), ("ops", {})):
        response = await live_hub.client.get("/v1/saved-replies", headers=_auth(live_hub, role, **claims))
        assert response.status == 200
        assert [r["id"] for r in (await response.json())["saved_replies"]] == ["rdv-prive"]
    assert [(e["actor"], e["detail"]["id"]) for e in events_named(live_hub.db, "saved_reply.saved")] == [
        ("admin-probe", "rdv-prive"),
        ("admin-probe", "rdv-prive"),
    ]


async def test_only_admins_write_and_advisors_do_not_read(live_hub: Hub) -> None:
    for role, claims in (("moderator", {}), ("ops", {}), ("advisor", {"agency": "lyon-part-dieu"})):
        status, body = await _save(live_hub, RDV, role, **claims)
        assert status == 403, body
    advisor = _auth(live_hub, "advisor", agency="lyon-part-dieu")
    assert (await live_hub.client.get("/v1/saved-replies", headers=advisor)).status == 403
    assert (await live_hub.client.get("/v1/saved-replies")).status == 401
    assert live_hub.db.execute("select count(*) from saved_replies").fetchone()[0] == 0


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"language": "en"}, 422, "invalid_value", "language"),
        ({"title": "   "}, 422, "invalid_value", "title"),
        ({"id": "Rdv privé"}, 422, "invalid_value", "id"),
        ({"id": "a.b"}, 422, "invalid_value", "id"),
        ({"body": "Bonjour {agnce}"}, 422, "invalid_saved_reply", "body"),
        ({"body": "Bonjour {auteur"}, 422, "invalid_saved_reply", "body"),
        ({"body": "   "}, 422, "invalid_value", "body"),  # the schema says it: a body needs a character
        ({"extra": 1}, 400, "unknown_field", "extra"),
        ({"body": 3}, 400, "invalid_type", "body"),
    ],
)
async def test_a_bad_saved_reply_is_refused_naming_its_field(
    live_hub: Hub, change: dict[str, Any], status: int, code: str, field: str
) -> None:
    answer_status, body = await _save(live_hub, {**RDV, **change})
    assert answer_status == status, body
    assert (body["error"]["code"], body["error"]["field"]) == (code, field)
    assert live_hub.db.execute("select count(*) from saved_replies").fetchone()[0] == 0


async def test_each_version_reaches_the_bucket_the_nodes_read(live_hub: Hub) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(publish_saved_replies(live_hub.js, live_hub.db, stop))
    try:
        assert (await _save(live_hub, RDV))[0] == 200
        assert (await _save(live_hub, {**RDV, "title": "Message privé"}))[0] == 200
        kv = await bus.ensure_key_value(live_hub.js, SAVED_REPLIES_BUCKET)

        async def latest() -> SavedReplyRecord:
            while True:
                try:
                    entry = await kv.get("rdv-prive")
                    record = msgspec.json.decode(entry.value or b"", type=SavedReplyRecord)
                    if record.version == 2:
                        return record
                except Exception:  # not there yet
                    pass
                await asyncio.sleep(0.1)

        record = await asyncio.wait_for(latest(), 10)
        assert (record.title, record.body, record.language) == ("Message privé", RDV["body"], "fr")
    finally:
        stop.set()
        await task
