"""Threads emulator (graph.threads.net/v1.0): containers, publishing, posts and replies.

Follows these documentation sections (developers.facebook.com, Threads API):
- "Posts" › Single Thread Posts: `POST /{threads-user-id}/threads` with `media_type` (TEXT,
  IMAGE, VIDEO), `text` (required for TEXT; 500 characters, emojis counted as their UTF-8
  bytes), `image_url`, `video_url`, `reply_to_id` → `{"id": container}`; then
  `POST /{threads-user-id}/threads_publish` with `creation_id` → `{"id": media}`.
- "Posts" › media: Threads downloads `image_url` / `video_url` from a public server (images
  ≤ 8 MB, videos ≤ 1 GB); one it cannot download fails with code 9004, subcode 2207052 (as on
  Instagram); the sandbox downloads each when the container is created.
- "Reply Management": a post with `reply_to_id` is a reply; replies show `replied_to`.
- "Retrieve Threads and Replies": `GET /{threads-user-id}/threads` (top-level posts) and
  `GET /{threads-user-id}/replies`, newest first, with `id`, `text`, `timestamp`, `permalink`,
  `replied_to`, filtered by `since` (Unix time) and `limit`; `GET /{media-id}?fields=…`.
- "Rate Limiting" (250 API-published posts per 24 hours per profile) and "Troubleshooting"
  (Graph error bodies: 190 invalid or expired token, 100 invalid parameter, 4/17 throttling).
- "Insights API" › Media Insights (issue #15, the figures set with `POST /_sandbox/engagement`): `GET
  /{threads-media-id}/insights?metric=views,likes,replies,reposts,quotes` (`threads_manage_insights`)
  → one lifetime entry per metric, `values[0].value`. The sandbox's single `shares` figure is told as
  reposts (quotes 0). A media the profile does not have is error 100 subcode 33. Reads count in a
  window of their own (4,800 a day here: "Rate Limiting" scales calls with impressions) and take the
  faults armed `on: read_engagement`; throttled, they answer code 4 with `X-Business-Use-Case-Usage`.

Sandbox accounts: token `sbx-threads-<threads-user-id>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import regex
from aiohttp import web

from .common import MINT, RATES, RateState, bearer_token, check_token, read_params
from .engagement import figures_of
from .faults import read_fault
from .fetch import download
from .graph import GraphDialect, InsightsDialect, asked_metrics, graph_error, insights
from .routes import add_api, route
from .store import STORE, Post

__all__ = ["ThreadsApi", "add_routes", "threads_length"]

_NETWORK = "threads"
_PUBLISH_LIMIT = (250, 24 * 3600)
_MAX_CHARACTERS = 500
_MAX_BYTES = {"IMAGE": 8 * 1024 * 1024, "VIDEO": 1024 * 1024 * 1024}  # "Posts" › media specifications
_MEDIA_KINDS = {"IMAGE": "image/", "VIDEO": "video/"}
_GRAPHEME = regex.compile(r"\X")
_EMOJI = regex.compile(r"\p{Extended_Pictographic}")
_READS = (4800, 24 * 3600)
# "Insights API" › Media Insights › Available Metrics, with their titles.
_METRICS = {
    "views": "Views",
    "likes": "Likes",
    "replies": "Replies",
    "reposts": "Reposts",
    "quotes": "Quotes",
}


def threads_length(text: str) -> int:
    """Characters as Threads counts them: graphemes, an emoji counting its UTF-8 bytes."""
    return sum(len(g.encode()) if _EMOJI.search(g) else 1 for g in _GRAPHEME.findall(text))


@dataclass
class _Container:
    account: str
    text: str
    media_type: str
    media_url: str | None
    reply_to: str | None
    downloaded: dict[str, Any] | None = None
    published: bool = False


def _received(post: Post) -> datetime:
    return datetime.strptime(post.received_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


class ThreadsApi(GraphDialect):
    """The Threads emulator's handlers; also its fault dialect."""

    network = _NETWORK
    rate_limit = _PUBLISH_LIMIT

    def __init__(self) -> None:
        self._containers: dict[str, _Container] = {}

    # Dialect: how the Threads API answers the other fault modes.
    def rate_limited(self, state: RateState) -> web.Response:
        return self._respond(graph_error("(#4) Application request limit reached", 4), 400)

    def expired_token(self) -> web.Response:
        return self._respond(
            graph_error("Error validating access token: Session has expired.", 190, subcode=463), 401
        )

    def invalid_content(self) -> web.Response:
        return self._respond(graph_error("(#100) The text is too long", 100), 400)

    async def _params(self, request: web.Request) -> tuple[dict[str, Any], str] | web.Response:
        body = await read_params(request) if request.method == "POST" else {}
        if body is None:
            return self._respond(graph_error("(#100) Invalid parameter", 100), 400)
        params = {**request.query, **body}
        token = params.get("access_token") or bearer_token(request)
        caller = check_token(token if isinstance(token, str) else None, _NETWORK)
        if caller.account is None:
            if caller.problem == "expired":
                return self.expired_token()
            return self._respond(
                graph_error("Invalid OAuth access token - Cannot parse access token", 190), 401
            )
        if request.match_info.get("user_id", caller.account) not in (caller.account, "me"):
            return self._respond(
                graph_error("(#10) Application does not have permission for this action", 10), 403
            )
        return params, caller.account

    @route("POST", "/v1.0/{user_id}/threads")
    async def create_container(self, request: web.Request) -> web.Response:
        checked = await self._params(request)
        if isinstance(checked, web.Response):
            return checked
        params, account = checked
        media_type, text = params.get("media_type"), params.get("text") or ""
        if media_type not in ("TEXT", "IMAGE", "VIDEO"):
            return self._respond(
                graph_error("(#100) Param media_type must be one of TEXT, IMAGE, VIDEO", 100), 400
            )
        media_url = params.get("image_url") if media_type == "IMAGE" else params.get("video_url")
        if media_type == "TEXT" and not str(text).strip():
            return self._respond(graph_error("(#100) The parameter text is required", 100), 400)
        if media_type != "TEXT" and not media_url:
            return self._respond(
                graph_error(f"(#100) The parameter {media_type.lower()}_url is required", 100), 400
            )
        if threads_length(str(text)) > _MAX_CHARACTERS:
            return self._respond(graph_error("(#100) The text is too long", 100), 400)
        reply_to = params.get("reply_to_id") or None
        if reply_to is not None and request.app[STORE].by_remote_id(_NETWORK, str(reply_to)) is None:
            return self._respond(graph_error("(#100) The post you are replying to does not exist", 100), 400)
        container_id = str(request.app[MINT].next_id("threads-container", shift=8))
        downloaded = None
        if media_type != "TEXT":
            fetched = await download(str(media_url), max_bytes=_MAX_BYTES[str(media_type)])
            if isinstance(fetched, str) or not fetched.content_type.startswith(_MEDIA_KINDS[str(media_type)]):
                why = fetched if isinstance(fetched, str) else f"it is {fetched.content_type}"
                message = f"Media download has failed. The media URI doesn't meet our requirements: {why}"
                return self._respond(graph_error(message, 9004, subcode=2207052), 400)
            downloaded = (
                request.app[STORE]
                .add_media(
                    network=_NETWORK,
                    account=account,
                    media_id=container_id,
                    data=fetched.data,
                    content_type=fetched.content_type,
                )
                .public()
            )
        self._containers[container_id] = _Container(
            account, str(text), str(media_type), media_url, reply_to, downloaded
        )
        return self._respond({"id": container_id})

    @route("POST", "/v1.0/{user_id}/threads_publish")
    async def publish(self, request: web.Request) -> web.Response:
        started = await self._publishing(request)
        if isinstance(started, web.Response):
            return started
        params, posting = started
        account = posting.account
        container = self._containers.get(str(params.get("creation_id") or ""))
        if container is None or container.account != account or container.published:
            return self._respond(
                graph_error("(#100) The media container does not exist or was published", 100), 400
            )
        _state, throttled = posting.window(f"{account}:publish", _PUBLISH_LIMIT)
        if throttled is not None:
            return throttled
        media_id = str(request.app[MINT].next_id("threads", shift=12))
        posting.add(
            remote_id=media_id,
            text=container.text,
            body={"creation_id": params.get("creation_id")},
            reply_to=container.reply_to,
            meta={
                "media_type": container.media_type,
                "media_url": container.media_url,
                "media": [container.downloaded] if container.downloaded else [],
            },
        )
        container.published = True
        await posting.created()
        return self._respond({"id": media_id})

    @staticmethod
    def _view(post: Post) -> dict[str, Any]:
        view: dict[str, Any] = {
            "id": post.remote_id,
            "media_type": post.meta.get("media_type", "TEXT"),
            "text": post.text,
            "timestamp": _received(post).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "permalink": f"https://www.threads.net/@{post.account}/post/{post.remote_id}",
            "username": post.account,
            "is_reply": post.reply_to is not None,
        }
        if post.reply_to:
            view["replied_to"] = {"id": post.reply_to}
        return view

    async def _listing(self, request: web.Request, *, replies: bool) -> web.Response:
        checked = await self._params(request)
        if isinstance(checked, web.Response):
            return checked
        _params, account = checked
        posts = [
            p
            for p in reversed(request.app[STORE].posts(network=_NETWORK, account=account))
            if (p.reply_to is not None) == replies
        ]
        since = request.query.get("since", "")
        if since.isdigit():
            posts = [p for p in posts if _received(p).timestamp() >= int(since)]
        limit = int(request.query["limit"]) if request.query.get("limit", "").isdigit() else 25
        return self._respond({"data": [self._view(p) for p in posts[:limit]], "paging": {}})

    @route("GET", "/v1.0/{user_id}/threads")
    async def threads(self, request: web.Request) -> web.Response:
        return await self._listing(request, replies=False)

    @route("GET", "/v1.0/{user_id}/replies")
    async def replies(self, request: web.Request) -> web.Response:
        return await self._listing(request, replies=True)

    @route("GET", r"/v1.0/{media_id:\d+}")
    async def read(self, request: web.Request) -> web.Response:
        checked = await self._params(request)
        if isinstance(checked, web.Response):
            return checked
        _params, account = checked
        post = request.app[STORE].by_remote_id(_NETWORK, request.match_info["media_id"])
        if post is None or post.account != account:
            return self._no_media()
        return self._respond(self._view(post))

    def _no_media(self) -> web.Response:
        return self._respond(
            graph_error("Unsupported get request.", 100, subcode=33, kind="GraphMethodException"), 400
        )

    @route("GET", r"/v1.0/{media_id:\d+}/insights")
    async def media_insights(self, request: web.Request) -> web.Response:
        """Media Insights: the post's lifetime metrics, from its figures."""
        checked = await self._params(request)
        if isinstance(checked, web.Response):
            return checked
        _params, account = checked
        message = "(#4) Application request limit reached"
        dialect = InsightsDialect(self, account, "threads", 4, message, _READS)
        if (
            replaced := await read_fault(request, dialect, _NETWORK, account, on="read_engagement")
        ) is not None:
            return replaced
        state = request.app[RATES].hit(f"{_NETWORK}:{account}:reads", limit=_READS[0], window=_READS[1])
        if state.exceeded:
            return dialect.rate_limited(state)
        media_id = request.match_info["media_id"]
        post = request.app[STORE].by_remote_id(_NETWORK, media_id)
        if post is None or post.account != account:
            return self._no_media()
        names = asked_metrics(request, _METRICS)
        if isinstance(names, web.Response):
            return names
        figures = figures_of(post)
        values = {
            "views": figures["views"],
            "likes": figures["likes"],
            "replies": figures["replies"],
            "reposts": figures["shares"],
            "quotes": 0,
        }
        return self._respond(insights(media_id, {name: values[name] for name in names}, _METRICS))


def add_routes(app: web.Application) -> None:
    add_api(app, ThreadsApi())
