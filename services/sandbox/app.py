"""Wiring only: `create_app(settings)` builds the sandbox from its settings.

One host serves every registered emulator on the networks' own paths, plus the sandbox's inspection API,
fault switches and web page. The database opens and closes in `cleanup_ctx`; nothing happens at
import.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from . import audience, clock, engagement, faults, incoming, inspection, oauth, webhooks
from .common import MINT, RATES, IdMint, RateWindows
from .emulators import EMULATORS
from .faults import FAULTS, FaultBook
from .processing import VIDEO_JOBS, VideoJobs
from .settings import Settings
from .store import STORE, Store

__all__ = ["SETTINGS", "create_app"]

SETTINGS = web.AppKey("sandbox_settings", Settings)


async def _database(app: web.Application) -> AsyncIterator[None]:
    store = Store(app[SETTINGS].db_path)
    app[STORE] = store
    try:
        yield
    finally:
        store.close()


def create_app(settings: Settings) -> web.Application:
    # The sandbox is a test double of the networks, not part of Relais: it stays out of production
    # builds and out of the deny-by-default rule of shared/access.py (the networks it imitates check
    # their own tokens, as it does).
    app = web.Application()
    app[SETTINGS] = settings
    app[FAULTS] = FaultBook()
    app[MINT] = IdMint()
    app[RATES] = RateWindows(enforce=settings.rate_limits)
    app[VIDEO_JOBS] = VideoJobs()
    app.cleanup_ctx.append(_database)
    inspection.add_routes(app)
    faults.add_routes(app)
    incoming.add_routes(app)
    webhooks.add_routes(app, settings.webhook_url)
    audience.add_routes(app)
    engagement.add_routes(app)
    clock.add_routes(app)
    oauth.add_routes(app)
    for emulator in EMULATORS.values():  # in their registered order: see emulators.py
        emulator.add_routes(app)
    return app
