"""Dispatcher wiring: `run(settings, stop)` opens the ledger, the HTTP session and the bus."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import aiohttp
import msgspec
from aiohttp import web

from services.dispatcher.advocate_accounts import (
    ADVOCACY,
    AdvocateAccounts,
    AdvocateCredentials,
    publish_sealing_key,
    sealing_unsealer,
)
from services.dispatcher.engagement import EngagementScheduler, engagement_plan
from services.dispatcher.fence import Fence
from services.dispatcher.handover import take_over
from services.dispatcher.hides import HIDES, Hider
from services.dispatcher.inbox import InboxReader
from services.dispatcher.media import MediaLibrary, media_routes
from services.dispatcher.media_urls import MediaUrlSigner
from services.dispatcher.metrics import ledger_metrics
from services.dispatcher.reads import ReaderWiring
from services.dispatcher.service import Dispatcher, consumers
from services.dispatcher.settings import Settings
from services.dispatcher.store import Ledger, LedgerWriter, open_store
from shared import bus
from shared.access import HEALTH_ROUTES, PUBLIC_ROUTES, PublicRoutes
from shared.metrics import service_app, set_reader, watch_bus
from shared.pages_mirror import PagesMirror
from shared.secrets import SecretBox, load_or_create_key
from shared.web import ReadyCheck, start_site

# Networks (Instagram, Threads) download attachments themselves: `GET /media/{id}` cannot ask them
# for a token; its addresses are signed and short-lived instead (media_urls.py).
PUBLIC: PublicRoutes = HEALTH_ROUTES | {("GET", "/media/{media_id}")}


def create_http_app(ready: ReadyCheck, library: MediaLibrary, ledger: Ledger) -> web.Application:
    """Health, media and metrics routes; anything else answers 401 (deny by default: shared/access.py)."""
    app = service_app(ready)
    app[PUBLIC_ROUTES] = PUBLIC
    media_routes(app, library, ledger)
    set_reader("dispatcher", lambda: ledger_metrics(ledger.db))
    return app


def network_session(concurrency: int) -> aiohttp.ClientSession:
    """The HTTP session every page's calls share (inside a running loop)."""
    # Many pages on few hosts (the sandbox, one instance): allow as many connections as calls in flight.
    connector = aiohttp.TCPConnector(limit=concurrency + 8, limit_per_host=0)
    # No cookies: every call carries its page's own token, and the session is shared by every page of a
    # network, so a cookie one account's answer set must never ride along with another account's call.
    return aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar(), json_serialize=_json_body
    )


def _json_body(value: object) -> str:
    """Request bodies as UTF-8 JSON, by msgspec: `json.dumps` was a twentieth of the dispatcher's time
    in a fan-out. The same JSON, but non-ASCII text as itself rather than `\\u` escapes (RFC 8259)."""
    return msgspec.json.encode(value).decode()


async def run(settings: Settings, stop: asyncio.Event) -> None:
    db = open_store(settings.database)
    link = bus.BusLink()
    fence = Fence(settings)

    async def ready() -> dict[str, bool]:
        return {
            "nats": link.connected,
            "database": bool(db.execute("select 1").fetchone()),
            # False while another layout, or this shard elsewhere, runs (`dispatcher.layout_conflict`).
            "layout_fence": fence.held,
        }

    ledger = Ledger(db)
    # Before anything can be published: each publication plans its reads by this plan (engagement.py).
    ledger.plan_engagement(engagement_plan(settings.engagement_time_scale))
    writer = LedgerWriter(settings.database)
    unsealer = sealing_unsealer(settings.sealing_key_file)  # before the bus: a bad file stops the start
    library = MediaLibrary(
        public_url=settings.media_public_url or f"http://{settings.host}:{settings.port}",
        signer=MediaUrlSigner.from_secrets_key(load_or_create_key()),
    )
    runner = await start_site(
        create_http_app(ready, library, ledger), settings.host, settings.port, "RELAIS_DISPATCHER_PORT"
    )
    try:
        async with network_session(settings.concurrency) as session:
            link.nc = await bus.wait_connected(settings.nats_url, bus.hub_client("dispatcher"), stop)
            if link.nc is None:
                return
            js = link.nc.jetstream()
            await bus.ensure_streams(js)
            if not await fence.acquire(js, stop):  # nothing claimed before: the old layout is gone
                return
            async with asyncio.TaskGroup() as group:
                group.create_task(fence.keep(stop))  # from now on: a long take-over must not let it lapse
                await take_over(js, ledger, settings)
                approvals, commands = consumers(settings.shard)
                library.js = js
                pages = PagesMirror()
                await publish_sealing_key(js, unsealer, sharded=settings.shard.sharded)
                # This shard's own durable consumer of the advocates' events: it keeps every account,
                # and checks and reports its own (advocate_accounts.py).
                advocacy = replace(ADVOCACY, durable=settings.shard.name(ADVOCACY.durable))
                advocates = AdvocateAccounts(
                    AdvocateCredentials(db, SecretBox(load_or_create_key())),
                    unsealer,
                    settings.shard,
                    api_urls=settings.api_urls,
                    reconnected=ledger.clear_page_state,
                )
                dispatcher = Dispatcher(
                    settings, ledger, session, pages, library, writer=writer, advocates=advocates
                )
                advocates.wire(dispatcher.adapter, js, link.nc)
                wiring = ReaderWiring(
                    settings,
                    ledger,
                    pages,
                    adapter=dispatcher.adapter,
                    account=dispatcher.account,
                    limiter=dispatcher.limiter,
                    policy=dispatcher.policy,
                    wake_relay=dispatcher.wake_relay,
                    busy=dispatcher.busy,
                    writer=writer,
                )
                inbox = InboxReader(wiring)
                engagement = EngagementScheduler(wiring)
                # The hub's orders to hide a comment: this shard's own durable consumer, like commands.
                hides = replace(HIDES, durable=settings.shard.name(HIDES.durable))
                hider = Hider(wiring)
                group.create_task(pages.follow(js, stop))
                group.create_task(dispatcher.run(link.nc, stop))
                group.create_task(inbox.run(stop))  # what people send the pages, beside the deliveries
                group.create_task(engagement.run(stop))  # the published posts' figures, read back
                group.create_task(bus.consume(js, approvals, dispatcher.on_approved, stop))
                group.create_task(bus.consume(js, commands, dispatcher.on_command, stop))
                group.create_task(hider.run(stop))
                group.create_task(bus.consume(js, hides, hider.on_ordered, stop))
                group.create_task(bus.consume(js, advocacy, advocates.on_event, stop))
                group.create_task(watch_bus(link, (approvals, commands, hides, advocacy), stop))
    finally:
        await fence.release()
        await link.close()
        await runner.cleanup()
        writer.close()
        db.close()
    if fence.lost:  # restarted by its supervisor, it goes through the fence again
        raise SystemExit(3)
