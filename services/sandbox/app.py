"""Wiring only: `create_app(settings)` builds the sandbox from its settings.

One host serves all nine emulators on the networks' own paths, plus the sandbox's inspection API,
fault switches and web page. The database opens and closes in `cleanup_ctx`; nothing happens at
import.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from . import (
    bluesky,
    facebook,
    faults,
    inspection,
    instagram,
    linkedin,
    mastodon,
    telegram,
    threads,
    x,
    youtube,
)
from .common import MINT, RATES, IdMint, RateWindows
from .faults import FAULTS, FaultBook
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
    app.cleanup_ctx.append(_database)
    inspection.add_routes(app)
    faults.add_routes(app)
    x.add_routes(app)
    mastodon.add_routes(app)
    bluesky.add_routes(app)
    linkedin.add_routes(app)
    telegram.add_routes(app)
    youtube.add_routes(app)
    # Threads' literal /v1.0 paths before Instagram's versioned ones, both before Facebook's.
    threads.add_routes(app)
    instagram.add_routes(app)
    # Facebook's page-id paths are patterns that would shadow the others: register them last.
    facebook.add_routes(app)
    return app
