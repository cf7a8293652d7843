"""Signing in to the dashboard: the login form, the session cookie, CSRF checks, logout.

The session cookie is HttpOnly and SameSite=Strict (Secure behind HTTPS); each session has its own
CSRF token, which every state-changing form or fetch from the dashboard sends back and the hub
compares in constant time. The login form itself is protected by a double-submit token (a cookie
and a hidden field that must match), since there is no session yet. Sign-ins, failed sign-ins and
refusals go to the audit trail, never with the password.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from aiohttp import web
from multidict import MultiDictProxy
from ulid import ULID

from services.hub.accounts import (
    check_password,
    close_session,
    hash_password,
    live_session,
    needs_rehash,
    open_session,
    set_password_hash,
    user,
)
from services.hub.dashboard_html import locale_of, page_response
from services.hub.keys import DATABASE, LOGIN_THROTTLE
from services.hub.moderation import audit_denial
from services.hub.store import append_event
from shared.access import audited_elsewhere, note_refusal
from shared.http_body import read_form
from shared.i18n import N_, words
from shared.ids import utc_now
from shared.tokens import Claims
from shared.web import json_error

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

SESSION_COOKIE = "relais_session"
LOGIN_COOKIE = "relais_login"
MAX_FIELD = 1024  # longer names or passwords never match; argon2 is not fed more than this


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
    row = live_session(request.app[DATABASE], cookie) if cookie else None
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
    sent = request.headers.get("X-CSRF-Token") or form.get("csrf")
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), viewer.csrf.encode()):
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
    token, cookie = form.get("login_token"), request.cookies.get(LOGIN_COOKIE)
    if not (isinstance(token, str) and cookie and hmac.compare_digest(token.encode(), cookie.encode())):
        note_refusal(request, "sign-in form without its double-submit token")
        return _login_page(request, N_("This form expired; please sign in again."), 403)
    username, password = form.get("username"), form.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        return _login_page(request, N_("Give a username and a password."), 400)
    username = username.strip().lower()[:MAX_FIELD]
    throttle, address = request.app[LOGIN_THROTTLE], request.remote or "unknown"
    if (wait := throttle.wait(username, address)) > 0:
        minutes = max(1, round(wait / 60))
        _audit(request, "login.throttled", username[:64], {"retry_in_s": round(wait)})
        too_many = words(locale_of(request)).ngettext(
            "Too many failed sign-ins; try again in %(num)d minute.",
            "Too many failed sign-ins; try again in %(num)d minutes.",
            minutes,
        )
        response = _login_page(request, too_many % {"num": minutes}, 429, translated=True)
        response.headers["Retry-After"] = str(max(1, round(wait)))
        return response
    await throttle.slow_down(username)
    db = request.app[DATABASE]
    account = user(db, username)
    if account is not None and 0 < len(password) <= MAX_FIELD:
        ok = await asyncio.to_thread(check_password, account["password_hash"], password)
    else:
        # Spend the same time as a real check, so response times do not tell which names exist.
        await asyncio.to_thread(hash_password, password[:MAX_FIELD])
        ok = False
    if account is None or not ok:
        throttle.failed(username, address)
        _audit(
            request,
            "login.failed",
            username[:64],
            {"reason": "unknown user" if account is None else "wrong password"},
        )
        audited_elsewhere(request)
        return _login_page(request, N_("Wrong username or password."), 401)
    throttle.succeeded(username, address)
    if needs_rehash(account["password_hash"]):
        set_password_hash(db, username, await asyncio.to_thread(hash_password, password))
    session = open_session(db, username)
    _audit(request, "login.succeeded", username, {"role": account["role"], "region": account["region"]})
    response = web.HTTPSeeOther("/dashboard")
    response.set_cookie(
        SESSION_COOKIE,
        session.cookie,
        max_age=int((session.expires_at - datetime.now(UTC)).total_seconds()),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=_secure(request),
    )
    response.del_cookie(LOGIN_COOKIE, path="/login")
    raise response


async def logout(request: web.Request) -> web.Response:
    try:
        viewer = require_viewer(request)
        await checked_form(request, viewer)
    except Refused as exc:
        return refusal(request, exc)
    close_session(request.app[DATABASE], request.cookies[SESSION_COOKIE])
    _audit(request, "logout", viewer.claims.subject, {})
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


def _login_page(
    request: web.Request, error: str | None, status: int, translated: bool = False
) -> web.Response:
    """The sign-in form; `error` is a msgid (or already in the viewer's words when `translated`)."""
    token = secrets.token_urlsafe(24)
    _ = words(locale_of(request)).gettext
    shown = error if translated or error is None else _(error)
    response = page_response(
        request, "login.html", status, title=_("Sign in"), login_token=token, error=shown
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        path="/login",
        httponly=True,
        samesite="Strict",
        secure=_secure(request),
    )
    return response


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


def _secure(request: web.Request) -> bool:
    # Behind a TLS-terminating proxy the hub sees plain HTTP; the proxy says so in this header.
    return request.secure or request.headers.get("X-Forwarded-Proto") == "https"
