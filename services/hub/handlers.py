"""Hub HTTP handlers: the audit API (admin) and a plain page of the latest events."""

from __future__ import annotations

import html

from aiohttp import web

from services.hub.keys import DATABASE, PUBLIC_KEY
from services.hub.moderation import in_scope
from services.hub.store import agencies, events_for_post, events_named, latest_events, scheduled_posts
from services.hub.view import post_view
from services.hub.web_auth import viewer_of
from shared.web import bearer_claims, json_error


async def get_audit(request: web.Request) -> web.Response:
    bearer_claims(request, request.app[PUBLIC_KEY], ("admin",))
    post_id, event = request.query.get("post_id"), request.query.get("event")
    if event and not post_id:
        return web.json_response({"event": event, "events": events_named(request.app[DATABASE], event)})
    if not post_id:
        return json_error(
            400, "missing_parameter", "give post_id (a post's events) or event (latest of a kind)", "post_id"
        )
    return web.json_response({"post_id": post_id, "events": events_for_post(request.app[DATABASE], post_id)})


async def get_post(request: web.Request) -> web.Response:
    bearer_claims(request, request.app[PUBLIC_KEY], ("admin", "moderator", "ops"))
    post_id = request.match_info["post_id"]
    view = post_view(post_id, events_for_post(request.app[DATABASE], post_id))
    if view is None:
        return json_error(404, "not_found", "the hub has no record of this post", "post_id")
    return web.json_response(view)


async def list_agencies(request: web.Request) -> web.Response:
    """Each agency node's last contact (heartbeat or relayed post) and its outbox backlog."""
    bearer_claims(request, request.app[PUBLIC_KEY], ("admin", "moderator", "ops"))
    return web.json_response({"agencies": agencies(request.app[DATABASE])})


async def list_schedule(request: web.Request) -> web.Response:
    bearer_claims(request, request.app[PUBLIC_KEY], ("admin", "moderator", "ops"))
    return web.json_response({"scheduled": scheduled_posts(request.app[DATABASE])})


async def home(request: web.Request) -> web.Response:
    """The hub's front door is the dashboard, which asks to sign in (the audit is not public)."""
    raise web.HTTPFound("/dashboard")


async def latest_events_page(request: web.Request) -> web.Response:
    """A plain page of the latest audit events, for people signed in to the dashboard (a regional
    moderator sees its region's agencies only)."""
    viewer = viewer_of(request)
    if viewer is None:
        raise web.HTTPFound("/login")
    rows = [
        r
        for r in latest_events(request.app[DATABASE], limit=300)
        if not r["agency"] or in_scope(request, viewer.claims, r["agency"])
    ][:200]
    columns = ("occurred_at", "agency", "post_id", "event", "network", "page", "actor")
    cells = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(r[k] or ''))}</td>" for k in columns) + "</tr>" for r in rows
    )
    body = (
        "<!doctype html><html lang='fr'><head><meta charset='utf-8'><title>Relais hub: audit</title>"
        "<style>body{font-family:sans-serif;margin:2rem}table{border-collapse:collapse}"
        "td,th{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left}</style></head>"
        "<body><h1>Latest events</h1><p><a href='/dashboard'>Dashboard</a></p><table><thead><tr>"
        + "".join(f"<th>{c}</th>" for c in columns)
        + f"</tr></thead><tbody>{cells}</tbody></table></body></html>"
    )
    return web.Response(text=body, content_type="text/html")
