"""The hub app as the networks' webhooks reach it: real HTTP on loopback, a real nats-server with
the INBOX stream, a real SQLite file, the webhook secrets read from the hub's secrets file, and
the pages registry in its key-value bucket, followed by the hub's own mirror."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import nats
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from nats.js import JetStreamContext
from pytest_aiohttp import AiohttpClient

from services.hub.app import create_app
from services.hub.keys import MIRROR
from services.hub.settings import Settings
from services.hub.store import open_store
from shared import bus
from shared.schemas import PAGES_BUCKET, InboxItemReceived, PageRecord, page_key

Client = TestClient[web.Request, web.Application]
LYON = "lyon-part-dieu"
FACEBOOK_PAGE_ID = "104857600123"  # the Lyon page's id on Facebook (its registry handle)
TELEGRAM_PAGE = f"{LYON}-telegram"
INSTAGRAM_ACCOUNT_ID = "17841400000000001"  # the Lyon Instagram account's id (its registry handle)
# Test values only, never a real secret: each test checks none of them leaks.
APP_SECRET = "test-app-secret-5f1c9a"
VERIFY_TOKEN = "test-verify-token-77d2"
TELEGRAM_SECRET = "test-telegram-secret_9Qx"
SECRETS = (APP_SECRET, VERIFY_TOKEN, TELEGRAM_SECRET)

PAGES = [
    PageRecord(
        page=f"{LYON}-facebook",
        network="facebook",
        handle=FACEBOOK_PAGE_ID,
        agency=LYON,
        region="auvergne-rhone-alpes",
        department="69",
        timezone="Europe/Paris",
        credentials_ref=f"sandbox/{LYON}-facebook",
    ),
    PageRecord(
        page=f"{LYON}-instagram",
        network="instagram",
        handle=INSTAGRAM_ACCOUNT_ID,
        agency=LYON,
        region="auvergne-rhone-alpes",
        department="69",
        timezone="Europe/Paris",
        credentials_ref=f"sandbox/{LYON}-instagram",
    ),
    PageRecord(
        page=TELEGRAM_PAGE,
        network="telegram",
        handle="@ft_lyon",
        agency=LYON,
        region="auvergne-rhone-alpes",
        department="69",
        timezone="Europe/Paris",
        credentials_ref=f"sandbox/{TELEGRAM_PAGE}",
    ),
]


@dataclass
class WebhookHub:
    client: Client
    js: JetStreamContext
    data_dir: Path

    def signed(self, body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}

    async def push_meta(self, payload: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        body = json.dumps(payload).encode()
        response = await self.client.post(
            "/webhooks/meta", data=body, headers=self.signed(body) if headers is None else headers
        )
        return response.status, await response.json()

    async def push_telegram(
        self, update: Any, secret: str | None = TELEGRAM_SECRET, page: str = TELEGRAM_PAGE
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        response = await self.client.post(f"/webhooks/telegram/{page}", json=update, headers=headers)
        return response.status, await response.json()

    async def inbox(self) -> list[tuple[str, InboxItemReceived]]:
        """Every message the INBOX stream holds, with its subject, oldest first."""
        info = await self.js.stream_info("INBOX")
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            if info.state.messages == 0:
                break
            raw = await self.js.get_msg("INBOX", seq)
            found.append((raw.subject or "", msgspec.json.decode(raw.data or b"", type=InboxItemReceived)))
        return found

    def audit(self) -> list[dict[str, Any]]:
        db = open_store(self.data_dir / "hub.db")
        try:
            return [dict(row) for row in db.table("audit").rows_where(order_by="id")]
        finally:
            db.close()


def write_secrets(data_dir: Path) -> None:
    keys = data_dir / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    secrets = {
        "meta": {"app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN},
        "telegram": {TELEGRAM_PAGE: TELEGRAM_SECRET},
    }
    (keys / "webhook-secrets.json").write_text(json.dumps(secrets), encoding="utf-8")


@pytest.fixture
async def webhook_hub(
    aiohttp_client: AiohttpClient, tmp_path: Path, nats_url: str
) -> AsyncIterator[WebhookHub]:
    data_dir = tmp_path / "hub"
    write_secrets(data_dir)
    settings = Settings.from_env({"RELAIS_DATA_DIR": str(data_dir), "RELAIS_NATS_URL": nats_url})
    db = open_store(settings.database)
    link = bus.BusLink()
    link.nc = await nats.connect(nats_url)
    js = link.nc.jetstream()
    await bus.ensure_streams(js)
    pages = await bus.ensure_key_value(js, PAGES_BUCKET)
    for record in PAGES:
        await pages.put(page_key(record.agency, record.page), msgspec.json.encode(record))
    app = create_app(settings, db, link)
    stop = asyncio.Event()
    follower = asyncio.create_task(app[MIRROR].follow(js, stop))
    await asyncio.wait_for(app[MIRROR].loaded.wait(), 10)
    client = await aiohttp_client(app)
    try:
        yield WebhookHub(client, js, data_dir)
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await follower
        await link.nc.close()
        db.close()
