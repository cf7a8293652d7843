"""Topics and stories at the hub (issue #16 item 1): the real hub app, a real hub.db, the page
registry from a real nats-server's bucket.

The policy, written by hand (services/hub/advocacy.py):
- admins and moderators write topics and stories; ops read; an advisor does neither;
- a regional moderator writes a topic only for her region (its regions or its agencies' regions are
  hers alone), writes and decides stories only in such topics; she reads the topics offered to her
  region (everyone's, or naming it or one of its agencies); another region's story is a 404;
- a story waits (`pending`) until decided; the first decision wins, a second is 409 with the one
  that stands and is audited; every write is audited with who did it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import nats.js.errors
import pytest

from services.hub.keys import MIRROR
from services.hub.store import events_named
from services.hub.stories_relay import publish_stories
from shared import bus
from shared.advocacy.stories import STORIES_BUCKET, OfferedStory
from shared.schemas import PAGES_BUCKET, PageRecord, page_key
from shared.tokens import issue_token, load_or_create_private_key
from tests.hub.hub_app import Hub

AGENCIES = {
    "lyon-part-dieu": "auvergne-rhone-alpes",
    "grenoble": "auvergne-rhone-alpes",
    "rennes-sud": "bretagne",
}
BRETON = {"region": "bretagne"}
TOPIC = {"id": "salons", "titles": {"fr": "Salons de l'emploi", "ar": "معارض التوظيف"}, "required": True}
BRETAGNE_TOPIC = {"id": "bzh", "titles": {"fr": "Bretagne"}, "audience": {"regions": ["bretagne"]}}


def story(topic: str = "salons", **changes: Any) -> dict[str, Any]:
    expires = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    return {
        "topic": topic,
        "link": "https://www.francetravail.fr/actualites/salon",
        "texts": {"fr": "Le salon de l'emploi ouvre jeudi."},
        "expires_at": expires,
        **changes,
    }


@pytest.fixture
async def hub(live_hub: Hub) -> AsyncIterator[Hub]:
    """The hub, knowing which region each agency is in (from the federation's page bucket)."""
    kv = await bus.ensure_key_value(live_hub.js, PAGES_BUCKET)
    for agency, region in AGENCIES.items():
        page = f"{agency}-x"
        record = PageRecord(
            page=page,
            network="x",
            handle=agency,
            agency=agency,
            region=region,
            department="00",
            timezone="Europe/Paris",
            credentials_ref=f"sandbox/{page}",
        )
        await kv.put(page_key(agency, page), msgspec.json.encode(record))
    stop = asyncio.Event()
    task = asyncio.create_task(live_hub.client.app[MIRROR].follow(live_hub.js, stop))
    await asyncio.wait_for(live_hub.client.app[MIRROR].loaded.wait(), 10)
    try:
        yield live_hub
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await task


async def call(hub: Hub, method: str, path: str, body: Any = None, role: str = "admin", **claims: Any) -> Any:
    key = load_or_create_private_key(hub.settings.token_key_file)
    token = issue_token(key, role=role, subject=f"{role}-{claims.get('region', 'national')}", **claims)
    response = await hub.client.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"})
    return response.status, await response.json()


async def test_a_story_is_written_pending_then_approved_once_and_audited(hub: Hub) -> None:
    assert (await call(hub, "POST", "/v1/topics", TOPIC))[0] == 200
    status, written = await call(hub, "POST", "/v1/stories", story(), role="moderator")
    assert status == 201 and (written["status"], written["author"]) == ("pending", "moderator-national")

    first, second = await asyncio.gather(
        call(hub, "POST", f"/v1/stories/{written['id']}/approve", role="moderator"),
        call(hub, "POST", f"/v1/stories/{written['id']}/reject", {"reason": "trop tard"}),
    )

    statuses = sorted([first[0], second[0]])
    assert statuses == [200, 409], (first, second)
    winner = first[1] if first[0] == 200 else second[1]
    loser = second[1] if first[0] == 200 else first[1]
    assert loser["error"]["code"] == "already_decided" and loser["decision"]["status"] == winner["status"]
    decided = [(e["event"], e["detail"]["story"]) for e in events_named(hub.db, f"story.{winner['status']}")]
    assert decided == [(f"story.{winner['status']}", written["id"])]
    assert len(events_named(hub.db, "decision.refused")) == 1
    assert [e["actor"] for e in events_named(hub.db, "story.written")] == ["moderator-national"]
    assert [e["detail"]["topic"] for e in events_named(hub.db, "topic.saved")] == ["salons"]


async def test_who_may_write_and_read(hub: Hub) -> None:
    for role, claims in (("ops", {}), ("advisor", {"agency": "lyon-part-dieu"})):
        assert (await call(hub, "POST", "/v1/topics", TOPIC, role=role, **claims))[0] == 403
    assert (await call(hub, "GET", "/v1/topics", role="advisor", agency="lyon-part-dieu"))[0] == 403
    assert (await call(hub, "POST", "/v1/topics", TOPIC))[0] == 200
    assert (await call(hub, "POST", "/v1/stories", story(), role="ops"))[0] == 403
    status, listed = await call(hub, "GET", "/v1/topics", role="ops")
    assert status == 200 and [t["id"] for t in listed["topics"]] == ["salons"]
    assert hub.db.execute("select count(*) from advocacy_stories").fetchone()[0] == 0


@pytest.mark.parametrize(
    "audience",
    [
        {},  # everyone: a national topic
        {"regions": ["auvergne-rhone-alpes"]},
        {"regions": ["bretagne", "auvergne-rhone-alpes"]},
        {"agencies": ["grenoble"]},  # an agency of another region
        {"agencies": ["rennes-sud", "lyon-part-dieu"]},
        {"agencies": ["inconnue"]},  # an agency the registry does not know: no region vouches for it
    ],
)
async def test_a_regional_moderator_writes_topics_for_her_region_only(
    hub: Hub, audience: dict[str, Any]
) -> None:
    body = {**BRETAGNE_TOPIC, "audience": audience}
    status, refused = await call(hub, "POST", "/v1/topics", body, role="moderator", **BRETON)
    assert status == 403 and refused["error"]["code"] == "audience_outside_region"
    assert hub.db.execute("select count(*) from advocacy_topics").fetchone()[0] == 0
    assert events_named(hub.db, "permission.denied")


async def test_a_regional_moderator_acts_in_her_topics_and_reads_what_her_region_is_offered(hub: Hub) -> None:
    for body in (TOPIC, {**BRETAGNE_TOPIC, "audience": {"agencies": ["rennes-sud"]}}):
        assert (await call(hub, "POST", "/v1/topics", body))[0] == 200
    lyon_only = {"id": "lyon", "titles": {"fr": "Lyon"}, "audience": {"agencies": ["lyon-part-dieu"]}}
    assert (await call(hub, "POST", "/v1/topics", lyon_only))[0] == 200
    # Her own topic: she changes it, writes and decides its stories.
    assert (await call(hub, "POST", "/v1/topics", BRETAGNE_TOPIC, role="moderator", **BRETON))[0] == 200
    status, hers = await call(hub, "POST", "/v1/stories", story("bzh"), role="moderator", **BRETON)
    assert status == 201
    assert (await call(hub, "POST", f"/v1/stories/{hers['id']}/approve", role="moderator", **BRETON))[
        0
    ] == 200
    # The national topic: offered to her agencies (she reads it), not hers to write in or change.
    status, refused = await call(hub, "POST", "/v1/stories", story(), role="moderator", **BRETON)
    assert status == 403 and refused["error"]["code"] == "outside_scope"
    assert (await call(hub, "POST", "/v1/topics", TOPIC, role="moderator", **BRETON))[0] == 403
    _, national = await call(hub, "POST", "/v1/stories", story())
    assert (await call(hub, "POST", f"/v1/stories/{national['id']}/approve", role="moderator", **BRETON))[
        0
    ] == 403
    # Lyon's topic: not offered to her region, so its story does not exist for her.
    _, lyon = await call(hub, "POST", "/v1/stories", story("lyon"))
    assert (await call(hub, "POST", f"/v1/stories/{lyon['id']}/approve", role="moderator", **BRETON))[
        0
    ] == 404
    _, topics = await call(hub, "GET", "/v1/topics", role="moderator", **BRETON)
    _, stories = await call(hub, "GET", "/v1/stories", role="moderator", **BRETON)
    assert sorted(t["id"] for t in topics["topics"]) == ["bzh", "salons"]
    assert sorted(s["topic"] for s in stories["stories"]) == ["bzh", "salons"]
    assert [s["status"] for s in stories["stories"] if s["topic"] == "salons"] == ["pending"]


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"topic": "inconnu"}, "unknown_topic", "topic"),
        ({"texts": {"fr": "é" * 300}}, "does_not_fit", "texts.fr"),  # Bluesky: 300 with its link
        ({"expires_at": "2020-01-01T00:00:00+01:00"}, "expiry_past", "expires_at"),
        ({"link": "http://www.francetravail.fr/"}, "invalid_value", "link"),  # the schema: https only
        ({"media": [{"media_id": "m1", "alt": " "}]}, "invalid_value", "media[0].alt"),
    ],
)
async def test_a_bad_story_is_refused_naming_its_field(
    hub: Hub, changes: dict[str, Any], code: str, field: str
) -> None:
    assert (await call(hub, "POST", "/v1/topics", TOPIC))[0] == 200
    status, refused = await call(hub, "POST", "/v1/stories", story(**changes))
    assert status == 422 and (refused["error"]["code"], refused["error"]["field"]) == (code, field), refused
    assert hub.db.execute("select count(*) from advocacy_stories").fetchone()[0] == 0


