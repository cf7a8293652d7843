"""Replying from the hub (`POST /v1/inbox/{conversation}/replies`, and the conversation page's form):
the real hub app, its INBOX consumer and page registry mirror on a real nats-server, a real hub.db.

The policy, written by hand (services/hub/scope.py: reading outside one's region is a 404, acting
is a 403 `outside_scope`, both audited):
- admins and moderators reply; ops, an advisor's token: 403; no token: 401;
- a regional moderator replies to her region's conversations only: another region's is 403
  `outside_scope`, audited as `permission.denied`, and nothing is published; a conversation the hub
  does not have is 404;
- the reply is one post of the conversation's agency (`<agency>-…`), its author the moderator, to
  the conversation's page only, `reject` (one part), answering the latest item (or `item_id` when
  it is one of the conversation's) of the thread the hub's inbox knows: the hub's own reply check
  (`reply_refusal`) holds for it; the agency's node is told of it (`announced`);
- it is audited once as `inbox.reply_written` by the moderator;
- a saved reply is filled with the values given; a variable left without a value is 422
  `missing_value`; a text over the network's limit is 422 `too_long`; nothing is published then;
- the same `Idempotency-Key` twice is one reply (the first's id); with another text, 422; and so
  it stays after the bus has forgotten the message id (its de-duplication window is two minutes; a
  form sent again hours later is still the same reply to a citizen);
- a request that dies once the bus has its reply (before the node is told) has audited it already
  (with a key, in the transaction that stored it); the resend under its key tells the node: still
  one reply, audited once;
- the dashboard's form needs the session's CSRF token (403 without it, nothing published).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.hub import inbox_replies
from services.hub.inbox_store import reply_refusal
from services.hub.store import events_named
from shared.accounts import create_user, open_session
from shared.schemas import PostAnnounced, PostReceived, ReplyTo, decode
from shared.tokens import issue_token, load_or_create_private_key
from tests.hub.dashboard_client import PASSWORD
from tests.hub.hub_app import Hub
from tests.hub.inbox_desk import LYON, RENNES, Desk, inbox_desk, question

PARIS = ZoneInfo("Europe/Paris")
MONDAY = datetime(2026, 12, 7, 9, tzinfo=PARIS)
LYON_PAGE, RENNES_PAGE = f"{LYON}-mastodon", f"{RENNES}-mastodon"


def bearer(
    hub: Hub, role: str, subject: str, region: str | None = None, agency: str | None = None
) -> dict[str, str]:
    key = load_or_create_private_key(hub.settings.token_key_file)
    token = issue_token(key, role=role, subject=subject, region=region, agency=agency)
    return {"Authorization": f"Bearer {token}"}


async def two_conversations(desk: Desk) -> tuple[str, str, str]:
    """Lyon's (two items: a question and its follow-up in the same thread) and Rennes's; returns
    (Lyon's conversation, its latest item, Rennes's conversation)."""
    first = question(LYON_PAGE, "901", MONDAY)
    again = question(LYON_PAGE, "902", MONDAY + timedelta(minutes=5), "Et samedi ?", root_id="901")
    rennes = question(RENNES_PAGE, "903", MONDAY)
    for item in (first, again, rennes):
        await desk.publish(item)
    await desk.stored("inbox_items", 3)
    return first.conversation, again.item_id, rennes.conversation


async def published_posts(hub: Hub) -> list[PostReceived]:
    info = await hub.js.stream_info("POSTS")
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        if info.state.messages == 0:
            break
        message = await hub.js.get_msg("POSTS", seq)
        assert message.data is not None
        found.append(decode(message.data, PostReceived))
    return found


async def reply(hub: Hub, conversation: str, body: object, headers: dict[str, str]) -> tuple[int, Any]:
    response = await hub.client.post(f"/v1/inbox/{conversation}/replies", json=body, headers=headers)
    return response.status, await response.json()


async def test_a_moderators_reply_is_a_post_of_the_conversations_agency_to_its_page(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, MONDAY) as desk:
        lyon, latest, _ = await two_conversations(desk)
        status, body = await reply(
            live_hub, lyon, {"text": "Oui, de 9 h à 13 h."}, bearer(live_hub, "moderator", "nadia")
        )
    assert status == 202, body
    [post] = await published_posts(live_hub)
    assert post.post_id == body["id"] and post.post_id.startswith(f"{LYON}-")
    assert (post.agency, post.author, post.text) == (LYON, "nadia", "Oui, de 9 h à 13 h.")
    assert [(t.network, t.page) for t in post.targets] == [("mastodon", LYON_PAGE)]
    assert post.selectors == [] and post.policy == {"mastodon": "reject"}
    assert post.reply_to == ReplyTo(
        conversation=lyon, network="mastodon", page=LYON_PAGE, item_id=latest, root_id="901", kind="mention"
    )
    assert reply_refusal(live_hub.db, LYON, post.reply_to) is None  # the hub's own check lets it through
    announced = await live_hub.js.get_last_msg("DECISIONS", f"decisions.{LYON}.{post.post_id}.announced")
    assert announced.data is not None
    told = decode(announced.data, PostAnnounced)
    assert (told.agency, told.author, told.text) == (LYON, "nadia", post.text)
    [written] = events_named(live_hub.db, "inbox.reply_written")
    assert (written["actor"], written["agency"], written["post_id"]) == ("nadia", LYON, post.post_id)
    assert written["detail"]["conversation"] == lyon


async def test_who_may_reply_and_where(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, MONDAY) as desk:
        lyon, _, rennes = await two_conversations(desk)
        text = {"text": "Bonjour."}
        bretagne = bearer(live_hub, "moderator", "morgane", region="bretagne")
        outside = await reply(live_hub, lyon, text, bretagne)
        refused = [
            (await reply(live_hub, lyon, text, bearer(live_hub, "ops", "oscar")))[0],
            (await reply(live_hub, lyon, text, bearer(live_hub, "advisor", "claire", agency=LYON)))[0],
            (await reply(live_hub, lyon, text, {}))[0],
            (await reply(live_hub, "mastodon-000000000000000000000000", text, bretagne))[0],
        ]
        assert await published_posts(live_hub) == []
        own = await reply(live_hub, rennes, text, bretagne)
        admin = await reply(live_hub, lyon, text, bearer(live_hub, "admin", "alice"))
    assert (outside[0], outside[1]["error"]["code"]) == (403, "outside_scope")
    assert refused == [403, 403, 401, 404]
    assert own[0] == 202 and admin[0] == 202
    assert [p.agency for p in await published_posts(live_hub)] == [RENNES, LYON]
    denied = [e for e in events_named(live_hub.db, "permission.denied") if e["agency"] == LYON]
    assert [(e["actor"], e["detail"]["status"]) for e in denied if e["actor"] == "morgane"] == [
        ("morgane", 403)
    ]


async def test_bad_replies_are_refused_naming_the_field_and_nothing_is_sent(live_hub: Hub) -> None:
    live_hub.db.execute(
        "insert into saved_replies (id, language, title, body, version, updated_by, updated_at)"
        " values ('prive', 'fr', 'En privé', 'Bonjour {auteur}, écrivez-nous ({lien}).', 1, 'a', 'now')"
    )
    live_hub.db.conn.commit()
    async with inbox_desk(live_hub, MONDAY) as desk:
        lyon, _, _ = await two_conversations(desk)
        headers = bearer(live_hub, "moderator", "nadia")
        answers = [
            await reply(live_hub, lyon, {"text": "x" * 600}, headers),
            await reply(live_hub, lyon, {"saved_reply": "prive", "values": {"auteur": "Samira"}}, headers),
            await reply(live_hub, lyon, {"text": "Oui.", "item_id": "903"}, headers),  # Rennes's item
            await reply(live_hub, lyon, {"text": "Oui.", "saved_reply": "prive"}, headers),
            await reply(live_hub, lyon, {"text": "   "}, headers),
        ]
        assert await published_posts(live_hub) == []
        values = {"auteur": "Samira", "lien": "https://example.org/rdv"}
        filled = await reply(live_hub, lyon, {"saved_reply": "prive", "values": values}, headers)
    codes = [(status, body["error"]["code"], body["error"]["field"]) for status, body in answers]
    assert codes[0][:2] == (422, "too_long")
    assert codes[1] == (422, "missing_value", "values")
    assert codes[2] == (422, "unknown_item", "item_id")
    assert codes[3][:2] == (400, "conflicting_fields")
    assert codes[4][0] in (400, 422) and codes[4][2] == "text"
    assert filled[0] == 202
    [post] = await published_posts(live_hub)
    assert post.text == "Bonjour Samira, écrivez-nous (https://example.org/rdv)."


async def test_the_same_idempotency_key_is_one_reply(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, MONDAY) as desk:
        lyon, _, _ = await two_conversations(desk)
        headers = {**bearer(live_hub, "moderator", "nadia"), "Idempotency-Key": "8c1b3c1e-double-click"}
        first = await reply(live_hub, lyon, {"text": "Oui."}, headers)
        again = await reply(live_hub, lyon, {"text": "Oui."}, headers)
        other = await reply(live_hub, lyon, {"text": "Non."}, headers)
    assert first[0] == again[0] == 202 and first[1]["id"] == again[1]["id"]
    assert (other[0], other[1]["error"]["code"]) == (422, "idempotency_key_reused")
    assert len(await published_posts(live_hub)) == 1
    assert len(events_named(live_hub.db, "inbox.reply_written")) == 1


async def test_a_key_outlives_the_bus_de_duplication_window(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, MONDAY) as desk:
        lyon, _, _ = await two_conversations(desk)
        headers = {**bearer(live_hub, "moderator", "nadia"), "Idempotency-Key": "form-sent-again-at-5pm"}
        first = await reply(live_hub, lyon, {"text": "Oui, jeudi."}, headers)
        # The bus forgets message ids after its window: shortened here instead of waiting two minutes.
        config = (await live_hub.js.stream_info("POSTS")).config
        await live_hub.js.update_stream(replace(config, duplicate_window=0.1))
        await asyncio.sleep(0.3)
        again = await reply(live_hub, lyon, {"text": "Oui, jeudi."}, headers)
        other = await reply(live_hub, lyon, {"text": "Non."}, headers)
    assert first[0] == again[0] == 202 and first[1]["id"] == again[1]["id"]
    assert (other[0], other[1]["error"]["code"]) == (422, "idempotency_key_reused")
    assert [p.text for p in await published_posts(live_hub)] == ["Oui, jeudi."]
    assert len(events_named(live_hub.db, "inbox.reply_written")) == 1


async def test_resends_racing_each_other_are_one_reply_audited_once(live_hub: Hub) -> None:
    async with inbox_desk(live_hub, MONDAY) as desk:
        lyon, _, _ = await two_conversations(desk)
        headers = {**bearer(live_hub, "moderator", "nadia"), "Idempotency-Key": "impatient-clicks"}
        answers = await asyncio.gather(*(reply(live_hub, lyon, {"text": "Oui."}, headers) for _ in range(4)))
    assert {status for status, _ in answers} == {202} and len({body["id"] for _, body in answers}) == 1
    assert len(await published_posts(live_hub)) == 1
    assert len(events_named(live_hub.db, "inbox.reply_written")) == 1


async def test_a_reply_whose_request_died_after_publishing_is_told_and_audited_through_its_resend(
    live_hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub dies between putting the reply on the bus and telling its node (here: the
    announcement fails once). The reply is already audited (with its key, in the transaction that
    stored it), and the resend under the same key tells the node, still one reply, audited once."""
    announce = inbox_replies._announce
    calls = 0

    async def dies_the_first_time(js: Any, post: PostReceived) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("the hub was killed here")
        await announce(js, post)

    monkeypatch.setattr(inbox_replies, "_announce", dies_the_first_time)
    async with inbox_desk(live_hub, MONDAY) as desk:
        lyon, _, _ = await two_conversations(desk)
        headers = {**bearer(live_hub, "moderator", "nadia"), "Idempotency-Key": "killed-mid-request"}
        died = await live_hub.client.post(f"/v1/inbox/{lyon}/replies", json={"text": "Oui."}, headers=headers)
        assert died.status == 500
        [post] = await published_posts(live_hub)
        assert [e["post_id"] for e in events_named(live_hub.db, "inbox.reply_written")] == [post.post_id]
        again = await reply(live_hub, lyon, {"text": "Oui."}, headers)
        later = await reply(live_hub, lyon, {"text": "Oui."}, headers)
    assert again[0] == later[0] == 202 and again[1]["id"] == later[1]["id"] == post.post_id
    assert [p.post_id for p in await published_posts(live_hub)] == [post.post_id]
    told = await live_hub.js.get_last_msg("DECISIONS", f"decisions.{LYON}.{post.post_id}.announced")
    assert told.data is not None and decode(told.data, PostAnnounced).reply_to == post.reply_to
    assert calls == 2  # the answer after the node was told comes from the key alone
    assert len(events_named(live_hub.db, "inbox.reply_written")) == 1


