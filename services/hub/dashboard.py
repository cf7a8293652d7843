"""The hub's web dashboard: server-rendered sections, refreshed live, and the moderators' actions.

- `GET /dashboard`: every section for the signed-in viewer (regional moderators see their region);
- `GET /dashboard/sections/{name}`: one section's HTML, which the page's script fetches again when
  the live feed (`GET /events`) says something in it changed;
- `POST /dashboard/queue/{post_id}/approve|reject` (moderator, admin) and
  `POST /dashboard/dead-letters/{post_id}/{page}/retry` (admin): forms with the session's CSRF
  token; plain posts are answered with a redirect, the script's with JSON.
Ops see everything and change nothing. Refusals are audited as `permission.denied`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from services.hub.dashboard_data import (
    Scope,
    agency_groups,
    campaign,
    dead_letter_lists,
    delivery_counts,
    failed_deliveries,
    hourly_deliveries,
    post_counts,
    queue_items,
    recent_posts,
    week,
)
from services.hub.dashboard_html import (
    agencies_section,
    calendar_section,
    campaign_section,
    chart_section,
    failures_section,
    fragment_response,
    live_section,
    locale_of,
    markup,
    page_response,
    posts_section,
    queue_section,
    reauth_section,
    script_strings,
    stats_section,
    throttled_section,
)
from services.hub.dead_letters import ActionTaken, action_taken, request_action
from services.hub.events import stream
from services.hub.keys import APPROVER, DATABASE, LINK, MIRROR
from services.hub.moderation import (
    MODERATORS,
    already_decided,
    audit_denial,
    post_agency,
    refuse_decision,
)
from services.hub.scope import in_scope
from services.hub.service import AlreadyDecided, NotQueued
from services.hub.web_auth import (
    Refused,
    Viewer,
    checked_form,
    login,
    login_form,
    logout,
    refusal,
    require_role,
    require_viewer,
    viewer_of,
    who_is,
)
from shared.access import note_refusal
from shared.i18n import N_, words

__all__ = ["add_routes", "agency_registry"]

TITLES = {  # in the page's order; msgids, translated per viewer
    "queue": N_("Moderation queue"),
    "posts": N_("Latest posts"),
    "live": N_("Live"),
    "stats": N_("Posts by state"),
    "agencies": N_("Agencies"),
    "reauth": N_("Pages to reconnect"),
    "throttled": N_("Pages throttled by their network"),
    "failures": N_("Failures and dead letters"),
    "calendar": N_("This week's plan"),
    "chart": N_("Deliveries per hour (last 24 hours)"),
}
NOTICES = {
    "approved": N_("Approved: the post goes to its pages."),
    "rejected": N_("Rejected: the advisor will read your reason."),
    "retry": N_("Retry requested."),
}
MAX_REASON = 1000
MAX_SEARCH = 100


def _scope(request: web.Request, viewer: Viewer) -> Scope:
    claims = viewer.claims
    return Scope(
        allows=lambda agency: in_scope(request, claims, agency),
        region_of=request.app[MIRROR].region_of,
        regional=claims.role != "admin" and claims.region is not None,
    )


def render_section(request: web.Request, viewer: Viewer, name: str) -> str:
    db, now, role = request.app[DATABASE], datetime.now(UTC), viewer.claims.role
    scope, locale = _scope(request, viewer), locale_of(request)
    match name:
        case "queue":
            return queue_section(locale, queue_items(db, scope), viewer.csrf, can_act=role in MODERATORS)
        case "posts":
            return posts_section(locale, recent_posts(db, scope))
        case "live":
            return live_section(locale)
        case "stats":
            return stats_section(locale, post_counts(db, scope), delivery_counts(db, scope))
        case "agencies":
            search, link = _agency_filter(request)
            groups = agency_groups(db, scope, now, agency_registry(request), search, link)
            return agencies_section(locale, groups, search, link, filtered=bool(search or link))
        case "failures":
            letters = dead_letter_lists(db, scope)["dead_letters"]
            return failures_section(
                locale, letters, failed_deliveries(db, scope), viewer.csrf, can_retry=role == "admin"
            )
        case "reauth":
            return reauth_section(locale, dead_letter_lists(db, scope)["pages_needing_reauth"])
        case "throttled":
            return throttled_section(locale, dead_letter_lists(db, scope)["pages_throttled"])
        case "calendar":
            return calendar_section(locale, week(db, scope, now))
        case "chart":
            return chart_section(locale, *hourly_deliveries(db, scope, now))
    raise web.HTTPNotFound()


def _agency_filter(request: web.Request) -> tuple[str, str]:
    """The agencies' search text and link filter from the query (bounded; an unknown filter is none)."""
    link = request.query.get("link", "")
    return request.query.get("q", "")[:MAX_SEARCH], link if link in ("online", "offline") else ""


