"""The hub's side of deny-by-default (shared/access.py): its public routes, how a request
authenticates (a bearer token, or the dashboard's session cookie), where a person without either is
sent, and how each refusal reaches the audit (`permission.denied`, directly: the hub owns it).

Which roles may use a route, and in which territory, is each handler's business (services/hub/scope.py);
the table every route is tested against is in tests/test_permissions.py.
"""

from __future__ import annotations

from aiohttp import web
from ulid import ULID

from services.hub.dashboard_html import CSP
from services.hub.keys import DATABASE, PUBLIC_KEY
from services.hub.store import append_event
from services.hub.web_auth import viewer_of
from shared.access import PublicRoutes, Refusal
from shared.ids import utc_now
from shared.metrics import METRICS_PATH
from shared.tokens import ROLES, Claims
from shared.web import bearer_claims

__all__ = ["PUBLIC", "authenticate", "record_refusal", "sign_in_redirect", "strict_headers"]

PUBLIC: PublicRoutes = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/"),  # a redirect to the dashboard, which asks to sign in
        ("GET", "/login"),
        ("POST", "/login"),  # checked by its own double-submit token and throttle
        ("GET", "/static"),  # the dashboard's stylesheet and script
        ("GET", "/v1/openapi.json"),  # the API's description, as every client generator fetches it
    }
)


def authenticate(request: web.Request) -> Claims | None:
    """The API (`/v1/…`) and `/metrics` take bearer tokens only (a cookie there would invite
    cross-site requests); the dashboard's pages, forms and live feed take the session cookie only."""
    if request.path.startswith("/v1/") or request.path == METRICS_PATH:
        if "Authorization" not in request.headers:
            return None
        return bearer_claims(request, request.app[PUBLIC_KEY], ROLES)
    viewer = viewer_of(request)
    return viewer.claims if viewer is not None else None


def sign_in_redirect(request: web.Request) -> web.StreamResponse | None:
    """A browser without a session is sent to the sign-in page; the API and scripts get JSON 401."""
    if request.path.startswith("/v1/") or request.path in ("/events", METRICS_PATH):
        return None
    if "application/json" in request.headers.get("Accept", ""):
        return None
    return web.Response(status=303, headers={"Location": "/login"})


def record_refusal(request: web.Request, refusal: Refusal) -> None:
    detail: dict[str, object] = {
        "status": refusal.status,
        "code": refusal.code,
        "reason": refusal.reason,
        "method": refusal.method,
        "route": refusal.route,
        "path": refusal.path,
        "remote": refusal.remote,
        "token_id": refusal.token_id,
        "role": refusal.role,
    }
    event = "permission.denied.capped" if refusal.capped else "permission.denied"
    append_event(
        request.app[DATABASE],
        source=f"hub:{event}:{ULID()}",
        occurred_at=utc_now(),
        post_id=refusal.post_id,
        agency=refusal.agency,
        event=event,
        actor=refusal.subject or "anonymous",
        detail=detail,
    )


async def strict_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Every answer of the hub carries the strict Content-Security-Policy, whatever produced it (a
    page, an error, a redirect, the live feed): set when the headers are about to leave, so no
    route can forget it."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