async def test_the_dashboards_reply_form_needs_the_sessions_csrf_token(live_hub: Hub) -> None:
    create_user(live_hub.db, "nadia", "moderator", None, PASSWORD)
    cookie = {"Cookie": f"relais_session={open_session(live_hub.db, 'nadia').cookie}"}
    async with inbox_desk(live_hub, MONDAY) as desk:
        lyon, _, _ = await two_conversations(desk)
        page = await (await live_hub.client.get(f"/inbox/{lyon}", headers=cookie)).text()
        csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        path = f"/inbox/{lyon}/replies"
        without = await live_hub.client.post(
            path, data={"text": "Oui."}, headers=cookie, allow_redirects=False
        )
        wrong = await live_hub.client.post(
            path, data={"text": "Oui.", "csrf": "not-it"}, headers=cookie, allow_redirects=False
        )
        assert (without.status, wrong.status) == (403, 403)
        assert await published_posts(live_hub) == []
        sent = await live_hub.client.post(
            path, data={"text": "Oui.", "csrf": csrf}, headers=cookie, allow_redirects=False
        )
    assert sent.status == 303, await sent.text()
    [post] = await published_posts(live_hub)
    assert (post.author, post.text) == ("nadia", "Oui.")


async def test_the_reply_forms_preview_shows_the_networks_one_part_and_keeps_to_the_region(
    live_hub: Hub,
) -> None:
    create_user(live_hub.db, "morgane", "moderator", "bretagne", PASSWORD)
    create_user(live_hub.db, "nadia", "moderator", None, PASSWORD)
    cookies = {
        name: {"Cookie": f"relais_session={open_session(live_hub.db, name).cookie}"}
        for name in ("morgane", "nadia")
    }
    async with inbox_desk(live_hub, MONDAY) as desk:
        lyon, _, _ = await two_conversations(desk)
        page = await (await live_hub.client.get(f"/inbox/{lyon}", headers=cookies["nadia"])).text()
        csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        path = f"/inbox/{lyon}/preview"

        async def ask(text: str, who: str = "nadia", token: str = csrf) -> tuple[int, Any]:
            headers = {**cookies[who], "X-CSRF-Token": token, "Accept": "application/json"}
            response = await live_hub.client.post(path, data={"text": text}, headers=headers)
            return response.status, await response.json()

        short, long = await ask("Oui, samedi."), await ask("x" * 600)
        without = await ask("Oui.", token="not-it")
        hers = await (await live_hub.client.get("/inbox", headers=cookies["morgane"])).text()
        her_csrf = hers.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        outside = await ask("Oui.", who="morgane", token=her_csrf)
    assert short[0] == 200
    [variant] = short[1]["variants"]
    assert (variant["network"], variant["fits"], [p["text"] for p in variant["parts"]]) == (
        "mastodon",
        True,
        ["Oui, samedi."],
    )
    [over] = long[1]["variants"]
    assert [e["code"] for e in over["errors"]] == ["too_long"] and len(over["parts"]) <= 1
    assert (without[0], without[1]["error"]["code"]) == (403, "csrf")
    assert outside[0] == 404
    assert await published_posts(live_hub) == []
