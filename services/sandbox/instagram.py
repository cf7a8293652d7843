"""Instagram emulator (Instagram Platform, Content Publishing): containers, publishing, reading.

Follows these documentation sections (developers.facebook.com, Instagram Platform):
- "Content Publishing": media are fetched by Instagram from a public URL; a single image or reel
  is published in two steps, a container then `media_publish`.
- "IG User Media" › Creating (`POST /{ig-user-id}/media` with `image_url`, or `media_type=REELS`
  and `video_url`, `caption` ≤ 2,200 characters with ≤ 30 hashtags, `alt_text`, `access_token`
  → `{"id": container}`) and Reading (`GET /{ig-user-id}/media?fields=…` → `{"data": [...]}`,
  newest first, with `caption`, `timestamp`, `permalink`, `media_type`).
- "Content Publishing" › Troubleshooting: a URL Instagram cannot download (or not a JPEG image /
  MP4 video) fails with code 9004, subcode 2207052 ("Media download has failed"); the sandbox
  downloads each `image_url` / `video_url` when the container is created.
- "IG Container" (`GET /{container-id}?fields=status_code`: IN_PROGRESS, FINISHED, ERROR,
  EXPIRED, PUBLISHED).
- "IG User Media Publish" (`POST /{ig-user-id}/media_publish` with `creation_id` →
  `{"id": media}`; 50 API-published posts per 24-hour moving period, then error code 9 subcode
  2207042; a container can be published once).
- Graph API "Handling Errors" (the same shapes as Facebook: 190 and subcode 463 for an expired
  token, 100 invalid parameter, 368 blocked; 24 subcode 2207006 media not found).
- "IG Comment" › Replies (issue #15): `POST /{ig-comment-id}/replies` with `message` → `{"id"}` (a
  reply to a reply joins its top-level comment); `GET /{ig-comment-id}/replies` (`id`, `text`,
  `timestamp`, `from`), oldest first (a reply has none); `GET /{ig-comment-id}` names a reply's
  `parent_id`; a comment the account does not have (or deleted) is error 100
  subcode 33. The comments are what people wrote (audience.py); replies count in a window of 200
  calls an hour ("Rate limits") and are stored with the account's posts, not listed as its media.
- "IG Comment" › Updating (issue #15, a citizen's identifiers shown in public): `POST
  /{ig-comment-id}` with `hide=true` → `{"success": true}` (false shows it again); the comment node
  then reads `hidden`. The comment stays but leaves what the public sees (audience.py, the replies
  edge included); hiding a hidden comment answers success again; a comment the account does not have,
  or that was deleted, is error 100 subcode 33. Counted in the same 200-calls window; the posting
  faults apply.
- What people did with a media (issue #15, the figures set with `POST /_sandbox/engagement`): "IG
  Media" fields `like_count` and `comments_count` (`GET /{ig-media-id}?fields=…`; `like_count` is
  left out when the owner hid the counts), and "Instagram Media Insights" (`GET
  /{ig-media-id}/insights?metric=…`: `views` — the metric that replaced `impressions` and `plays`
  from v22.0 —, `reach`, `likes`, `comments`, `shares`, `saved`, `total_interactions`; lifetime
  values in `values[0].value`). Those reads count in the account's 200 calls an hour and take the
  faults armed `on: read_engagement`; throttled, they answer the Instagram Business Use Case code
  80002 with `X-Business-Use-Case-Usage` (Graph API › "Rate limits"). A media the account does not
  have (or deleted) is error 100 subcode 33.

Sandbox accounts: token `sbx-instagram-<ig-user-id>`. Containers live in memory: a restarted
sandbox forgets unpublished containers, as Instagram expires them after 24 hours.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .audience import AUDIENCE, item_id_for
from .common import MINT, RATES, RateState, bearer_token, check_token, read_params
from .engagement import figures_of
from .faults import read_fault
from .fetch import download
from .graph import GraphDialect, InsightsDialect, asked_metrics, graph_error, insights
from .routes import add_api, route
from .store import STORE, Post

__all__ = ["InstagramApi", "add_routes"]

_NETWORK = "instagram"
_PUBLISH_LIMIT = (50, 24 * 3600)
_MAX_CAPTION = 2200
_CALL_LIMIT = (200, 3600)  # "Rate limits" (Instagram Platform): 200 calls an hour per account, here replies
_MAX_BYTES = {"IMAGE": 8 * 1024 * 1024, "REELS": 300 * 1024 * 1024}  # "IG User Media" › image/video specs
_MAX_HASHTAGS = 30
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_VERSION = r"{version:v\d+\.\d+}"
_COUNT_FIELDS = frozenset({"like_count", "comments_count"})
# "Instagram Media Insights" › metrics for FEED and REELS media (those the sandbox answers), with titles.
_METRICS = {
    "views": "Views",
    "reach": "Accounts reached",
    "likes": "Likes",
    "comments": "Comments",
    "shares": "Shares",
    "saved": "Saved",
    "total_interactions": "Interactions",
}


@dataclass
class _Container:
    account: str
    caption: str
    media_type: str
    media_url: str
    alt_text: str | None
    downloaded: dict[str, Any]
    status: str = "FINISHED"


def _instant(post: Post) -> datetime:
    return datetime.strptime(post.received_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _timestamp(post: Post) -> str:
    return _instant(post).strftime("%Y-%m-%dT%H:%M:%S+0000")


class InstagramApi(GraphDialect):
    """The Instagram emulator's handlers; also its fault dialect."""

    network = _NETWORK
    rate_limit = _PUBLISH_LIMIT

    def __init__(self) -> None:
        self._containers: dict[str, _Container] = {}

    # Dialect: how the Graph API answers the other fault modes.
    def rate_limited(self, state: RateState) -> web.Response:
        body = graph_error("Application request limit reached", 9, subcode=2207042)
        body["error"]["error_user_msg"] = (
            "You reached the maximum number of posts that is allowed to be published."
        )
        return self._respond(body, 400)

    def expired_token(self) -> web.Response:
        return self._respond(
            graph_error("Error validating access token: Session has expired.", 190, subcode=463), 400
        )

    def invalid_content(self) -> web.Response:
        return self._respond(graph_error("(#100) The caption is too long", 100), 400)

    def _caller(self, params: dict[str, Any], request: web.Request) -> str | web.Response:
        token = params.get("access_token") or bearer_token(request)
        caller = check_token(token if isinstance(token, str) else None, _NETWORK)
        if caller.account is not None:
            return caller.account
        if caller.problem == "missing":
            return self._respond(
                graph_error("An access token is required to request this resource.", 104), 400
            )
        if caller.problem == "expired":
            return self.expired_token()
        return self._respond(graph_error("Invalid OAuth access token - Cannot parse access token", 190), 400)

    async def _params(self, request: web.Request) -> tuple[dict[str, Any], str] | web.Response:
        body = await read_params(request) if request.method == "POST" else {}
        if body is None:
            return self._respond(graph_error("(#100) Invalid parameter", 100), 400)
        params = {**request.query, **body}
        account = self._caller(params, request)
        if isinstance(account, web.Response):
            return account
        if request.match_info.get("user_id", account) != account:
            return self._respond(
                graph_error("(#10) Application does not have permission for this action", 10), 403
            )
        return params, account

    @route("POST", "/{user_id}/media")
    async def create_container(self, request: web.Request) -> web.Response:
        checked = await self._params(request)
        if isinstance(checked, web.Response):
            return checked
        params, account = checked
        caption = params.get("caption") or ""
        media_type = params.get("media_type") or "IMAGE"
        url = params.get("video_url") if media_type == "REELS" else params.get("image_url")
        if media_type not in ("IMAGE", "REELS") or not isinstance(url, str) or not _URL.fullmatch(url):
            return self._respond(
                graph_error("(#100) The parameter image_url or video_url is required", 100), 400
            )
        if not isinstance(caption, str) or len(caption) > _MAX_CAPTION:
            return self._respond(graph_error("(#100) The caption is too long", 100), 400)
        if caption.count("#") > _MAX_HASHTAGS:
            return self._respond(graph_error("(#100) The caption has more than 30 hashtags", 100), 400)
        container_id = str(request.app[MINT].next_id("instagram-container", shift=8))
        alt = params.get("alt_text") if isinstance(params.get("alt_text"), str) else None
        fetched = await download(url, max_bytes=_MAX_BYTES[media_type])
        wanted = "video/mp4" if media_type == "REELS" else "image/jpeg"
        if isinstance(fetched, str) or fetched.content_type != wanted:
            why = fetched if isinstance(fetched, str) else f"it is {fetched.content_type}, not {wanted}"
            message = f"Media download has failed. The media URI doesn't meet our requirements: {why}"
            return self._respond(graph_error(message, 9004, subcode=2207052), 400)
        item = request.app[STORE].add_media(
            network=_NETWORK,
            account=account,
            media_id=container_id,
            data=fetched.data,
            content_type=fetched.content_type,
            alt=alt,
        )
        self._containers[container_id] = _Container(account, caption, media_type, url, alt, item.public())
        return self._respond({"id": container_id})

    @route("POST", "/{user_id}/media_publish")
    async def publish(self, request: web.Request) -> web.Response:
        started = await self._publishing(request)
        if isinstance(started, web.Response):
            return started
        params, posting = started
        account = posting.account
        container = self._containers.get(str(params.get("creation_id") or ""))
        if container is None or container.account != account:
            body = graph_error("Media ID is not available", 9007, subcode=2207027, kind="OAuthException")
            return self._respond(body, 400)
        if container.status == "PUBLISHED":
            return self._respond(graph_error("(#100) The media has already been published", 100), 400)
        _state, throttled = posting.window(f"{account}:publish", _PUBLISH_LIMIT)
        if throttled is not None:
            return throttled
        media_id = str(request.app[MINT].next_id("instagram", shift=12))
        shortcode = secrets.token_urlsafe(8)
        posting.add(
            remote_id=media_id,
            text=container.caption,
            body={"creation_id": params.get("creation_id")},
            meta={
                "media_type": "VIDEO" if container.media_type == "REELS" else "IMAGE",
                "media_url": container.media_url,
                "alt_text": container.alt_text,
                "media": [container.downloaded],
                "permalink": f"https://www.instagram.com/p/{shortcode}/",
            },
        )
        container.status = "PUBLISHED"
        await posting.created()
        return self._respond({"id": media_id})

    @staticmethod
    def _view(post: Post) -> dict[str, Any]:
        return {
            "id": post.remote_id,
            "caption": post.text,
            "media_type": post.meta.get("media_type", "IMAGE"),
            "media_url": post.meta.get("media_url"),
            "permalink": post.meta.get("permalink"),
            "timestamp": _timestamp(post),
        }

    @route("GET", "/{user_id}/media")
    async def media(self, request: web.Request) -> web.Response:
        checked = await self._params(request)
        if isinstance(checked, web.Response):
            return checked
        _params, account = checked
        posts = [
            post
            for post in reversed(request.app[STORE].posts(network=_NETWORK, account=account))
            if not post.meta.get("answers")  # its replies to comments are not its media
        ]
        limit = int(request.query["limit"]) if request.query.get("limit", "").isdigit() else 25
        return self._respond({"data": [self._view(p) for p in posts[:limit]], "paging": {}})

    @route("GET", r"/{object_id:\d+}")
    async def read(self, request: web.Request) -> web.Response:
        checked = await self._params(request)
        if isinstance(checked, web.Response):
            return checked
        _params, account = checked
        object_id = request.match_info["object_id"]
        if (container := self._containers.get(object_id)) is not None and container.account == account:
            return self._respond({"id": object_id, "status_code": container.status})
        comment = request.app[AUDIENCE].get(_NETWORK, object_id)
        if comment is not None and comment.account == account:
            # "IG Comment" fields: a reply names its top-level comment as `parent_id`.
            view = {
                "id": object_id,
                "text": comment.text,
                "from": {"id": comment.author_id},
                "hidden": comment.hidden,
            }
            return self._respond(view | ({"parent_id": comment.parent_id} if comment.parent_id else {}))
        counts = _COUNT_FIELDS & set(request.query.get("fields", "").split(","))
        if counts and (refused := await self._engagement_read(request, account)) is not None:
            return refused
        post = request.app[STORE].by_remote_id(_NETWORK, object_id)
        if post is None or post.account != account or post.meta.get("answers"):
            return self._no_media(object_id)
        figures = figures_of(post)
        counted = {"like_count": figures["likes"], "comments_count": figures["replies"]}
        return self._respond(self._view(post) | {name: counted[name] for name in counts})

    def _no_media(self, object_id: str) -> web.Response:
        message = f"Unsupported get request. Object with ID '{object_id}' does not exist"
        return self._respond(graph_error(message, 100, subcode=33, kind="GraphMethodException"), 400)

    async def _engagement_read(self, request: web.Request, account: str) -> web.Response | None:
        """The fault armed for the account's reads of figures, or its throttle, if either answers."""
        dialect = InsightsDialect(
            self,
            account,
            "instagram",
            80002,
            "There have been too many calls to this Instagram account. Wait a bit and try again.",
            _CALL_LIMIT,
        )
        if (
            replaced := await read_fault(request, dialect, _NETWORK, account, on="read_engagement")
        ) is not None:
            return replaced
        state = request.app[RATES].hit(
            f"{_NETWORK}:{account}:calls", limit=_CALL_LIMIT[0], window=_CALL_LIMIT[1]
        )
        return dialect.rate_limited(state) if state.exceeded else None

    @route("GET", r"/{object_id:\d+}/insights")
    async def media_insights(self, request: web.Request) -> web.Response:
        """ "Instagram Media Insights": the media's lifetime metrics, from its figures."""
        checked = await self._params(request)
        if isinstance(checked, web.Response):
            return checked
        _params, account = checked
        if (refused := await self._engagement_read(request, account)) is not None:
            return refused
        object_id = request.match_info["object_id"]
        post = request.app[STORE].by_remote_id(_NETWORK, object_id)
        if post is None or post.account != account or post.meta.get("answers"):
            return self._no_media(object_id)
        names = asked_metrics(request, _METRICS)
        if isinstance(names, web.Response):
            return names
        figures = figures_of(post)
        interactions = figures["likes"] + figures["replies"] + figures["shares"]
        values = {
            "views": figures["views"],
            "reach": figures["views"],  # (U) accounts reached: at most the views; the sandbox says as many
            "likes": figures["likes"],
            "comments": figures["replies"],
            "shares": figures["shares"],
            "saved": 0,
            "total_interactions": interactions,
        }
        return self._respond(insights(object_id, {name: values[name] for name in names}, _METRICS))

    # Answering people (issue #15): "IG Comment" › Replies.
    def _comment(self, request: web.Request, account: str) -> tuple[str, str] | web.Response:
        """The comment the path names (its thread's first comment: "replies to a reply are added
        to the top-level comment") and its media, when it is on the account's media and not deleted."""
        comment_id = request.match_info["comment_id"]
        answered = request.app[AUDIENCE].get(_NETWORK, comment_id)
        if answered is None or answered.account != account:
            message = (
                f"Unsupported request. Object with ID '{comment_id}' does not exist, cannot be loaded due "
                "to missing permissions, or does not support this operation."
            )
            return self._respond(graph_error(message, 100, subcode=33, kind="GraphMethodException"), 400)
        return answered.parent_id or comment_id, answered.root_id

    @route("POST", r"/{comment_id:\d+}")
    async def update(self, request: web.Request) -> web.Response:
        """`POST /{ig-comment-id}` with `hide` (instagram_manage_comments): hide it from the public."""
        started = await self._publishing(request)
        if isinstance(started, web.Response):
            return started
        params, posting = started
        comment = self._comment(request, posting.account)
        if isinstance(comment, web.Response):
            return comment
        hide = str(params.get("hide", "")).lower()
        if hide not in ("true", "false"):
            return self._respond(graph_error("(#100) Param hide must be a boolean", 100), 400)
        _state, throttled = posting.window(f"{posting.account}:calls", _CALL_LIMIT)
        if throttled is not None:
            return throttled
        request.app[AUDIENCE].set_hidden(_NETWORK, request.match_info["comment_id"], hide == "true")
        await posting.created()
        return self._respond({"success": True})

    @route("POST", r"/{comment_id:\d+}/replies")
    async def reply(self, request: web.Request) -> web.Response:
        """`POST /{ig-comment-id}/replies` with `message` → `{"id"}` (instagram_manage_comments)."""
        started = await self._publishing(request)
        if isinstance(started, web.Response):
            return started
        params, posting = started
        comment = self._comment(request, posting.account)
        if isinstance(comment, web.Response):
            return comment
        parent, media = comment
        _state, throttled = posting.window(f"{posting.account}:calls", _CALL_LIMIT)
        if throttled is not None:
            return throttled
        message = params.get("message")
        if not isinstance(message, str) or not message.strip() or len(message) > _MAX_CAPTION:
            text = f"(#100) Param message must be a non-empty string of at most {_MAX_CAPTION} characters"
            return self._respond(graph_error(text, 100), 400)
        reply_id = item_id_for(request.app[MINT], _NETWORK, "comment", media)
        fields = {key: value for key, value in params.items() if key != "access_token"}
        posting.add(remote_id=reply_id, text=message, body=fields, reply_to=parent, meta={"answers": parent})
        await posting.created()
        return self._respond({"id": reply_id})

    @route("GET", r"/{comment_id:\d+}/replies")
    async def replies(self, request: web.Request) -> web.Response:
        """`GET /{ig-comment-id}/replies`: the comment's replies (`id`, `text`, `timestamp`,
        `username`, `from`), oldest first; the account's own say its id."""
        checked = await self._params(request)
        if isinstance(checked, web.Response):
            return checked
        _params, account = checked
        comment = self._comment(request, account)
        if isinstance(comment, web.Response):
            return comment
        # A reply lists no replies of its own: those answering it joined its top-level comment.
        parent = request.match_info["comment_id"]
        people = [
            (item.created, item.item_id, item.text, item.author_id, item.author_name)
            for item in request.app[AUDIENCE].answers(_NETWORK, parent)
        ]
        own = [
            (_instant(post).timestamp(), post.remote_id, post.text, account, account)
            for post in request.app[STORE].posts(network=_NETWORK, account=account)
            if post.meta.get("answers") == parent
        ]
        data = [
            {
                "id": ident,
                "text": text,
                "username": username,
                "from": {"id": author, "username": username},
                "timestamp": datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            }
            for moment, ident, text, author, username in sorted(people + own)
        ]
        return self._respond({"data": data, "paging": {}})


def add_routes(app: web.Application) -> None:
    add_api(app, InstagramApi(), prefixes=(f"/{_VERSION}", ""))
