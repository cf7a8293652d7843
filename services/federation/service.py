"""Federation: loads the registry and publishes every page to the `pages` key-value bucket.

Intake nodes watch their own agency's keys (and keep a local copy for offline use); the dispatcher
looks pages up by key.
"""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
import nats.js.errors
import sqlite_utils
import structlog
from aiohttp import web
from nats.aio.client import Client as NATS
from nats.js.kv import KeyValue

from services.federation.registry import parse_pages_csv
from services.federation.settings import Settings
from services.federation.store import all_pages, import_pages, open_store
from shared import bus
from shared.schemas import PAGES_BUCKET, PageRecord, page_key
from shared.web import add_health_routes, start_site

log = structlog.get_logger("relais.federation")


async def pages_bucket(nc: NATS) -> KeyValue:
    js = nc.jetstream()
    try:
        return await js.key_value(PAGES_BUCKET)
    except nats.js.errors.BucketNotFoundError:
        return await js.create_key_value(bucket=PAGES_BUCKET, history=1)


async def publish_registry(db: sqlite_utils.Database, kv: KeyValue) -> int:
    """Put every page whose record changed; returns how many were written."""
    written = 0
    for row in all_pages(db):
        record = PageRecord(
            page=row["page"],
            network=row["network"],
            handle=row["handle"],
            agency=row["agency"],
            region=row["region"],
            department=row["department"],
            timezone=row["timezone"],
            credentials_ref=row["credentials_ref"],
            status=row["status"],
        )
        key = page_key(record.agency, record.page)
        value = msgspec.json.encode(record)
        with contextlib.suppress(nats.js.errors.KeyNotFoundError):
            current = await kv.get(key)
            if current.value == value:
                continue
        await kv.put(key, value)
        written += 1
    return written


async def run(settings: Settings, stop: asyncio.Event) -> None:
    db = open_store(settings.database)
    if settings.pages_csv:
        rows = parse_pages_csv(settings.pages_csv.read_text(encoding="utf-8"))
        log.info("registry.imported", pages=import_pages(db, rows), file=str(settings.pages_csv))
    link = bus.BusLink()

    async def ready() -> dict[str, bool]:
        return {"nats": link.connected, "database": bool(db.execute("select 1").fetchone())}

    app = web.Application()
    add_health_routes(app, ready)
    runner = await start_site(app, settings.host, settings.port, "RELAIS_FEDERATION_PORT")
    nc = await bus.wait_connected(settings.nats_url, "federation", stop)
    if nc is None:
        await runner.cleanup()
        return
    link.nc = nc
    try:
        await bus.ensure_streams(nc.jetstream())
        kv = await pages_bucket(nc)
        log.info("registry.published", written=await publish_registry(db, kv))
        await stop.wait()
    finally:
        await runner.cleanup()
        await nc.close()
        db.close()
