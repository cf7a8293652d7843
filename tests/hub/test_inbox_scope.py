"""Who reads the inbox at the hub, as an attacker would try it. The policy, written by hand (the
posts' rule, services/hub/scope.py, README « Security model »):

- moderators, ops and admins read; an agency's token (an advisor's) is refused, 403;
- a regional moderator's list holds her region's agencies' conversations only; one conversation of
  another region is answered 404 `not_found`, exactly like one that does not exist, and the refusal
  is audited (`permission.denied`, status 404);
- every view shows the text masked, even when a publisher forgot to mask it;
- the audit records inbox events (ids and facts, never the text), and a body naming another agency
  than its subject is not recorded as that agency's.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.hub.service import record
from services.hub.store import events_named
from shared import bus
from shared.schemas import encode, inbox_subject
from shared.tokens import issue_token, load_or_create_private_key
from tests.hub.hub_app import Hub
from tests.hub.inbox_desk import LYON, RENNES, assignment, inbox_desk, question

MONDAY_9AM = datetime(2026, 12, 7, 9, tzinfo=ZoneInfo("Europe/Paris"))
PHONE = "06 12 34 56 78"


async def _get(hub: Hub, path: str, role: str, region: str | None = None, agency: str | None = None) -> Any:
    key = load_or_create_private_key(hub.settings.token_key_file)
    token = issue_token(
        key, role=role, subject=f"{role}-{region or agency or 'national'}", region=region, agency=agency
    )
    response = await hub.client.get(path, headers={"Authorization": f"Bearer {token}"})
    return response.status, await response.json()


async def test_a_regional_moderator_reads_her_regions_conversations_only(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, MONDAY_9AM + timedelta(hours=1)) as desk:
        lyon = question(f"{LYON}-mastodon", "601", MONDAY_9AM, f"Rappelez-moi au {PHONE} svp")
        rennes = question(f"{RENNES}-mastodon", "602", MONDAY_9AM, "Bonjour")
        await desk.publish(lyon)
        await desk.publish(rennes)
        await desk.stored("inbox_conversations", 2)

        def listed(body: Any) -> set[str]:
            return {c["conversation"] for c in body["conversations"]}

        for role in ("admin", "ops", "moderator"):  # national readers: everything
            status, body = await _get(live_hub, "/v1/inbox", role)
            assert status == 200 and listed(body) == {lyon.conversation, rennes.conversation}, role
        status, body = await _get(live_hub, "/v1/inbox", "moderator", region="bretagne")
        assert status == 200 and listed(body) == {rennes.conversation}
        [shown] = body["conversations"]
        assert (shown["agency"], shown["region"], shown["status"], shown["escalation_level"]) == (
            RENNES,
            "bretagne",
            "new",
            None,
        )

        # Another region's conversation, by its id: as absent as one that does not exist.
        absent = await _get(live_hub, "/v1/inbox/mastodon-000000000000000000000000", "moderator", "bretagne")
        outside = await _get(live_hub, f"/v1/inbox/{lyon.conversation}", "moderator", "bretagne")
        assert outside == absent
        assert outside[0] == 404 and outside[1]["error"]["code"] == "not_found"
        refusals = events_named(live_hub.db, "permission.denied")
        assert any(e["agency"] == LYON and e["detail"]["status"] == 404 for e in refusals)
        # Her own region's, and the Lyon one for Lyon's region.
        assert (await _get(live_hub, f"/v1/inbox/{rennes.conversation}", "moderator", "bretagne"))[0] == 200
        status, view = await _get(
            live_hub, f"/v1/inbox/{lyon.conversation}", "moderator", "auvergne-rhone-alpes"
        )
        assert status == 200 and [i["item_id"] for i in view["items"]] == ["601"]

        # An agency's token, its own agency's conversation included: refused.
        for path in ("/v1/inbox", f"/v1/inbox/{lyon.conversation}"):
            status, body = await _get(live_hub, path, "advisor", agency=LYON)
            assert status == 403 and body["error"]["code"] == "forbidden", path
            assert (await live_hub.client.get(path)).status == 401, path  # no token at all

        # The publisher did not mask the phone number: no view shows it.
        status, body = await _get(live_hub, "/v1/inbox", "admin")
        texts = [c["last_item"]["text"] for c in body["conversations"]] + [i["text"] for i in view["items"]]
        assert all(PHONE not in text for text in texts)
        assert "Rappelez-moi au ⟦phone⟧ svp" in texts


async def test_the_audit_records_inbox_events_without_their_text(live_hub: Hub) -> None:
    """Before this, any message on INBOX stopped the hub's audit of that stream: it had no entry for it."""
    item = question(f"{LYON}-mastodon", "701", MONDAY_9AM, "Mon numéro est le 0612345678")
    assigned = assignment(item, "claire", MONDAY_9AM + timedelta(minutes=3))
    forged = assignment(item, "yann", MONDAY_9AM + timedelta(minutes=4), agency=LYON)
    record(
        live_hub.db,
        [
            bus.Incoming(inbox_subject(LYON, item.conversation, "received"), encode(item), 1, "INBOX", 1),
            bus.Incoming(inbox_subject(LYON, item.conversation, "assigned"), encode(assigned), 1, "INBOX", 2),
            # Rennes's user on its own subject, with a body naming Lyon.
            bus.Incoming(inbox_subject(RENNES, item.conversation, "assigned"), encode(forged), 1, "INBOX", 3),
        ],
    )
    [received] = events_named(live_hub.db, "inbox.received")
    assert (received["agency"], received["page"], received["actor"]) == (LYON, f"{LYON}-mastodon", "poll")
    assert received["detail"] == {
        "conversation": item.conversation,
        "item_id": "701",
        "kind": "mention",
        "masked": [],
        "via": "poll",
    }
    [given] = events_named(live_hub.db, "inbox.assigned")
    assert (given["actor"], given["detail"]["assignee"], given["agency"]) == ("claire", "claire", LYON)
    assert "0612345678" not in str(events_named(live_hub.db, "inbox.received"))
