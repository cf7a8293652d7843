"""The language choice on the web: `?lang=ar|en|fr` is kept in the `relais_lang` cookie, so the
person's choice holds on the next pages (and on the redirects that lead there). The hub and every
agency node install the same middleware; the page's language itself is `shared.i18n.choose`.
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from aiohttp.typedefs import Handler

from shared.i18n import LANG_COOKIE, LOCALES, choose

__all__ = ["LANGUAGE_KEPT", "locale_of", "remember_language"]

LANGUAGE_KEPT = timedelta(days=365)


def locale_of(request: web.Request) -> str:
    """The viewer's language: `?lang=`, else the language cookie, else French (Accept-Language
    is not read: a public service's screens are French unless the person chooses)."""
    return choose(request.query.get("lang"), request.cookies.get(LANG_COOKIE))


def _remember(request: web.Request, response: web.StreamResponse) -> None:
    asked = request.query.get("lang")
    if asked in LOCALES and request.cookies.get(LANG_COOKIE) != asked:
        response.set_cookie(
            LANG_COOKIE,
            asked,
            max_age=int(LANGUAGE_KEPT.total_seconds()),
            path="/",
            httponly=True,
            samesite="Lax",
            secure=request.secure or request.headers.get("X-Forwarded-Proto") == "https",
        )


@web.middleware
async def remember_language(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Set the language cookie when `?lang=` names another supported language than the cookie's."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _remember(request, exc)
        raise
    _remember(request, response)
    return response
