"""What people did with the pages' posts, set by hand: the figures the emulators' read APIs give back
(issue #15 item 6). Each emulator reads them from its post's `meta["engagement"]` and answers in its
network's own shape; a figure never set is 0, as a network shows a post nobody touched.

Sandbox-only route, for tests and the demo:
- `POST /_sandbox/engagement` `{"network", "remote_id", "likes"?, "shares"?, "replies"?, "views"?}`
  (each a non-negative integer; those absent keep their value): 200 `{"engagement": {...}}` with the
  post's figures now, 404 when the network has no post with that id, 400 naming a bad field.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .store import STORE, Post

__all__ = ["FIGURES", "add_routes", "figures_of"]

FIGURES = ("likes", "shares", "replies", "views")


def figures_of(post: Post) -> dict[str, int]:
    """The post's figures, 0 for those never set."""
    stored: dict[str, int] = post.meta.get("engagement", {})
    return {name: int(stored.get(name, 0)) for name in FIGURES}


def _bad(field: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": "invalid", "message": message, "field": field}}, status=400)


async def _set(request: web.Request) -> web.Response:
    try:
        body: Any = await request.json()
    except ValueError:
        return _bad("", "the body is not JSON")
    if not isinstance(body, dict):
        return _bad("", "the body must be a JSON object")
    for name in ("network", "remote_id"):
        if not isinstance(body.get(name), str) or not body[name]:
            return _bad(name, f"{name} must be a non-empty string")
    figures: dict[str, int] = {}
    for name in FIGURES:
        if name in body:
            value = body[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                return _bad(name, f"{name} must be a non-negative integer")
            figures[name] = value
    store = request.app[STORE]
    if not store.set_engagement(body["network"], body["remote_id"], figures):
        return web.json_response(
            {"error": {"code": "not_found", "message": "no such post", "field": "remote_id"}}, status=404
        )
    post = store.by_remote_id(body["network"], body["remote_id"])
    assert post is not None
    return web.json_response({"engagement": figures_of(post)})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/_sandbox/engagement", _set)
