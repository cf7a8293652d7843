"""Signing in to the dashboard: the login form, the session, CSRF checks, logout.

The sign-in check, cookies and CSRF comparison are shared with the agency nodes
(shared/web_login.py); here are the hub's pages around them and its audit. Sign-ins, failed
sign-ins and refusals go to the audit trail, never with the password. Advisors' accounts live here
too, but they sign in at their agency's node only: the hub answers them as an unknown name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from aiohttp import web
from multidict import MultiDictProxy
from ulid import ULID

from services.hub.dashboard_html import locale_of, page_response
from services.hub.keys import DATABASE, LOGIN_THROTTLE
from services.hub.moderation import audit_denial
from services.hub.store import append_event
from shared.access import audited_elsewhere, note_refusal
from shared.accounts import DASHBOARD_ROLES, close_session, live_session
from shared.http_body import read_form
from shared.i18n import words
from shared.ids import utc_now
from shared.tokens import Claims
from shared.web import json_error
from shared.web_login import (
    SESSION_COOKIE,
    SignInRefused,
    csrf_matches,
    session_redirect,
    sign_in,
    signed_out,
    with_login_token,
)

__all__ = [
    "SESSION_COOKIE",
    "Refused",
    "Viewer",
    "checked_form",
    "login",
    "login_form",
    "logout",
    "refusal",
    "require_role",
    "require_viewer",
    "viewer_of",
    "who_is",
]

log = structlog.get_logger("relais.hub.web_auth")


@dataclass(frozen=True)
class Viewer:
    """Who is looking at the dashboard: the same claims as a token, so scope checks are shared."""

    claims: Claims
    csrf: str


class Refused(Exception):
    """A refusal: `message` for the scripts' JSON (English), `code` translated for people, and
    `decided` (what, by whom) when another person's decision stands."""

    def __init__(self, status: int, code: str, message: str, decided: tuple[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.decided = status, code, message, decided


def viewer_of(request: web.Request) -> Viewer | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    row = live_session(request.app[DATABASE], cookie, DASHBOARD_ROLES) if cookie else None
    if row is None:
        return None
    expires = int(datetime.fromisoformat(row["expires_at"]).timestamp())
    claims = Claims(
        row["username"], row["role"], None, expires, f"session:{row['id_hash'][:12]}", row["region"]
    )
    return Viewer(claims, row["csrf"])


def who_is(request: web.Request, viewer: Viewer) -> str:
    """The signed-in person as the pages' header shows them: name, role, region."""
    claims, language = viewer.claims, words(locale_of(request))
    who = f"{claims.subject} · {language.role(claims.role)}" + (
        f" · {claims.region}" if claims.region else ""
    )
    return who + (f" ({language.gettext('read-only')})" if claims.role == "ops" else "")


def require_viewer(request: web.Request) -> Viewer:
    viewer = viewer_of(request)
    if viewer is None:
        raise Refused(401, "unauthenticated", "sign in again (your session ended)")
    return viewer


def require_role(request: web.Request, viewer: Viewer, roles: tuple[str, ...]) -> None:
    """Refuse (403, audited) a signed-in person whose role may not do this."""
    if viewer.claims.role not in roles:
        audit_denial(request, viewer.claims, f"role {viewer.claims.role} may not do this")
        raise Refused(
            403, "forbidden", f"role {viewer.claims.role} may not do this; needs {' or '.join(roles)}"
        )


async def checked_form(
    request: web.Request, viewer: Viewer
) -> MultiDictProxy[str | bytes | bytearray | web.FileField]:
    """The posted form, once its CSRF token (field `csrf` or header `X-CSRF-Token`) is the session's."""
    form = await read_form(request)
    if not csrf_matches(request.headers.get("X-CSRF-Token") or form.get("csrf"), viewer.csrf):
        audit_denial(request, viewer.claims, "missing or wrong CSRF token")
        raise Refused(403, "csrf", "this form is stale or did not come from the dashboard; reload the page")
    return form


def refusal(request: web.Request, exc: Refused) -> web.Response:
    """JSON for the dashboard's scripts, a small page for a plain form post."""
    if "application/json" in request.headers.get("Accept", ""):
        return json_error(exc.status, exc.code, exc.message)
    if exc.status == 401:
        raise web.HTTPSeeOther("/login")
    language = words(locale_of(request))
    decided = (
        language.gettext("%(decision)s by %(by)s.")
        % {"decision": language.decision(exc.decided[0]), "by": exc.decided[1]}
        if exc.decided
        else None
    )
    return page_response(
        request,
        "refused.html",
        exc.status,
        title=language.gettext("Refused"),
        message=language.error(exc.code, exc.message),
        decided=decided,
    )


async def login_form(request: web.Request) -> web.Response:
    if viewer_of(request) is not None:
        raise web.HTTPSeeOther("/dashboard")
    return _login_page(request, None, 200)


async def login(request: web.Request) -> web.Response:
    form = await read_form(request)
    outcome = await sign_in(
        request,
        form,
        request.app[DATABASE],
        request.app[LOGIN_THROTTLE],
        lambda account: account["role"] in DASHBOARD_ROLES,
        lambda event, actor, detail: _audit(request, event, actor, detail),
        locale_of(request),
        rehash=True,
    )
    if isinstance(outcome, SignInRefused):
        if outcome.status == 403:
            note_refusal(request, "sign-in form without its double-submit token")
        elif outcome.status == 401:
            audited_elsewhere(request)
        response = _login_page(request, outcome.message, outcome.status, outcome.translated)
        if outcome.retry_after is not None:
            response.headers["Retry-After"] = str(outcome.retry_after)
        return response
    account = outcome.account
    _audit(
        request,
        "login.succeeded",
        account["username"],
        {"role": account["role"], "region": account["region"]},
    )
    raise session_redirect(request, outcome.session, "/dashboard")


async def logout(request: web.Request) -> web.Response:
    try:
        viewer = require_viewer(request)
        await checked_form(request, viewer)
    except Refused as exc:
        return refusal(request, exc)
    close_session(request.app[DATABASE], request.cookies[SESSION_COOKIE])
    _audit(request, "logout", viewer.claims.subject, {})
    raise signed_out()


def _login_page(
    request: web.Request, error: str | None, status: int, translated: bool = False
) -> web.Response:
    """The sign-in form; `error` is a msgid (or already in the viewer's words when `translated`)."""
    _ = words(locale_of(request)).gettext
    shown = error if translated or error is None else _(error)
    return with_login_token(
        request,
        lambda token: page_response(
            request, "login.html", status, title=_("Sign in"), login_token=token, error=shown
        ),
    )


def _audit(request: web.Request, event: str, actor: str, detail: dict[str, object]) -> None:
    append_event(
        request.app[DATABASE],
        source=f"hub:{event}:{ULID()}",
        occurred_at=utc_now(),
        post_id="",
        agency="",
        event=event,
        actor=actor,
        detail={**detail, "remote": request.remote},
    )
    log.info(event, actor=actor, remote=request.remote)
