"""Intake wiring: `create_app(settings)`; the bus link, relay and follower live in its cleanup context."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from services.intake import (
    advocates_api,
    advocates_page,
    composer,
    composer_page,
    drafts,
    handlers,
    inbox_api,
    inbox_page,
    media,
    preview,
    replies,
    share_page,
    shares,
    stories,
    web_auth,
)
from services.intake.follower import follow
from services.intake.keys import DATABASE, LINK, LOGIN_THROTTLE, PUBLIC_KEY, RELAY, SETTINGS
from services.intake.metrics import outbox_metrics
from services.intake.relay import OutboxRelay
from services.intake.security import is_revoked, refusal_recorder
from services.intake.settings import MAX_BODY_BYTES, Settings
from services.intake.store import open_store
from shared import bus
from shared.access import SIGN_IN_REDIRECT, PublicRoutes, access_middlewares, install_access
from shared.agency_consumers import agency_consumers
from shared.favicon import FAVICON_ROUTE, add_favicon_route
from shared.i18n.web import remember_language
from shared.login_throttle import LoginThrottle
from shared.metrics import add_metrics_route, set_reader, watch_bus
from shared.tokens import ROLES, Claims, load_public_key
from shared.web import REVOCATIONS, add_health_routes, bearer_claims

# Everything else needs a token the hub signed or an advisor's session (deny by default: shared/access.py).
PUBLIC: PublicRoutes = frozenset(
    {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/v1/openapi.json"), FAVICON_ROUTE, *web_auth.PUBLIC}
)


def _authenticate(request: web.Request) -> Claims | None:
    """Any valid, unrevoked token, else an advisor's session here (with its CSRF token on a
    state-changing request); each handler then checks its role and agency."""
    if "Authorization" not in request.headers:
        return web_auth.session_claims(request)
    return bearer_claims(request, request.app[PUBLIC_KEY], ROLES)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(
        middlewares=[*access_middlewares(lambda request: request.app[PUBLIC_KEY]), remember_language],
        client_max_size=MAX_BODY_BYTES,
    )
    install_access(
        app, PUBLIC, _authenticate, refusal_recorder(settings.agency, lambda request: request.app[DATABASE])
    )
    app[SIGN_IN_REDIRECT] = web_auth.sign_in_redirect
    app[SETTINGS] = settings
    app[LOGIN_THROTTLE] = LoginThrottle()
    app[PUBLIC_KEY] = load_public_key(settings.public_key_file)
    app[LINK] = bus.BusLink()
    app[REVOCATIONS] = lambda token_id: is_revoked(app[DATABASE], token_id)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_bus_work)
    app.router.add_post("/v1/posts", handlers.create_post)
    app.router.add_get("/v1/posts", handlers.index_posts)
    app.router.add_get("/v1/posts/{post_id}", handlers.show_post)
    app.router.add_post("/v1/preview", preview.preview_post)
    app.router.add_post("/v1/media", media.upload_media)
    app.router.add_get("/v1/composer", composer.composer)
    drafts.add_routes(app)
    inbox_api.add_routes(app)
    replies.add_routes(app)
    stories.add_routes(app)
    shares.add_routes(app)
    advocates_api.add_routes(app)
    app.router.add_get("/v1/openapi.json", handlers.openapi)
    add_favicon_route(app)
    web_auth.add_routes(app)
    composer_page.add_routes(app)
    inbox_page.add_routes(app)
    share_page.add_routes(app)
    advocates_page.add_routes(app)

    async def ready() -> dict[str, bool]:
        db = app[DATABASE]
        # Without its page registry (synced from the hub, then kept locally) a node cannot check a post.
        has_pages = bool(db.execute("select 1 from pages limit 1").fetchone())
        return {"nats": app[LINK].connected, "database": True, "pages": has_pages}

    add_health_routes(app, ready)
    add_metrics_route(app, lambda request: request.app[PUBLIC_KEY])
    set_reader("intake", lambda: outbox_metrics(app[DATABASE], settings.agency) if DATABASE in app else ())
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    app[DATABASE] = open_store(app[SETTINGS].database)
    app[RELAY] = OutboxRelay(app[DATABASE], app[LINK], media_dir=app[SETTINGS].media_dir)
    yield
    app[DATABASE].close()


async def _bus_work(app: web.Application) -> AsyncIterator[None]:
    """Connect whenever the bus is reachable; meanwhile the endpoint keeps accepting posts."""
    stop = asyncio.Event()
    settings, link, db = app[SETTINGS], app[LINK], app[DATABASE]

    async def work() -> None:
        async with asyncio.TaskGroup() as group:
            # The relay runs from the start: while the bus is away it marks posts waiting_for_hub.
            group.create_task(app[RELAY].run(stop))
            link.nc = await bus.wait_connected(settings.nats_url, bus.agency_client(settings.agency), stop)
            if link.nc is None:
                return
            # No ensure_streams here: the hub owns the streams, and an agency may not create them.
            group.create_task(follow(link.nc, db, settings.agency, stop))
            group.create_task(watch_bus(link, agency_consumers(settings.agency), stop))

    task = asyncio.create_task(work())
    yield
    stop.set()
    app[RELAY].wake()
    try:
        await asyncio.wait_for(task, 10)
    finally:
        await link.close(agency=settings.agency)