def agency_registry(request: web.Request) -> dict[str, dict[str, str]]:
    """Every agency of the page registry, with its name, city and region."""
    known: dict[str, dict[str, str]] = {}
    for record in request.app[MIRROR].records():
        known.setdefault(
            record.agency,
            {
                "name": record.agency_name,
                "city": record.city,
                "region": record.region,
                "region_name": record.region_name,
            },
        )
    return known


async def page(request: web.Request) -> web.Response:
    viewer = viewer_of(request)
    if viewer is None:
        raise web.HTTPSeeOther("/login")
    locale = locale_of(request)
    _ = words(locale).gettext
    sections = [
        (name, _(title), markup(render_section(request, viewer, name))) for name, title in TITLES.items()
    ]
    done = request.query.get("done", "")
    return page_response(
        request,
        "dashboard.html",
        title=_("Dashboard"),
        heading=_("Dashboard"),
        current="dashboard",
        who=who_is(request, viewer),
        csrf=viewer.csrf,
        notice=_(NOTICES[done]) if done in NOTICES else "",
        sections=sections,
        strings=script_strings(locale),
    )


async def campaign_page(request: web.Request) -> web.Response:
    """One post's deliveries, counted per network and status, by region and agency, and the figures
    read back from the networks per network; `?agency=` lists that agency's pages and their figures.
    Outside the viewer's territory it does not exist (404)."""
    viewer = viewer_of(request)
    if viewer is None:
        raise web.HTTPSeeOther("/login")
    post_id = request.match_info["post_id"]
    agency = request.query.get("agency") or None
    db = request.app[DATABASE]
    view = campaign(db, _scope(request, viewer), post_id, agency)
    if view is None:
        if db.execute("select 1 from post_states where post_id = ?", [post_id]).fetchone():
            # Outside her region: answered as a post the hub does not know, and audited.
            reason = "outside the moderator's region"
            note_refusal(request, reason, claims=viewer.claims, post_id=post_id, status=404)
        raise web.HTTPNotFound()
    locale = locale_of(request)
    _ = words(locale).gettext
    return page_response(
        request,
        "campaign.html",
        title=_("Deliveries of post %(post)s") % {"post": post_id},
        heading=_("Deliveries of post %(post)s") % {"post": post_id},
        current="dashboard",
        who=who_is(request, viewer),
        csrf=viewer.csrf,
        body=markup(campaign_section(locale, view, agency_registry(request))),
    )


