"""A hub campaign obeys the same limits as an agency's post: at most 10,000 characters, and at most
RELAIS_MAX_THREAD_PARTS parts on any network (the one rule of `shared/networks`), refused with 422
before anything reaches the bus. Real hub app, real nats-server, real SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import nats
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from services.hub.app import create_app
from services.hub.settings import Settings
from services.hub.store import open_store
from shared import bus
from shared.tokens import issue_token, load_or_create_private_key

Client = TestClient[web.Request, web.Application]
HubFactory = Callable[..., Any]
# Eleven paragraphs of 250 characters: each fits one X post (280), no two fit together.
ELEVEN_X_PARTS = "\n\n".join((f"Paragraphe {n:02d} : " + "emploi " * 40)[:250].rstrip() for n in range(1, 12))


@pytest.fixture
async def make_hub(aiohttp_client: AiohttpClient, tmp_path: Path, nats_url: str) -> AsyncIterator[HubFactory]:
    links: list[bus.BusLink] = []

    async def make(**env: str) -> tuple[Client, str]:
        data_dir = tmp_path / f"hub{len(links)}"
        settings = Settings.from_env({"RELAIS_DATA_DIR": str(data_dir), "RELAIS_NATS_URL": nats_url, **env})
        link = bus.BusLink()
        link.nc = await nats.connect(nats_url)
        await bus.ensure_streams(link.nc.jetstream())
        links.append(link)
        client = await aiohttp_client(create_app(settings, open_store(settings.database), link))
        admin = issue_token(
            load_or_create_private_key(settings.token_key_file), role="admin", subject="admin"
        )
        return client, admin

    try:
        yield make
    finally:
        for link in links:
            if link.nc is not None:
                await link.nc.close()


async def campaign(client: Client, token: str, text: str) -> tuple[int, Any]:
    body = {"text": text, "networks": ["x"], "selectors": ["nation"]}
    response = await client.post("/v1/posts", json=body, headers={"Authorization": f"Bearer {token}"})
    return response.status, await response.json()


async def test_a_campaign_needing_more_parts_than_the_limit_is_refused(make_hub: HubFactory) -> None:
    client, admin = await make_hub()
    status, body = await campaign(client, admin, ELEVEN_X_PARTS)
    assert status == 422, body
    assert (body["error"]["code"], body["error"]["field"]) == ("too_many_parts", "text")
    assert "x:" in body["error"]["message"] and "11 parts" in body["error"]["message"]
    assert "limit of 10" in body["error"]["message"]

    status, body = await campaign(client, admin, "a" * 10_001)
    assert status == 422 and body["error"]["code"] == "text_too_long" and "10,000" in body["error"]["message"]


async def test_the_setting_raises_the_campaigns_limit_too(make_hub: HubFactory) -> None:
    client, admin = await make_hub(RELAIS_MAX_THREAD_PARTS="20")
    status, body = await campaign(client, admin, ELEVEN_X_PARTS)
    assert status == 202, body
