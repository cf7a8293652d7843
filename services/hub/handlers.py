"""Hub HTTP handlers: the audit API, a post's view, agencies, schedule, and a plain page of the
latest events. Lists are cut to the reader's territory; one post outside it is a 404 (scope.py)."""

from __future__ import annotations

from aiohttp import web

from services.hub.api_types import AgencyList, AuditAnswer, HubPostView, ScheduleList
from services.hub.dashboard_html import locale_of, page_response
from services.hub.dead_letters import visible
from services.hub.engagement import figures_by_page
from services.hub.keys import DATABASE, PUBLIC_KEY
from services.hub.openapi import HUB_OPENAPI
from services.hub.scope import READERS, in_scope, is_regional, pages_in_scope
from services.hub.store import (
    agencies,
    decision_of,
    events_for_post,
    events_named,
    latest_events,
    scheduled_posts,
)
from services.hub.view import post_view
from services.hub.web_auth import viewer_of, who_is
from shared.access import note_refusal
from shared.api_contract import typed_json
from shared.i18n import words
from shared.web import bearer_claims, json_error

# The audit holds every agency's events and hub-wide ones (sign-ins, policies) that belong to no
# region: national readers only. A regional moderator reads her region's events on `/audit`.
AUDIT_READERS = ("admin", "ops")
LATEST_EVENTS = 500  # `GET /v1/audit` without a post or an event: the latest of all kinds


async def get_audit(request: web.Request) -> web.Response:
    bearer_claims(request, request.app[PUBLIC_KEY], AUDIT_READERS)
    post_id, event = request.query.get("post_id"), request.query.get("event")
    db = request.app[DATABASE]
    if post_id:
        return typed_json({"post_id": post_id, "events": events_for_post(db, post_id)}, AuditAnswer)
    if event:
        return typed_json({"event": event, "events": events_named(db, event)}, AuditAnswer)
    return typed_json({"events": latest_events(db, limit=LATEST_EVENTS)}, AuditAnswer)


async def get_post(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], READERS)
    post_id = request.match_info["post_id"]
    view = post_view(post_id, events_for_post(request.app[DATABASE], post_id))
    if view is not None and not pages_in_scope(
        request, claims, view["agency"] or "", (d["agency"] or "" for d in view["deliveries"])
    ):
        note_refusal(request, "outside the moderator's region", claims=claims, post_id=post_id, status=404)
        view = None  # answered exactly as a post the hub does not know
    if view is None:
        return json_error(404, "not_found", "the hub has no record of this post", "post_id")
    decision = decision_of(request.app[DATABASE], post_id)
    figures = figures_by_page(request.app[DATABASE], post_id)
    deliveries = [{**d, "engagement": figures.get(d["page"], [])} for d in view["deliveries"]]
    view = {**view, "deliveries": deliveries, "decision": decision.public() if decision else None}
    return typed_json(view, HubPostView)


async def list_agencies(request: web.Request) -> web.Response:
    """Each agency node's last contact (heartbeat or relayed post) and its outbox backlog."""
    claims = bearer_claims(request, request.app[PUBLIC_KEY], READERS)
    rows = [r for r in agencies(request.app[DATABASE]) if in_scope(request, claims, r["agency"])]
    return typed_json({"agencies": rows}, AgencyList)


async def list_schedule(request: web.Request) -> web.Response:
    claims = bearer_claims(request, request.app[PUBLIC_KEY], READERS)
    rows = [r for r in scheduled_posts(request.app[DATABASE]) if in_scope(request, claims, r["agency"])]
    return typed_json({"scheduled": rows}, ScheduleList)


async def openapi(request: web.Request) -> web.Response:
    """The hub's OpenAPI document (public: services/hub/access.py)."""
    return web.json_response(HUB_OPENAPI)


async def home(request: web.Request) -> web.Response:
    """The hub's front door is the dashboard, which asks to sign in (the audit is not public)."""
    raise web.HTTPFound("/dashboard")


async def latest_events_page(request: web.Request) -> web.Response:
    """A page of the latest audit events, in the signed-in layout (a regional moderator sees its
    region's agencies' events only, not the hub-wide ones)."""
    viewer = viewer_of(request)
    if viewer is None:
        raise web.HTTPFound("/login")
    claims = viewer.claims
    rows = [
        r
        for r in latest_events(request.app[DATABASE], limit=300)
        if (r["agency"] and in_scope(request, claims, r["agency"])) or not is_regional(claims)
    ][:200]
    _ = words(locale_of(request)).gettext
    return page_response(
        request,
        "audit.html",
        title=_("Audit"),
        heading=_("Latest events"),
        current="audit",
        who=who_is(request, viewer),
        csrf=viewer.csrf,
        rows=rows,
    )


async def dead_letters_page(request: web.Request) -> web.Response:
    viewer = viewer_of(request)
    if viewer is None:
        raise web.HTTPFound("/login")
    _ = words(locale_of(request)).gettext
    return page_response(
        request,
        "dead_letters.html",
        title=_("Dead letters"),
        heading=_("Dead letters and pages to look after"),
        current="dead-letters",
        who=who_is(request, viewer),
        csrf=viewer.csrf,
        lists=visible(request, viewer.claims),
    )