async def test_an_approved_story_reaches_the_nodes_of_its_topics_audience_only(hub: Hub) -> None:
    """The bucket the nodes read: an offer per agency the topic includes, none elsewhere; a changed
    audience withdraws it where it no longer goes; expiry withdraws it everywhere."""
    topic = {**BRETAGNE_TOPIC, "audience": {"regions": ["bretagne"]}}
    assert (await call(hub, "POST", "/v1/topics", topic))[0] == 200
    _, written = await call(hub, "POST", "/v1/stories", story("bzh"))
    _, pending = await call(hub, "POST", "/v1/stories", story("bzh"))  # never approved: never offered
    assert (await call(hub, "POST", f"/v1/stories/{written['id']}/approve"))[0] == 200
    clock = [datetime.now(UTC)]
    stop = asyncio.Event()
    relay = asyncio.create_task(
        publish_stories(hub.js, hub.db, hub.client.app[MIRROR], stop, clock=lambda: clock[0])
    )
    kv = await bus.ensure_key_value(hub.js, STORIES_BUCKET)

    async def offered() -> dict[str, bool]:
        found: dict[str, bool] = {}
        with contextlib.suppress(nats.js.errors.NoKeysError):
            for key in await kv.keys():
                entry = await kv.get(key)
                found[key] = msgspec.json.decode(entry.value or b"", type=OfferedStory).offered
        return found

    async def until(expected: dict[str, bool]) -> None:
        for _ in range(100):
            if await offered() == expected:
                return
            await asyncio.sleep(0.1)
        assert await offered() == expected

    try:
        await until({f"rennes-sud.{written['id']}": True})
        moved = {**topic, "audience": {"agencies": ["lyon-part-dieu"]}}
        assert (await call(hub, "POST", "/v1/topics", moved))[0] == 200
        await until({f"rennes-sud.{written['id']}": False, f"lyon-part-dieu.{written['id']}": True})
        clock[0] += timedelta(days=8)
        await until({f"rennes-sud.{written['id']}": False, f"lyon-part-dieu.{written['id']}": False})
    finally:
        stop.set()
        await relay
    assert pending["id"] not in str(await offered())
