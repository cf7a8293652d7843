"""The hub's side of dead letters: alerts open them, an admin's retry becomes a command on the
bus, a published delivery closes them. Real hub app, real nats-server, real SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from services.hub import dead_letters
from services.hub.app import create_app
from services.hub.keys import DATABASE
from services.hub.settings import Settings
from services.hub.store import open_store
from shared import bus
from shared.ids import utc_now
from shared.schemas import (
    DeliveryActionRequested,
    DeliveryDeadLettered,
    DeliveryUpdated,
    ErrorReport,
    PageNeedsReauth,
    alerts_subject,
    decode,
    deliveries_subject,
    encode,
)
from shared.tokens import issue_token, load_or_create_private_key

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def hub(
    aiohttp_client: AiohttpClient, tmp_path: Path, nats_url: str
) -> AsyncIterator[tuple[Client, Settings]]:
    settings = Settings.from_env({"RELAIS_DATA_DIR": str(tmp_path / "hub"), "RELAIS_NATS_URL": nats_url})
    db = open_store(settings.database)
    link = bus.BusLink()
    link.nc = await nats.connect(nats_url)
    await bus.ensure_streams(link.nc.jetstream())
    client = await aiohttp_client(create_app(settings, db, link))
    try:
        yield client, settings
    finally:
        await link.nc.close()
        db.close()


def admin(settings: Settings) -> dict[str, str]:
    token = issue_token(
        load_or_create_private_key(settings.token_key_file), role="admin", subject="admin@hub"
    )
    return {"Authorization": f"Bearer {token}"}


async def test_a_dead_letter_is_listed_retried_and_closed(
    hub: tuple[Client, Settings], nats_url: str
) -> None:
    client, settings = hub
    db = client.app[DATABASE]
    error = ErrorReport(
        message="X refused the page's token (expired or revoked): reconnect the page", network_code="401"
    )
    common = {
        "post_id": "lyon-1",
        "agency": "lyon",
        "occurred_at": utc_now(),
        "network": "x",
        "page": "lyon-x",
    }
    dead_letters.record(
        db, alerts_subject("lyon", "lyon-1", "needs_reauth"), encode(PageNeedsReauth(**common, error=error))
    )
    letter = DeliveryDeadLettered(**common, status="failed", attempts=1, error=error)
    dead_letters.record(db, alerts_subject("lyon", "lyon-1", "dead_letter"), encode(letter))

    assert (await client.get("/v1/dead-letters")).status == 401
    listing = await (await client.get("/v1/dead-letters", headers=admin(settings))).json()
    assert [(d["post_id"], d["page"], d["error"]["network_code"]) for d in listing["dead_letters"]] == [
        ("lyon-1", "lyon-x", "401")
    ]
    assert [p["page"] for p in listing["pages_needing_reauth"]] == ["lyon-x"]
    # The page version is for people signed in to the dashboard (tests/hub/test_html_headers.py).
    anonymous = await client.get("/dead-letters", allow_redirects=False)
    assert anonymous.status == 303 and anonymous.headers["Location"] == "/login"

    response = await client.post("/v1/dead-letters/lyon-1/lyon-x/retry", headers=admin(settings))
    assert response.status == 202
    nc = await nats.connect(nats_url)
    sub = await nc.jetstream().subscribe("commands.>", ordered_consumer=True)
    message = await sub.next_msg(timeout=5)
    await nc.close()
    command = decode(message.data, DeliveryActionRequested)
    assert message.subject == "commands.lyon.lyon-1.retry"
    assert (command.action, command.requested_by, command.page) == ("retry", "admin@hub", "lyon-x")

    published = DeliveryUpdated(**common, status="published", remote_id="1", url="https://x.com/a/status/1")
    dead_letters.record(db, deliveries_subject("lyon", "lyon-1", "published"), encode(published))
    listing = await (await client.get("/v1/dead-letters", headers=admin(settings))).json()
    assert listing == {"dead_letters": [], "pages_needing_reauth": [], "pages_throttled": []}
    assert (await client.post("/v1/dead-letters/lyon-1/lyon-x/retry", headers=admin(settings))).status == 404
