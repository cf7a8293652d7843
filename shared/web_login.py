"""Signing people in over HTTP, for the hub's dashboard and the agency nodes alike: the sign-in
check (throttled, timing-safe), the session cookie, the login form's double-submit token and the
session's CSRF check. Each service renders its own pages and keeps its own audit around this.

The session cookie is HttpOnly and SameSite=Strict (Secure behind HTTPS); each session has its own
CSRF token, which every state-changing request sends back (form field `csrf` or header
`X-CSRF-Token`) and which is compared in constant time. The login form itself is protected by a
double-submit token (a cookie and a hidden field that must match), since there is no session yet.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils
from aiohttp import web
from multidict import MultiDictProxy

from shared.accounts import (
    NewSession,
    check_password,
    hash_password,
    needs_rehash,
    open_session,
    set_password_hash,
    user,
)
from shared.api_contract import Access, Answer, Operation
from shared.i18n import N_, words
from shared.login_throttle import LoginThrottle

__all__ = [
    "AGENCY_SESSION_COOKIE",
    "LOGIN_COOKIE",
    "MAX_FIELD",
    "SESSION_COOKIE",
    "Audit",
    "SignInRefused",
    "SignedIn",
    "csrf_matches",
    "is_secure",
    "session_redirect",
    "sign_in",
    "sign_in_operations",
    "signed_out",
    "with_login_token",
]

SESSION_COOKIE = "relais_session"  # the hub's
# A node's own name: browsers share cookies between ports of one host, and a hub and a node on the
# same machine (`relais run`) must not sign each other's person out.
AGENCY_SESSION_COOKIE = "relais_agency_session"
LOGIN_COOKIE = "relais_login"
MAX_FIELD = 1024  # longer names or passwords never match; argon2 is not fed more than this

_HTML = "text/html"
_LOGIN_FORM = {
    "type": "object",
    "properties": {
        "login_token": {"type": "string", "description": "the sign-in page's double-submit token"},
        "username": {"type": "string"},
        "password": {"type": "string", "format": "password"},
    },
    "required": ["login_token", "username", "password"],
}
_CSRF_FORM = {"type": "object", "properties": {"csrf": {"type": "string"}}, "required": ["csrf"]}


def sign_in_operations(*, page: str, landing: str, access: Access, tags: tuple[str, ...]) -> list[Operation]:
    """`GET /login`, `POST /login` and `POST /logout` as a service's OpenAPI document describes them
    (the hub's and every node's: the same form, answers and cookies). `page` describes the sign-in
    page, `landing` where a signed-in person goes, `access` the session scheme sign-out needs."""
    form = "application/x-www-form-urlencoded"
    return [
        Operation(
            "GET",
            "/login",
            page,
            {200: Answer("the form", media_type=_HTML), 303: Answer(f"already signed in: to {landing}")},
            access="public",
            tags=tags,
        ),
        Operation(
            "POST",
            "/login",
            f"Sign in: the session cookie, then {landing}",
            {
                303: Answer(f"signed in: to {landing}", headers={"Set-Cookie": "the session"}),
                400: Answer("no username or password", media_type=_HTML),
                401: Answer("wrong username or password", media_type=_HTML),
                403: Answer("the form expired (its double-submit token)", media_type=_HTML),
                429: Answer("too many failed sign-ins", media_type=_HTML, headers={"Retry-After": "seconds"}),
            },
            access="public",
            body_schema=_LOGIN_FORM,
            body_media_type=form,
            tags=tags,
        ),
        Operation(
            "POST",
            "/logout",
            "Sign out",
            {303: Answer("to the sign-in page"), 403: Answer("csrf: the form's token is wrong")},
            access=access,
            body_schema=_CSRF_FORM,
            body_media_type=form,
            tags=tags,
        ),
    ]


# (event, actor, detail): where a service keeps its sign-in events (never with the password).
Audit = Callable[[str, str, dict[str, object]], None]


@dataclass(frozen=True)
class SignedIn:
    account: dict[str, Any]
    session: NewSession


@dataclass(frozen=True)
class SignInRefused:
    """Why the form is shown again: `message` is a msgid, or in the person's words when `translated`."""

    status: int
    message: str
    translated: bool = False
    retry_after: int | None = None


