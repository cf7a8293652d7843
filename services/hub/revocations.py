"""Revoked tokens leave the hub for every agency node through the `revoked_tokens` bucket, so a node
refuses them even while offline (with the list it had when the link dropped)."""

from __future__ import annotations

import asyncio
import contextlib

import sqlite_utils
import structlog
from nats.js import JetStreamContext

from services.hub.store import revoked_tokens
from shared import bus
from shared.schemas import REVOKED_BUCKET

log = structlog.get_logger("relais.hub.revocations")


async def publish_revocations(js: JetStreamContext, db: sqlite_utils.Database, stop: asyncio.Event) -> None:
    kv = await bus.ensure_key_value(js, REVOKED_BUCKET)
    published: set[str] = set()
    while not stop.is_set():
        for token_id, revoked_at in revoked_tokens(db).items():
            if token_id not in published:
                await kv.put(token_id, revoked_at.encode())
                published.add(token_id)
                log.info("token.revoked", token_id=token_id)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
