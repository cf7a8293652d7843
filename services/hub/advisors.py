"""Advisors' accounts leave the hub for their own agency's node only, through the `advisor_accounts`
bucket (keys `<agency>.<hex username>`; each node reads its agency's keys through a consumer the hub
side creates, shared/agency_consumers.py), so an advisor signs in at the node while its link is
down, and a disabled account is refused there within seconds once the link is up. What travels is
the argon2 hash, never a password (the hub never has one to send)."""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
import sqlite_utils
import structlog
from nats.js import JetStreamContext

from shared import bus
from shared.accounts import ADVISORS_BUCKET, advisor_accounts, advisor_key

log = structlog.get_logger("relais.hub.advisors")

PUBLISH_EVERY = 1.0  # seconds between looks at the accounts (a disabled account reaches nodes within this)


async def publish_advisors(js: JetStreamContext, db: sqlite_utils.Database, stop: asyncio.Event) -> None:
    kv = await bus.ensure_key_value(js, ADVISORS_BUCKET)
    published: dict[str, int] = {}  # username → version put (after a restart every account is put again)
    while not stop.is_set():
        for account in advisor_accounts(db):
            if published.get(account.username) != account.version:
                await kv.put(advisor_key(account.agency, account.username), msgspec.json.encode(account))
                published[account.username] = account.version
                log.info(
                    "advisor.published",
                    agency=account.agency,
                    username=account.username,
                    version=account.version,
                    disabled=account.disabled,
                )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PUBLISH_EVERY)
