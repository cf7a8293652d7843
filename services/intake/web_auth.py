"""Advisors sign in at their agency's node: `/login`, a session cookie, then `/` (the composer,
composer_page.py) and `/logout`.

The accounts are the hub's, copied here by the follower (hashes only), so signing in needs no link
to the hub. The sign-in check, its throttling, the cookies and the CSRF comparison are the hub's
own implementation (shared/web_login.py). A session stands for the advisor as a token would
(`Claims` with their agency and their username as author), so the browser may call this node's
API with it; every state-changing request on a session must carry the session's CSRF token
(header `X-CSRF-Token`, or field `csrf` for the sign-out form), else 403.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from aiohttp import web

from services.intake.keys import DATABASE, LOGIN_THROTTLE, SETTINGS
from shared.access import note_refusal
from shared.accounts import close_session, live_session
from shared.http_body import read_form
from shared.i18n import words
from shared.i18n.templates import environment
from shared.i18n.web import locale_of
from shared.tokens import Claims
from shared.web import AuthError, json_error
from shared.web_login import (
    AGENCY_SESSION_COOKIE,
    SignInRefused,
    csrf_matches,
    session_redirect,
    sign_in,
    signed_out,
    with_login_token,
)

__all__ = ["HEADERS", "PUBLIC", "add_routes", "live_advisor", "session_claims", "sign_in_redirect"]

log = structlog.get_logger("relais.intake.web_auth")

ADVISOR_ROLES = ("advisor",)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# The sign-out form sends its CSRF token as a field, which its handler checks (a header is for scripts).
FORM_CSRF_ROUTES = frozenset({("POST", "/logout")})
# The sign-in form, and the composer's script and stylesheet (they hold no data).
PUBLIC = frozenset({("GET", "/login"), ("POST", "/login"), ("GET", "/static")})
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def live_advisor(request: web.Request) -> dict[str, Any] | None:
    """The session row of the advisor of this agency signed in with this request, if any."""
    cookie = request.cookies.get(AGENCY_SESSION_COOKIE)
    row = live_session(request.app[DATABASE], cookie, ADVISOR_ROLES) if cookie else None
    return row if row is not None and row["agency"] == request.app[SETTINGS].agency else None


def session_claims(request: web.Request) -> Claims | None:
    """The signed-in advisor as claims (None without a live session of this agency); a
    state-changing request without the session's CSRF token is refused (403)."""
    row = live_advisor(request)
    if row is None:
        return None
    expires = int(datetime.fromisoformat(row["expires_at"]).timestamp())
    claims = Claims(row["username"], row["role"], row["agency"], expires, f"session:{row['id_hash'][:12]}")
    route = request.match_info.route.resource
    key = (request.method, route.canonical if route else "")
    if request.method not in SAFE_METHODS and key not in FORM_CSRF_ROUTES:
        if not csrf_matches(request.headers.get("X-CSRF-Token"), row["csrf"]):
            note_refusal(request, "missing or wrong CSRF token", claims=claims)
            refused = AuthError(403, "csrf", "send the session's CSRF token in X-CSRF-Token")
            refused.response = json_error(
                403, "csrf", "send the session's CSRF token in X-CSRF-Token", "X-CSRF-Token"
            )
            raise refused
    return claims


def sign_in_redirect(request: web.Request) -> web.StreamResponse | None:
    """A person asking for a page without a session goes to the sign-in form; the API answers 401."""
    if request.path not in ("/", "/logout", "/inbox", "/share", "/advocacy") and not request.path.startswith(
        "/inbox/"
    ):
        return None
    return web.Response(status=303, headers={"Location": "/login"})


def _page(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    locale = locale_of(request)
    text = (
        environment("services.intake", locale)
        .get_template(name)
        .render(agency=request.app[SETTINGS].agency, **context)
    )
    return web.Response(text=text, status=status, content_type="text/html", headers=HEADERS)


def _login_page(
    request: web.Request, error: str | None, status: int, translated: bool = False
) -> web.Response:
    _ = words(locale_of(request)).gettext
    shown = error if translated or error is None else _(error)
    return with_login_token(
        request,
        lambda token: _page(
            request, "login.html", status, title=_("Sign in"), login_token=token, error=shown
        ),
    )


async def login_form(request: web.Request) -> web.Response:
    if live_advisor(request) is not None:
        raise web.HTTPSeeOther("/")
    return _login_page(request, None, 200)


async def login(request: web.Request) -> web.Response:
    agency = request.app[SETTINGS].agency

    def audit(event: str, actor: str, detail: dict[str, object]) -> None:
        log.info(event, agency=agency, actor=actor, remote=request.remote, **detail)
        if event == "login.failed":
            note_refusal(request, f"sign-in failed ({detail.get('reason')}) as {actor}", agency=agency)
        elif event == "login.throttled":
            note_refusal(request, f"sign-in throttled as {actor}", agency=agency, status=429)

    outcome = await sign_in(
        request,
        await read_form(request),
        request.app[DATABASE],
        request.app[LOGIN_THROTTLE],
        lambda account: account["role"] == "advisor" and account["agency"] == agency,
        audit,
        locale_of(request),
        rehash=False,  # the hub's hash is the account's: a node's copy is replaced, never rewritten
    )
    if isinstance(outcome, SignInRefused):
        if outcome.status == 403:
            note_refusal(request, "sign-in form without its double-submit token", agency=agency)
        response = _login_page(request, outcome.message, outcome.status, outcome.translated)
        if outcome.retry_after is not None:
            response.headers["Retry-After"] = str(outcome.retry_after)
        return response
    log.info("login.succeeded", agency=agency, actor=outcome.account["username"], remote=request.remote)
    raise session_redirect(request, outcome.session, "/", AGENCY_SESSION_COOKIE)


async def logout(request: web.Request) -> web.Response:
    row = live_advisor(request)
    form = await read_form(request)
    if row is None:
        raise web.HTTPSeeOther("/login")
    if not csrf_matches(request.headers.get("X-CSRF-Token") or form.get("csrf"), row["csrf"]):
        note_refusal(request, "sign-out without the session's CSRF token", agency=row["agency"])
        return json_error(
            403, "csrf", "this form is stale or did not come from this node; reload the page", "csrf"
        )
    close_session(request.app[DATABASE], request.cookies[AGENCY_SESSION_COOKIE])
    log.info("logout", agency=row["agency"], actor=row["username"], remote=request.remote)
    raise signed_out(AGENCY_SESSION_COOKIE)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_post("/logout", logout)