def is_secure(request: web.Request) -> bool:
    # Behind a TLS-terminating proxy the service sees plain HTTP; the proxy says so in this header.
    return request.secure or request.headers.get("X-Forwarded-Proto") == "https"


def csrf_matches(sent: object, expected: str) -> bool:
    return isinstance(sent, str) and hmac.compare_digest(sent.encode(), expected.encode())


def with_login_token(request: web.Request, render: Callable[[str], web.Response]) -> web.Response:
    """The login form rendered with a fresh double-submit token (`render(token)` puts it in the
    form's hidden `login_token` field), the same token set as a cookie on the answer."""
    token = secrets.token_urlsafe(24)
    response = render(token)
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        path="/login",
        httponly=True,
        samesite="Strict",
        secure=is_secure(request),
    )
    return response


async def sign_in(
    request: web.Request,
    form: MultiDictProxy[str | bytes | bytearray | web.FileField],
    db: sqlite_utils.Database,
    throttle: LoginThrottle,
    signs_in: Callable[[dict[str, Any]], bool],
    audit: Audit,
    locale: str,
    rehash: bool,
) -> SignedIn | SignInRefused:
    """Check a posted sign-in form. `signs_in` says which accounts this service lets in (others are
    answered exactly as an unknown name); `rehash` lets it upgrade a hash it owns."""
    token, cookie = form.get("login_token"), request.cookies.get(LOGIN_COOKIE)
    if not (isinstance(token, str) and cookie and csrf_matches(token, cookie)):
        return SignInRefused(403, N_("This form expired; please sign in again."))
    username, password = form.get("username"), form.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        return SignInRefused(400, N_("Give a username and a password."))
    username = username.strip().lower()[:MAX_FIELD]
    address = request.remote or "unknown"
    if (wait := throttle.wait(username, address)) > 0:
        minutes = max(1, round(wait / 60))
        audit("login.throttled", username[:64], {"retry_in_s": round(wait)})
        too_many = words(locale).ngettext(
            "Too many failed sign-ins; try again in %(num)d minute.",
            "Too many failed sign-ins; try again in %(num)d minutes.",
            minutes,
        )
        return SignInRefused(429, too_many % {"num": minutes}, True, max(1, round(wait)))
    await throttle.slow_down(username)
    found = user(db, username)
    account = found if found is not None and not found.get("disabled") and signs_in(found) else None
    if account is not None and 0 < len(password) <= MAX_FIELD:
        ok = await asyncio.to_thread(check_password, account["password_hash"], password)
    else:
        # Spend the same time as a real check, so response times do not tell which names exist.
        await asyncio.to_thread(hash_password, password[:MAX_FIELD])
        ok = False
    if account is None or not ok:
        throttle.failed(username, address)
        reason = "wrong password" if account else "disabled or not for here" if found else "unknown user"
        audit("login.failed", username[:64], {"reason": reason})
        return SignInRefused(401, N_("Wrong username or password."))
    throttle.succeeded(username, address)
    if rehash and needs_rehash(account["password_hash"]):
        set_password_hash(db, username, await asyncio.to_thread(hash_password, password))
    return SignedIn(account, open_session(db, username))


def session_redirect(
    request: web.Request, session: NewSession, location: str, cookie: str = SESSION_COOKIE
) -> web.HTTPSeeOther:
    """The answer to a successful sign-in: the session cookie, and on to `location`."""
    response = web.HTTPSeeOther(location)
    response.set_cookie(
        cookie,
        session.cookie,
        max_age=int((session.expires_at - datetime.now(UTC)).total_seconds()),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=is_secure(request),
    )
    response.del_cookie(LOGIN_COOKIE, path="/login")
    return response


def signed_out(cookie: str = SESSION_COOKIE) -> web.HTTPSeeOther:
    response = web.HTTPSeeOther("/login")
    response.del_cookie(cookie, path="/")
    return response
