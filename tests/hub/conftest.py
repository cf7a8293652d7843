"""The hub app with a real nats-server and SQLite file, for tests of the hub's rules."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import nats
import pytest
from pytest_aiohttp import AiohttpClient

from services.hub.app import create_app
from services.hub.settings import Settings
from services.hub.store import open_store
from shared import bus
from tests.hub.hub_app import Hub


@pytest.fixture
async def live_hub(aiohttp_client: AiohttpClient, tmp_path: Path, nats_url: str) -> AsyncIterator[Hub]:
    settings = Settings.from_env({"RELAIS_DATA_DIR": str(tmp_path / "hub"), "RELAIS_NATS_URL": nats_url})
    db = open_store(settings.database)
    link = bus.BusLink()
    link.nc = await nats.connect(nats_url)
    await bus.ensure_streams(link.nc.jetstream())
    client = await aiohttp_client(create_app(settings, db, link))
    try:
        yield Hub(client, settings, db, link.nc.jetstream(), link)
    finally:
        await link.nc.close()
        db.close()
