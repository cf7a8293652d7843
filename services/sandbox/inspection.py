"""The sandbox's own API and web page: what each fake account received.

- `GET /_sandbox/posts?network=&account=` → `{"posts": [...]}`, oldest first
- `DELETE /_sandbox/posts` → clears every stored post (and the rate windows)
- `GET /_sandbox/rates` → `{"refused": {network: n}}`: the 429s its rate windows gave since the start
- `GET /` → an HTML page listing the posts per network and account (all text escaped)
- `GET /_sandbox/sample.jpg` → a small JPEG, a stand-in for media on a public server
- `GET /healthz` → `{"status": "ok"}` (the process answers)
- `GET /readyz` → `{"status": "ready"}` once the database answers, 503 otherwise
"""

from __future__ import annotations

from collections import defaultdict
from html import escape
from pathlib import Path

from aiohttp import web

from .common import RATES
from .store import STORE, Post

__all__ = ["add_routes"]

_PAGE_LIMIT = 500
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d1d1f; }
h2 { margin-top: 2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; }
td, th { text-align: left; vertical-align: top; padding: .3rem .6rem; border-bottom: 1px solid #eee; }
td.text { white-space: pre-wrap; }
.muted { color: #777; font-size: .85em; }
"""


async def _posts(request: web.Request) -> web.Response:
    posts = request.app[STORE].posts(
        network=request.query.get("network") or None, account=request.query.get("account") or None
    )
    return web.json_response({"posts": [post.public() for post in posts]})


async def _rates(request: web.Request) -> web.Response:
    return web.json_response({"refused": dict(request.app[RATES].refused)})


async def _clear(request: web.Request) -> web.Response:
    cleared = request.app[STORE].clear()
    request.app[RATES].clear()
    return web.json_response({"cleared": cleared})


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _ready(request: web.Request) -> web.Response:
    store = request.app.get(STORE)
    if store is None or not store.answers():
        return web.json_response({"status": "not ready"}, status=503)
    return web.json_response({"status": "ready"})


def _rows(posts: list[Post]) -> str:
    rows = []
    for post in posts:
        reply = f"<div class=muted>reply to {escape(post.reply_to)}</div>" if post.reply_to else ""
        key = f"<div class=muted>key {escape(post.idempotency_key)}</div>" if post.idempotency_key else ""
        media = "".join(
            f"<div class=muted>{escape(str(item.get('content_type')))}, {int(item.get('size') or 0):,} bytes"
            f" — alt: {escape(str(item.get('alt') or '(none)'))}</div>"
            for item in post.meta.get("media") or []
        )
        rows.append(
            "<tr>"
            f"<td class=muted>{escape(post.received_at)}</td>"
            f"<td class=text>{escape(post.text)}{media}{reply}</td>"
            f"<td class=muted>{escape(post.remote_id)}{key}</td>"
            "</tr>"
        )
    return "".join(rows)


def render_page(posts: list[Post]) -> str:
    """The HTML page: every string that came from a client goes through `html.escape`."""
    grouped: dict[str, dict[str, list[Post]]] = defaultdict(lambda: defaultdict(list))
    for post in posts:
        grouped[post.network][post.account].append(post)
    sections = []
    for network in sorted(grouped):
        sections.append(f"<h2>{escape(network)}</h2>")
        for account, account_posts in sorted(grouped[network].items()):
            sections.append(
                f"<h3>{escape(account)} <span class=muted>({len(account_posts)})</span></h3>"
                "<table><tr><th>received</th><th>text</th><th>remote id</th></tr>"
                f"{_rows(account_posts)}</table>"
            )
    body = "".join(sections) or "<p>No account has received anything yet.</p>"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>Relais sandbox</title>"
        f"<style>{_STYLE}</style></head><body>"
        "<h1>Relais sandbox</h1>"
        "<p class=muted>What each fake account received. JSON: <code>/_sandbox/posts</code></p>"
        f"{body}</body></html>"
    )


async def _page(request: web.Request) -> web.Response:
    posts = request.app[STORE].posts()[-_PAGE_LIMIT:]
    return web.Response(text=render_page(posts), content_type="text/html")


# A real, viewable 1200×630 photo-like JPEG (a forum poster, ~43 KB, made with Pillow): the image
# `make run`'s README example downloads and posts, so a person sees it arrive on each network.
SAMPLE_JPEG = (Path(__file__).parent / "data" / "sample.jpg").read_bytes()


async def _sample(request: web.Request) -> web.Response:
    return web.Response(body=SAMPLE_JPEG, content_type="image/jpeg")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_sandbox/sample.jpg", _sample)
    app.router.add_get("/", _page)
    app.router.add_get("/healthz", _health)
    app.router.add_get("/readyz", _ready)
    app.router.add_get("/_sandbox/posts", _posts)
    app.router.add_delete("/_sandbox/posts", _clear)
    app.router.add_get("/_sandbox/rates", _rates)
