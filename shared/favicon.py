"""The small icon browsers ask every site for (`GET /favicon.ico`), served by the apps people open
in a browser (the hub's dashboard, an agency's intake), so that request is not a 404 in their logs.

It is public (a browser asks for it before anyone signs in, and sends no token with it): each app
puts `FAVICON_ROUTE` in its public list (shared/access.py) and `FAVICON_OPERATION` in its OpenAPI
document (every route is described there).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from shared.api_contract import Answer, Operation

__all__ = ["FAVICON_OPERATION", "FAVICON_ROUTE", "add_favicon_route"]

FAVICON_OPERATION = Operation(
    "GET",
    "/favicon.ico",
    "The browser's icon for this site",
    {200: Answer("a small ICO file (16, 32 and 48 pixels)", media_type="image/x-icon")},
    access="public",
)
FAVICON_ROUTE = FAVICON_OPERATION.route_key
# 16, 32 and 48 pixels in one ICO file (4.5 KB), read once.
_ICON = (Path(__file__).parent / "favicon.ico").read_bytes()


async def _favicon(request: web.Request) -> web.Response:
    return web.Response(
        body=_ICON, content_type="image/x-icon", headers={"Cache-Control": "public, max-age=86400"}
    )


def add_favicon_route(app: web.Application) -> None:
    app.router.add_get(FAVICON_ROUTE[1], _favicon)
