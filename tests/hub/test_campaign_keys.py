"""`Idempotency-Key` on the hub's `POST /v1/posts` (a campaign): a client that resends after losing
the answer gets the campaign stored the first time, never a second campaign on every page it reaches.
Real hub app, real nats-server, real SQLite.

The policy, as the node's (tests/intake/test_idempotency_key.py), written by hand:
- a key is the author's (the token's subject): another moderator's same key is another campaign;
- the same key with the same body answers 202 with the first campaign's id and
  `Idempotent-Replayed: true`, however late, and publishes nothing more;
- the same key with another body is refused (422 `idempotency_key_reused`), nothing published;
- a key that is not 1–255 visible ASCII characters is refused (400 `invalid_idempotency_key`);
- a request refused for its content consumes no key;
- two resends racing each other are one campaign;
- a hub killed after storing a keyed campaign and before publishing it: the resend publishes that
  campaign, once.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from services.hub.request_keys import key_id, reserve
from services.hub.scope import HUB_AGENCY
from shared.idempotency import fingerprint
from shared.ids import new_post_id, utc_now
from shared.schemas import PostReceived, decode
from shared.tokens import issue_token, load_or_create_private_key
from tests.hub.hub_app import Hub

CAMPAIGN = {"text": "Semaine de l'emploi : 300 offres #emploi", "networks": ["x"], "selectors": ["nation"]}


def keyed(hub: Hub, key: str, subject: str = "nadia") -> dict[str, str]:
    private = load_or_create_private_key(hub.settings.token_key_file)
    token = issue_token(private, role="admin", subject=subject)
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": key}


async def send(hub: Hub, body: object, headers: dict[str, str]) -> tuple[int, Any, str | None]:
    response = await hub.client.post("/v1/posts", json=body, headers=headers)
    return response.status, await response.json(), response.headers.get("Idempotent-Replayed")


async def campaigns(hub: Hub) -> list[PostReceived]:
    state = (await hub.js.stream_info("POSTS")).state
    found = []
    for seq in range(state.first_seq, state.last_seq + 1 if state.messages else state.first_seq):
        message = await hub.js.get_msg("POSTS", seq)
        assert message.data is not None
        found.append(decode(message.data, PostReceived))
    return found


async def test_a_resend_is_the_first_campaign_however_late(live_hub: Hub) -> None:
    first = await send(live_hub, CAMPAIGN, keyed(live_hub, "campagne-42"))
    # Whatever the bus still remembers of message ids, the hub answers from its own keys.
    config = (await live_hub.js.stream_info("POSTS")).config
    await live_hub.js.update_stream(replace(config, duplicate_window=0.1))
    await asyncio.sleep(0.3)
    again = await send(live_hub, CAMPAIGN, keyed(live_hub, "campagne-42"))
    assert first[0] == again[0] == 202
    assert again[1]["id"] == first[1]["id"] and (first[2], again[2]) == (None, "true")
    assert [post.post_id for post in await campaigns(live_hub)] == [first[1]["id"]]


async def test_a_key_names_one_request_of_one_author(live_hub: Hub) -> None:
    first = await send(live_hub, CAMPAIGN, keyed(live_hub, "k1"))
    other_body = await send(live_hub, {**CAMPAIGN, "text": "Autre campagne #emploi"}, keyed(live_hub, "k1"))
    other_author = await send(live_hub, CAMPAIGN, keyed(live_hub, "k1", subject="karim"))
    bad = await send(live_hub, CAMPAIGN, keyed(live_hub, "clé avec espaces"))
    assert first[0] == 202
    assert (other_body[0], other_body[1]["error"]["code"]) == (422, "idempotency_key_reused")
    assert other_author[0] == 202 and other_author[1]["id"] != first[1]["id"]
    assert (bad[0], bad[1]["error"]["code"], bad[1]["error"]["field"]) == (
        400,
        "invalid_idempotency_key",
        "Idempotency-Key",
    )
    published = await campaigns(live_hub)
    assert sorted(post.post_id for post in published) == sorted([first[1]["id"], other_author[1]["id"]])
    assert {post.author for post in published} == {"nadia", "karim"}


async def test_a_refused_campaign_consumes_no_key(live_hub: Hub) -> None:
    refused = await send(live_hub, {**CAMPAIGN, "text": "x" * 10_001}, keyed(live_hub, "k2"))
    accepted = await send(live_hub, CAMPAIGN, keyed(live_hub, "k2"))
    assert refused[0] == 422 and accepted[0] == 202 and accepted[2] is None
    assert [post.text for post in await campaigns(live_hub)] == [CAMPAIGN["text"]]


async def test_resends_racing_each_other_are_one_campaign(live_hub: Hub) -> None:
    answers = await asyncio.gather(*(send(live_hub, CAMPAIGN, keyed(live_hub, "k3")) for _ in range(5)))
    assert {status for status, _, _ in answers} == {202}
    assert len({body["id"] for _, body, _ in answers}) == 1
    assert len(await campaigns(live_hub)) == 1


async def test_a_campaign_stored_but_not_published_is_published_by_the_resend(live_hub: Hub) -> None:
    # What a hub killed between storing the keyed campaign and publishing it leaves behind.
    stored = PostReceived(
        post_id=new_post_id(HUB_AGENCY),
        agency=HUB_AGENCY,
        occurred_at=utc_now(),
        author="nadia",
        text=CAMPAIGN["text"],
        selectors=["nation"],
        networks=["x"],
    )
    assert reserve(live_hub.db, key_id("campaign", "nadia", "k4"), stored, fingerprint(CAMPAIGN)) is None
    assert await campaigns(live_hub) == []
    resend = await send(live_hub, CAMPAIGN, keyed(live_hub, "k4"))
    again = await send(live_hub, CAMPAIGN, keyed(live_hub, "k4"))
    assert resend[0] == again[0] == 202 and resend[1]["id"] == again[1]["id"] == stored.post_id
    assert [post.post_id for post in await campaigns(live_hub)] == [stored.post_id]