async def section(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    try:
        viewer = require_viewer(request)
    except Refused as exc:
        return refusal(request, exc)
    if name not in TITLES:
        raise web.HTTPNotFound()
    return fragment_response(render_section(request, viewer, name))


async def decide(request: web.Request) -> web.Response:
    """Approve or reject a queued post, within the moderator's region; the first decision wins."""
    post_id, decision = request.match_info["post_id"], request.match_info["decision"]
    try:
        viewer = require_viewer(request)
        form = await checked_form(request, viewer)
        require_role(request, viewer, MODERATORS)
        agency = post_agency(request, post_id)
        if agency is None:
            raise Refused(404, "not_queued", "this post no longer waits for a moderator")
        if not in_scope(request, viewer.claims, agency):
            audit_denial(request, viewer.claims, "outside the moderator's region", post_id, agency)
            raise Refused(403, "outside_scope", f"agency {agency} is outside your region")
        reason = str(form.get("reason") or "").strip()
        if decision == "reject" and not 0 < len(reason) <= MAX_REASON:
            raise Refused(
                400, "missing_field", f"a rejection needs a reason (at most {MAX_REASON} characters)"
            )
        if not request.app[LINK].connected:
            raise Refused(503, "bus_unavailable", "the hub's bus is unreachable; try again shortly")
        edited = str(form.get("text") or "").replace("\r\n", "\n").strip() or None
        attempted = "reject" if decision == "reject" else "edit_and_approve" if edited else "approve"
        try:
            await request.app[APPROVER].moderate(
                post_id,
                viewer.claims.subject,
                text=edited if decision == "approve" else None,
                reason=reason if decision == "reject" else None,
            )
        except NotQueued:
            raise Refused(404, "not_queued", "this post no longer waits for a moderator") from None
        except AlreadyDecided as exc:
            message = refuse_decision(request, viewer.claims, exc.decision, attempted)
            if "application/json" in request.headers.get("Accept", ""):
                return already_decided(exc.decision, message)
            decided = (exc.decision.decision, exc.decision.by)
            raise Refused(409, "already_decided", message, decided) from None
    except Refused as exc:
        return refusal(request, exc)
    return _done(request, "approved" if decision == "approve" else "rejected", post_id)


async def retry(request: web.Request) -> web.Response:
    """Ask the dispatcher to try a dead letter again (the same claim as the dead-letters API)."""
    post_id, page_id = request.match_info["post_id"], request.match_info["page"]
    db = request.app[DATABASE]
    try:
        viewer = require_viewer(request)
        await checked_form(request, viewer)
        require_role(request, viewer, ("admin",))
        letters = dead_letter_lists(db, _scope(request, viewer))["dead_letters"]
        letter = next((d for d in letters if (d["post_id"], d["page"]) == (post_id, page_id)), None)
        if letter is None:
            raise Refused(404, "not_found", f"no open dead letter for post {post_id} on page {page_id}")
        if not request.app[LINK].connected:
            raise Refused(503, "bus_unavailable", "the hub's bus is unreachable; try again shortly")
        try:
            claimed = request_action(db, post_id, page_id, "retry", viewer.claims.subject)
        except ActionTaken as exc:
            answer = action_taken(db, exc.action, "retry", viewer.claims.subject, letter["agency"])
            if "application/json" in request.headers.get("Accept", ""):
                return answer
            message = f"{exc.action.action} was already requested"
            raise Refused(409, "already_decided", message, (exc.action.action, exc.action.by)) from None
        if claimed is None:
            raise Refused(404, "not_found", f"no open dead letter for post {post_id} on page {page_id}")
    except Refused as exc:
        return refusal(request, exc)
    await request.app[APPROVER].outbox.flush()
    return _done(request, "retry", post_id)


def _done(request: web.Request, done: str, post_id: str) -> web.Response:
    if "application/json" in request.headers.get("Accept", ""):
        message = words(locale_of(request)).gettext(NOTICES[done])
        return web.json_response({"post_id": post_id, "done": done, "message": message})
    raise web.HTTPSeeOther(f"/dashboard?done={done}")


def add_routes(app: web.Application) -> None:
    app.router.add_static("/static/", Path(__file__).parent / "static")
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
    app.router.add_get("/dashboard", page)
    app.router.add_get("/dashboard/sections/{name}", section)
    app.router.add_get("/dashboard/posts/{post_id}", campaign_page)
    app.router.add_post("/dashboard/queue/{post_id}/{decision:approve|reject}", decide)
    app.router.add_post("/dashboard/dead-letters/{post_id}/{page}/retry", retry)
    app.router.add_get("/events", stream)
