"""Hub wiring: `create_app(settings)` for the HTTP side, `run(settings, stop)` for the process."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import sqlite_utils
from aiohttp import web

from services.hub import (
    access,
    advocacy,
    advocacy_report_api,
    advocacy_report_page,
    dashboard,
    dead_letters,
    engagement,
    handlers,
    inbox,
    inbox_api,
    inbox_page,
    inbox_replies,
    inbox_report_api,
    inbox_report_page,
    moderation,
    saved_replies,
    webhooks,
)
from services.hub.advisors import publish_advisors
from services.hub.campaigns import create_campaign
from services.hub.events import BROADCASTER, CHANGES, Broadcaster, PostChanges
from services.hub.keys import APPROVER, DATABASE, LINK, LOGIN_THROTTLE, MIRROR, NETWORK_OPTIONS, PUBLIC_KEY
from services.hub.metrics import hub_metrics
from services.hub.revocations import publish_revocations
from services.hub.service import APPROVAL, AUDITS, Approver, run_bus
from services.hub.settings import Settings
from services.hub.store import open_store, revoked_tokens
from services.hub.stories_relay import publish_stories
from shared import bus
from shared.access import SIGN_IN_REDIRECT, access_middlewares, install_access
from shared.favicon import add_favicon_route
from shared.i18n.web import remember_language
from shared.login_throttle import LoginThrottle
from shared.metrics import add_metrics_route, set_reader, watch_bus
from shared.pages_mirror import PagesMirror
from shared.tokens import load_or_create_private_key
from shared.web import REVOCATIONS, add_health_routes, start_site

# Request headers up to 16 KiB each (aiohttp's default is 8 KiB): an oversized cookie left by
# something else on the same host must give the page in French, not a 400 before any handler.
HEADER_FIELD_LIMIT = 16 * 1024


def create_app(settings: Settings, db: sqlite_utils.Database, link: bus.BusLink) -> web.Application:
    app = web.Application(
        middlewares=[*access_middlewares(lambda request: request.app[PUBLIC_KEY]), remember_language],
        handler_args={"max_field_size": HEADER_FIELD_LIMIT},
    )
    install_access(app, access.PUBLIC | webhooks.PUBLIC, access.authenticate, access.record_refusal)
    app[SIGN_IN_REDIRECT] = access.sign_in_redirect
    app.on_response_prepare.append(access.strict_headers)
    app[DATABASE] = db
    app[PUBLIC_KEY] = load_or_create_private_key(settings.token_key_file).public_key()
    app[LINK] = link
    app[REVOCATIONS] = lambda token_id: token_id in revoked_tokens(db)
    app[BROADCASTER] = Broadcaster()
    app[CHANGES] = PostChanges(db, app[BROADCASTER])
    app[CHANGES].catch_up()
    app[APPROVER] = Approver(link, db, timedelta(minutes=settings.schedule_grace_minutes), app[CHANGES])
    app[MIRROR] = PagesMirror()
    app[LOGIN_THROTTLE] = LoginThrottle()
    app[NETWORK_OPTIONS] = settings.network_options

    async def ready() -> dict[str, bool]:
        return {"nats": link.connected, "database": bool(db.execute("select 1").fetchone())}

    add_health_routes(app, ready)
    add_metrics_route(app, lambda request: request.app[PUBLIC_KEY])
    set_reader("hub", lambda: hub_metrics(db))
    app.router.add_get("/", handlers.home)
    add_favicon_route(app)
    app.router.add_get("/audit", handlers.latest_events_page)
    app.router.add_get("/v1/audit", handlers.get_audit)
    app.router.add_post("/v1/posts", create_campaign)
    app.router.add_get("/v1/posts/{post_id}", handlers.get_post)
    app.router.add_get("/v1/agencies", handlers.list_agencies)
    app.router.add_get("/v1/schedule", handlers.list_schedule)
    app.router.add_get("/v1/openapi.json", handlers.openapi)
    app.router.add_get("/dead-letters", handlers.dead_letters_page)
    dead_letters.add_routes(app)
    moderation.add_routes(app)
    dashboard.add_routes(app)
    inbox_api.install(app, settings.inbox)
    inbox_report_api.add_routes(app, settings.inbox)
    inbox_report_page.add_routes(app)
    advocacy_report_api.add_routes(app)
    advocacy_report_page.add_routes(app)
    inbox_replies.add_routes(app)
    saved_replies.add_routes(app)
    advocacy.add_routes(app)
    inbox_page.add_routes(app)
    webhooks.add_routes(app, settings.webhook_secrets)

    async def end_streams(app: web.Application) -> None:
        app[BROADCASTER].close()  # open dashboards must not hold the hub's shutdown

    app.on_shutdown.append(end_streams)
    return app


async def run(settings: Settings, stop: asyncio.Event) -> None:
    db = open_store(settings.database)
    link = bus.BusLink()
    app = create_app(settings, db, link)
    runner = await start_site(app, settings.host, settings.port, "RELAIS_HUB_PORT")
    try:
        link.nc = await bus.wait_connected(settings.nats_url, bus.hub_client("hub"), stop)
        if link.nc is None:
            return
        await bus.ensure_streams(link.nc.jetstream())
        await asyncio.gather(
            run_bus(link.nc, db, app[APPROVER], stop),
            app[MIRROR].follow(link.nc.jetstream(), stop),
            publish_revocations(link.nc.jetstream(), db, stop),
            publish_advisors(link.nc.jetstream(), db, stop),
            saved_replies.publish_saved_replies(link.nc.jetstream(), db, stop),
            publish_stories(link.nc.jetstream(), db, app[MIRROR], stop),
            dead_letters.follow(link.nc.jetstream(), db, stop),
            engagement.follow(link.nc.jetstream(), db, stop),
            app[CHANGES].run(stop),
            inbox_api.follow(app, link.nc.jetstream(), stop),
            watch_bus(
                link,
                (
                    APPROVAL,
                    dead_letters.ALERTS,
                    dead_letters.RESOLVED,
                    inbox.CONSUMER,
                    inbox.REPLIES,
                    engagement.CONSUMER,
                    *AUDITS,
                ),
                stop,
            ),
        )
    finally:
        await link.close()
        await runner.cleanup()
        db.close()
