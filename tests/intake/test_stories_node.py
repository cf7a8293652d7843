"""Advocacy stories at the agency's node (issue #16): a real nats-server with the deployment's real
users, the hub side's bucket and consumers, a real node.

The policy, written by hand: the node keeps the offers of its own agency's keys only (another
agency's story, even in the bucket, never reaches it); it lists those offered now (not withdrawn, not
expired), to its advisors only, each link with its UTM parameters for this agency and each network;
a withdrawal is never undone by an older value; the list is served while the link is down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from services.intake.keys import DATABASE, LINK
from services.intake.stories import store_offer
from shared.advocacy.stories import STORIES_BUCKET, OfferedStory, story_key
from tests.intake.conftest import Client, NodeFactory, auth
from tests.intake.inbox_bus import LYON, RENNES, HubSide, hub_side
from tests.intake.test_media_relay import until


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[HubSide]:
    async with hub_side(tmp_path / "bus") as side:
        yield side


def offer(story_id: str, *, offered: bool = True, days: int = 7) -> OfferedStory:
    return OfferedStory(
        id=story_id,
        topic="salons",
        topic_titles={"fr": "Salons", "ar": "معارض"},
        required=True,
        link="https://www.francetravail.fr/salon?ville=Lyon&utm_source=ancien",
        texts={"fr": "Le salon ouvre jeudi."},
        hashtag="#AvecPoleEmploi",
        expires_at=(datetime.now(UTC) + timedelta(days=days)).isoformat(),
        offered=offered,
    )


async def put(hub: HubSide, agency: str, story: OfferedStory) -> None:
    kv = await hub.nc.jetstream().key_value(STORIES_BUCKET)
    await kv.put(story_key(agency, story.id), msgspec.json.encode(story))


async def listed(node: Client, token: str) -> list[dict[str, Any]]:
    response = await node.get("/v1/stories", headers=auth(token))
    assert response.status == 200, await response.text()
    return list((await response.json())["stories"])


async def test_the_node_offers_its_own_agencys_stories_with_links_that_measure(
    hub: HubSide, make_node: NodeFactory, tokens: dict[str, str]
) -> None:
    await put(hub, LYON, offer("s-lyon"))
    await put(hub, RENNES, offer("s-rennes"))  # a topic restricted to Rennes
    await put(hub, LYON, offer("s-expired", days=-1))
    node = await make_node(nats_url=hub.agency_url(LYON))
    advisor = tokens["advisor"]

    async def arrived() -> bool:
        return bool(node.app[DATABASE].execute("select count(*) from offered_stories").fetchone()[0] == 2)

    await until(arrived)
    [story] = await listed(node, advisor)
    assert (story["id"], story["required"], story["topic_titles"]["fr"]) == ("s-lyon", True, "Salons")
    assert "offered" not in story
    assert set(story["links"]) == {"x", "linkedin", "mastodon", "bluesky"}
    assert story["links"]["x"] == (
        "https://www.francetravail.fr/salon?ville=Lyon&utm_source=x&utm_medium=advocacy"
        f"&utm_campaign=s-lyon&utm_content={LYON}"
    )
    rows = node.app[DATABASE].execute("select id from offered_stories order by id").fetchall()
    assert [row[0] for row in rows] == ["s-expired", "s-lyon"]  # never Rennes's

    await put(hub, LYON, offer("s-lyon", offered=False))  # the topic no longer includes Lyon
    await until(lambda: _empty(node, advisor))

    await put(hub, LYON, offer("s-later"))
    await until(lambda: _listed_ids(node, advisor, ["s-later"]))
    await node.close()
    node = await make_node(nats_url="nats://127.0.0.1:1")  # the same data directory, its link down
    assert not node.app[LINK].connected
    assert [s["id"] for s in await listed(node, advisor)] == ["s-later"]
    for token in (tokens["other_agency"], tokens["ops"]):
        assert (await node.get("/v1/stories", headers=auth(token))).status == 403


async def _empty(node: Client, token: str) -> bool:
    return await listed(node, token) == []


async def _listed_ids(node: Client, token: str, ids: list[str]) -> bool:
    return [s["id"] for s in await listed(node, token)] == ids


async def test_an_older_value_never_undoes_a_withdrawal(
    make_node: NodeFactory, tokens: dict[str, str]
) -> None:
    node = await make_node(nats_url="nats://127.0.0.1:1")  # the link is down: the store alone
    db = node.app[DATABASE]

    assert store_offer(db, offer("s1"), sequence=5)
    assert store_offer(db, offer("s1", offered=False), sequence=9)
    assert not store_offer(db, offer("s1"), sequence=5)  # redelivered late
    assert await listed(node, tokens["advisor"]) == []
