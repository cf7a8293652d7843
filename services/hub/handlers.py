"""Hub HTTP handlers: the audit API (admin) and a plain page of the latest events."""

from __future__ import annotations

from aiohttp import web

from services.hub.keys import DATABASE, PUBLIC_KEY
from services.hub.store import agencies, events_for_post, events_named, scheduled_posts
from services.hub.view import post_view
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
