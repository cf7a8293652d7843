"""YouTube Data API v3 emulator: resumable `videos.insert`, the channel and its uploads.

Follows these documentation sections (developers.google.com/youtube/v3):
- Guides › "Resumable Uploads": step 1 `POST /upload/youtube/v3/videos?uploadType=resumable
  &part=…` with `X-Upload-Content-Length`, `X-Upload-Content-Type` and the video resource →
  200, the session URI in `Location`; step 2 `PUT <session URI>` with the bytes → 201 and the
  video resource; a `PUT` with `Content-Range: bytes */<size>` asks the status → 308 "Resume
  Incomplete" with `Range: bytes=0-<last>` (no `Range` when nothing arrived), or 200/201 with
  the video once complete; an unknown or expired session → 404.
- Reference › "Videos: insert": `snippet.title` (required, ≤ 100 characters, no `<` `>`),
  `snippet.description` (≤ 5,000 bytes, no `<` `>`), `snippet.tags` (a list of strings of at most
  500 characters in all, commas between tags counted, a tag with a space counted with its quotes),
  `status.privacyStatus`.
- Reference › "Errors": `{"error": {"code", "message", "errors": [{"message", "domain",
  "reason"}], "status"}}`: 401 `authError` "Invalid Credentials", 400 `invalidTitle` /
  `invalidDescription` / `invalidTags`, 403 `quotaExceeded` (domain `youtube.quota`),
  403 `uploadLimitExceeded`, 503 `backendError`.
- Reference › "Channels: list" (`mine=true`, `contentDetails.relatedPlaylists.uploads`) and
  "PlaylistItems: list" (`playlistId`, `snippet.resourceId.videoId`, newest first).
- Reference › "CommentThreads: list" (`part=snippet,replies`, exactly one filter: here
  `allThreadsRelatedToChannelId`, the channel's own; `order=time`, newest first; `maxResults` 1 to
  100, default 20; `pageToken` / `nextPageToken`, paging towards older threads; 1 quota unit) and
  the CommentThread resource (`snippet.topLevelComment`, `snippet.totalReplyCount`, `snippet.videoId`;
  `replies.comments` holds some of the replies, not necessarily all: here the first five).
- Reference › "Comments: list" (`parentId`: every reply of a thread, `maxResults` 1 to 100, paged)
  and the Comment resource (`snippet.textDisplay`, HTML unless `textFormat=plainText`;
  `textOriginal` only for the comment's author, so never for the channel reading it; `authorDisplayName`,
  `authorChannelId.value`, `parentId`, `publishedAt` to the second).
- Reference › "Comments: insert" (`part=snippet`; `snippet.parentId`, the thread's first comment, and
  `snippet.textOriginal` ≤ 10,000 characters → the Comment; 50 quota units): the channel answers a
  thread. Errors: 400 `commentTextRequired`, `commentTextTooLong`, `invalidCommentMetadata`; 404
  `parentCommentNotFound`; the posting faults apply (a blocked channel has comments disabled).
- Reference › "Comments: setModerationStatus" (issue #15, a citizen's identifiers shown in public):
  `POST /youtube/v3/comments/setModerationStatus?id=…&moderationStatus=heldForReview` (`id`: up to 50
  comma-separated ids; `published` shows a held comment again, `rejected` hides it for good; 50 quota
  units from the same daily quota, however many ids) → 204 No Content. A held comment stays but
  leaves the public listings (commentThreads.list and comments.list list `published` comments, their
  default `moderationStatus`), with its replies when it starts a thread; holding a held comment
  answers 204 again. An id the channel's videos do not carry (or deleted) is 404 `commentNotFound`, a
  status outside those three 400 `invalidModerationStatus`; a rejected comment cannot be published
  again (400 `operationNotSupported`). The posting faults apply.
- Errors on those reads: 401 `authError`, 403 `quotaExceeded`, 403 `commentsDisabled`, 400
  `invalidPageToken`, 404 `channelNotFound`; faults armed `on: read_comments` apply to them alone.
- Reference › "Videos: list" (issue #15, the figures set with `POST /_sandbox/engagement`):
  `part=statistics` (here `id` and `statistics` only) and `id` (comma-separated, at most 50) →
  `{"kind": "youtube#videoListResponse", "items": [{"kind", "etag", "id", "statistics": {"viewCount",
  "likeCount", "favoriteCount", "commentCount"}}], "pageInfo"}`, the counts as strings (unsigned longs;
  `dislikeCount` is private since December 2021 and left out); a deleted or unknown video is simply
  not among the `items`; 1 quota unit, from the same daily quota as the comment reads, and the faults
  armed `on: read_engagement`.

Sandbox channels: token `sbx-youtube-<channel>`. Upload sessions live in memory: a restarted
sandbox answers 404 for them, like an expired session. So do the comments people write, made on
demand with `POST /_sandbox/youtube/comments` (sandbox-only): `{"account", "texts"? | "count"?,
"video"?, "reply_to"?, "author"?, "as_channel"?, "published_at"?}` writes one comment per text (or
`count`) on `video` (default: the channel's newest upload), or replies to the thread `reply_to`, by
people or (`as_channel: true`) by the channel itself; `published_at` (ISO 8601) dates them, for ties
within one second. Answers 201 `{"items": [{"id", "thread_id",
"video_id", "published_at"}]}`. `DELETE /_sandbox/youtube/comments/{id}`: its author deletes it.
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .common import RATES, RateState, bearer_token, check_token
from .engagement import figures_of
from .faults import read_fault
from .people import Writing, refused
from .posting import Posting
from .routes import add_api, route
from .store import STORE, Post

__all__ = ["YouTubeApi", "add_routes", "channel_id"]

_NETWORK = "youtube"
_UPLOAD = "/upload/youtube/v3/videos"
_MAX_TITLE = 100
_MAX_DESCRIPTION_BYTES = 5000
_MAX_TAGS_CHARACTERS = 500
_READ_QUOTA = (10_000, 24 * 3600)  # "Quota": 10,000 units a day, a list call costs 1
_PAGE_DEFAULT, _PAGE_MAX = 20, 100
_EMBEDDED_REPLIES = 5
_INSERT_COST = 50  # "Quota": comments.insert costs 50 units
_MODERATION_COST = 50  # Comments: setModerationStatus › "Quota impact": 50 units
_MODERATION_STATUSES = ("heldForReview", "published", "rejected")
_MAX_MODERATED = 50  # setModerationStatus › `id`: at most 50 ids
_MAX_COMMENT = 10_000  # Comments: insert › commentTextTooLong


def channel_id(account: str) -> str:
    return "UC" + hashlib.sha256(f"youtube:{account}".encode()).hexdigest()[:22]


def _error(code: int, reason: str, message: str, domain: str = "youtube.video") -> web.Response:
    body = {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
        }
    }
    return web.json_response(body, status=code)


@dataclass
class _Session:
    account: str
    resource: dict[str, Any]
    size: int
    mime: str
    received: bytes = b""
    video: dict[str, Any] | None = None


class YouTubeApi:
    """The YouTube emulator's handlers; also its fault dialect."""

    rate_limit = (6, 24 * 3600)

    def __init__(self) -> None:
        self._sessions: dict[str, _Session] = {}

    # Dialect: how the Data API answers each fault mode.
    def server_error(self) -> web.Response:
        return _error(503, "backendError", "Backend Error", domain="global")

    def rate_limited(self, state: RateState) -> web.Response:
        message = "The request cannot be completed because you have exceeded your quota."
        return _error(403, "quotaExceeded", message, domain="youtube.quota")

    def expired_token(self) -> web.Response:
        return _error(401, "authError", "Invalid Credentials", domain="global")

    def blocked(self) -> web.Response:
        return _error(
            403, "uploadLimitExceeded", "The user has exceeded the number of videos they may upload."
        )

    def invalid_content(self) -> web.Response:
        return _error(
            400, "invalidDescription", "The request metadata specifies an invalid video description."
        )

    def _account(self, request: web.Request) -> str | web.Response:
        caller = check_token(bearer_token(request), _NETWORK)
        if caller.account is None:
            return self.expired_token()
        return caller.account

    def _problem(self, resource: object) -> web.Response | None:
        snippet = resource.get("snippet") if isinstance(resource, dict) else None
        if not isinstance(snippet, dict):
            return _error(400, "invalidVideoMetadata", "The request metadata is invalid.")
        title, description = snippet.get("title"), snippet.get("description", "")
        if not isinstance(title, str) or not title.strip():
            return _error(
                400, "invalidTitle", "The request metadata specifies an invalid or empty video title."
            )
        if len(title) > _MAX_TITLE or any(c in title for c in "<>"):
            return _error(400, "invalidTitle", "The request metadata specifies an invalid video title.")
        if (
            not isinstance(description, str)
            or len(description.encode()) > _MAX_DESCRIPTION_BYTES
            or any(c in description for c in "<>")
        ):
            return _error(
                400, "invalidDescription", "The request metadata specifies an invalid video description."
            )
        # Counted here from the documentation, apart from Relais' own rules: the emulator stands in for
        # YouTube, so a mistake in the rules' count shows up as a refusal.
        tags = snippet.get("tags", [])
        if (
            not isinstance(tags, list)
            or not all(isinstance(tag, str) for tag in tags)
            or sum(len(tag) + (2 if " " in tag else 0) for tag in tags) + max(len(tags) - 1, 0)
            > _MAX_TAGS_CHARACTERS
        ):
            return _error(400, "invalidTags", "The request metadata specifies invalid video keywords.")
        return None

    @route("POST", _UPLOAD)
    async def start(self, request: web.Request) -> web.Response:
        account = self._account(request)
        if isinstance(account, web.Response):
            return account
        if request.query.get("uploadType") != "resumable":
            return _error(400, "invalidUploadType", "Only resumable uploads are emulated.", domain="global")
        try:
            size = int(request.headers["X-Upload-Content-Length"])
            resource = await request.json()
        except (KeyError, ValueError):
            return _error(
                400, "badRequest", "X-Upload-Content-Length and a JSON video resource are required."
            )
        if (problem := self._problem(resource)) is not None:
            return problem
        upload_id = secrets.token_urlsafe(16)
        mime = request.headers.get("X-Upload-Content-Type", "application/octet-stream")
        self._sessions[upload_id] = _Session(account, resource, size, mime)
        location = f"{request.scheme}://{request.host}{_UPLOAD}?uploadType=resumable&upload_id={upload_id}"
        return web.Response(status=200, headers={"Location": location})

    @route("PUT", _UPLOAD)
    async def upload(self, request: web.Request) -> web.Response:
        session = self._sessions.get(request.query.get("upload_id", ""))
        account = self._account(request)
        if isinstance(account, web.Response):
            return account
        if session is None or session.account != account:
            return _error(
                404, "notFound", "The upload session was not found or has expired.", domain="global"
            )
        data = await request.read()
        content_range = request.headers.get("Content-Range", "")
        if content_range.startswith("bytes */"):  # a status query
            if session.video is not None:
                return web.json_response(session.video, status=200)
            headers = {"Range": f"bytes=0-{len(session.received) - 1}"} if session.received else {}
            return web.Response(status=308, headers=headers)
        if session.video is not None:
            return web.json_response(session.video, status=200)
        posting = await Posting.start(request, self, _NETWORK, account)
        if isinstance(posting, web.Response):
            return posting
        offset = int(content_range.split()[1].split("-")[0]) if content_range.startswith("bytes ") else 0
        session.received = session.received[:offset] + data
        if len(session.received) < session.size:
            return web.Response(status=308, headers={"Range": f"bytes=0-{len(session.received) - 1}"})
        session.video = self._store(posting, session)
        await posting.created()
        return web.json_response(session.video, status=201)

    def _store(self, posting: Posting, session: _Session) -> dict[str, Any]:
        video_id = secrets.token_urlsafe(8)[:11]
        snippet = session.resource["snippet"]
        status = session.resource.get("status") or {}
        post = posting.add(
            remote_id=video_id,
            text=str(snippet.get("description", "")),
            body=session.resource,
            meta={
                "title": snippet["title"],
                "tags": snippet.get("tags", []),
                "size": session.size,
                "mime": session.mime,
            },
        )
        return self._video(post, status.get("privacyStatus", "public"))

    @staticmethod
    def _published(post: Post) -> str:
        moment = datetime.strptime(post.received_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _video(self, post: Post, privacy: str = "public") -> dict[str, Any]:
        snippet = {
            "publishedAt": self._published(post),
            "channelId": channel_id(post.account),
            "title": post.meta.get("title"),
            "description": post.text,
            "tags": post.meta.get("tags", []),
        }
        return {
            "kind": "youtube#video",
            "id": post.remote_id,
            "snippet": snippet,
            "status": {"uploadStatus": "uploaded", "privacyStatus": privacy},
        }

    @route("GET", "/youtube/v3/channels")
    async def channels(self, request: web.Request) -> web.Response:
        account = self._account(request)
        if isinstance(account, web.Response):
            return account
        if request.query.get("mine") != "true":
            return _error(400, "missingRequiredParameter", "Only mine=true is emulated.", domain="global")
        ident = channel_id(account)
        item = {
            "kind": "youtube#channel",
            "id": ident,
            "contentDetails": {"relatedPlaylists": {"uploads": "UU" + ident[2:], "likes": ""}},
        }
        return web.json_response({"kind": "youtube#channelListResponse", "items": [item]})

    @route("GET", "/youtube/v3/playlistItems")
    async def playlist_items(self, request: web.Request) -> web.Response:
        account = self._account(request)
        if isinstance(account, web.Response):
            return account
        if request.query.get("playlistId") != "UU" + channel_id(account)[2:]:
            return _error(
                404,
                "playlistNotFound",
                "The playlist identified with the request's playlistId cannot be found.",
            )
        posts = _videos(request, account)[::-1]
        size = int(request.query["maxResults"]) if request.query.get("maxResults", "").isdigit() else 5
        items = [
            {
                "kind": "youtube#playlistItem",
                "id": f"item-{post.remote_id}",
                "snippet": {
                    **self._video(post)["snippet"],
                    "resourceId": {"kind": "youtube#video", "videoId": post.remote_id},
                },
            }
            for post in posts[: min(size, 50)]
        ]
        return web.json_response({"kind": "youtube#playlistItemListResponse", "items": items})


@dataclass(frozen=True)
class _Comment:
    """One comment a person wrote on a channel's video: a thread's first comment, or a reply in it."""

    id: str
    account: str  # the channel's account
    video_id: str
    author: str
    author_channel: str  # the writer's channel id: a person's, or the channel's own
    text: str
    published: datetime
    thread_id: str  # its own id for a thread's first comment
    seq: int  # the order comments were written in, for those of the same second
    status: str = "published"  # its moderationStatus: published, heldForReview or rejected

    @property
    def is_reply(self) -> bool:
        return self.id != self.thread_id

    def resource(self, plain: bool) -> dict[str, Any]:
        stamp = self.published.strftime("%Y-%m-%dT%H:%M:%SZ")
        snippet: dict[str, Any] = {
            "channelId": channel_id(self.account),
            "videoId": self.video_id,
            "textDisplay": self.text if plain else html.escape(self.text).replace("\n", "<br>"),
            "authorDisplayName": self.author,
            "authorChannelId": {"value": self.author_channel},
            "canRate": True,
            "viewerRating": "none",
            "likeCount": 0,
            "publishedAt": stamp,
            "updatedAt": stamp,
        }
        if self.is_reply:
            snippet["parentId"] = self.thread_id
        return {"kind": "youtube#comment", "id": self.id, "snippet": snippet}


def _plain(request: web.Request) -> bool:
    return request.query.get("textFormat") == "plainText"


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _offset(token: str | None) -> int | None:
    """Where a page token starts (0 without one); None for a token this emulator never gave."""
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    kind, _, number = text.partition(":")
    return int(number) if kind == "offset" and number.isdigit() else None


def _page_size(value: str | None) -> int | None:
    if value is None:
        return _PAGE_DEFAULT
    return int(value) if value.isdigit() and 1 <= int(value) <= _PAGE_MAX else None


class YouTubeCommentsApi:
    """What people write on a channel's videos, read with commentThreads.list and comments.list; also
    the fault dialect of those reads (a blocked channel has its comments disabled)."""

    rate_limit = _READ_QUOTA

    def __init__(self) -> None:
        self._comments: list[_Comment] = []  # in the order they were written
        self._seq = itertools.count()

    def server_error(self) -> web.Response:
        return _error(503, "backendError", "Backend Error", domain="global")

    def rate_limited(self, state: RateState) -> web.Response:
        message = "The request cannot be completed because you have exceeded your quota."
        return _error(403, "quotaExceeded", message, domain="youtube.quota")

    def expired_token(self) -> web.Response:
        return _error(401, "authError", "Invalid Credentials", domain="global")

    def blocked(self) -> web.Response:
        return _error(403, "commentsDisabled", "Comments are disabled for the channel's videos.")

    def invalid_content(self) -> web.Response:
        return _error(400, "badRequest", "The request is invalid.", domain="global")

    async def _reader(self, request: web.Request, *, on: str = "read_comments") -> str | web.Response:
        """The channel's account once the token, the faults armed for these reads (`on`) and the quota
        let it read."""
        caller = check_token(bearer_token(request), _NETWORK)
        if caller.account is None:
            return self.expired_token()
        if (replaced := await read_fault(request, self, _NETWORK, caller.account, on=on)) is not None:
            return replaced
        quota = request.app[RATES].hit(
            f"{_NETWORK}:{caller.account}:reads", limit=_READ_QUOTA[0], window=_READ_QUOTA[1]
        )
        if quota.exceeded:
            return self.rate_limited(quota)
        return caller.account

    @staticmethod
    def _paged(request: web.Request, found: list[Any]) -> tuple[list[Any], str | None] | web.Response:
        size, start = _page_size(request.query.get("maxResults")), _offset(request.query.get("pageToken"))
        if size is None:
            return _error(400, "invalidParameter", "maxResults must be between 1 and 100.", domain="global")
        if start is None:
            return _error(400, "invalidPageToken", "The request specifies an invalid page token.")
        page = found[start : start + size]
        return page, _page_token(start + size) if start + size < len(found) else None

    @route("GET", "/youtube/v3/commentThreads")
    async def comment_threads(self, request: web.Request) -> web.Response:
        account = await self._reader(request)
        if isinstance(account, web.Response):
            return account
        parts = set(request.query.get("part", "").split(","))
        if not parts or not parts <= {"id", "snippet", "replies"} or "" in parts:
            return _error(400, "invalidPart", "The part parameter is invalid.", domain="global")
        channel = request.query.get("allThreadsRelatedToChannelId")
        if channel is None:
            return _error(400, "missingRequiredParameter", "Only allThreadsRelatedToChannelId is emulated.")
        if channel != channel_id(account):
            return _error(404, "channelNotFound", "The channel identified by the request cannot be found.")
        if request.query.get("order", "time") != "time":
            return _error(400, "invalidParameter", "Only order=time is emulated.", domain="global")
        mine = self._public(c for c in self._comments if c.account == account)
        threads = sorted(
            (c for c in mine if not c.is_reply), key=lambda c: (c.published, c.seq), reverse=True
        )
        paged = self._paged(request, threads)
        if isinstance(paged, web.Response):
            return paged
        page, next_token = paged
        items = [
            self._thread(
                top, [c for c in mine if c.thread_id == top.id and c.is_reply], parts, _plain(request)
            )
            for top in page
        ]
        body: dict[str, Any] = {"kind": "youtube#commentThreadListResponse", "items": items}
        if next_token is not None:
            body["nextPageToken"] = next_token
        return web.json_response(body)

    @staticmethod
    def _thread(top: _Comment, replies: list[_Comment], parts: set[str], plain: bool) -> dict[str, Any]:
        thread: dict[str, Any] = {"kind": "youtube#commentThread", "id": top.id}
        if "snippet" in parts:
            thread["snippet"] = {
                "channelId": channel_id(top.account),
                "videoId": top.video_id,
                "topLevelComment": top.resource(plain),
                "canReply": True,
                "totalReplyCount": len(replies),
                "isPublic": True,
            }
        if "replies" in parts and replies:
            thread["replies"] = {"comments": [reply.resource(plain) for reply in replies[:_EMBEDDED_REPLIES]]}
        return thread

    @route("GET", "/youtube/v3/videos")
    async def videos(self, request: web.Request) -> web.Response:
        """Videos: list with `part=statistics`: each video's public counts, from its figures."""
        account = await self._reader(request, on="read_engagement")
        if isinstance(account, web.Response):
            return account
        parts = set(request.query.get("part", "").split(","))
        if not parts <= {"id", "statistics"} or "" in parts:
            return _error(400, "invalidPart", "The part parameter is invalid.", domain="global")
        ids = [ident for ident in request.query.get("id", "").split(",") if ident]
        if not ids:
            return _error(400, "missingRequiredParameter", "Only the id filter is emulated.", domain="global")
        if len(ids) > 50:
            return _error(400, "invalidParameter", "At most 50 ids may be given.", domain="global")
        items = []
        for ident in ids:
            post = request.app[STORE].by_remote_id(_NETWORK, ident)
            if post is None or post.meta.get("answers"):
                continue  # deleted or never there: YouTube leaves it out of the list
            item: dict[str, Any] = {"kind": "youtube#video", "etag": secrets.token_urlsafe(8), "id": ident}
            if "statistics" in parts:
                figures = figures_of(post)
                item["statistics"] = {
                    "viewCount": str(figures["views"]),
                    "likeCount": str(figures["likes"]),
                    "favoriteCount": "0",
                    "commentCount": str(figures["replies"]),
                }
            items.append(item)
        page_info = {"totalResults": len(items), "resultsPerPage": len(items)}
        body = {"kind": "youtube#videoListResponse", "etag": secrets.token_urlsafe(8), "items": items}
        return web.json_response(body | {"pageInfo": page_info})

    @route("GET", "/youtube/v3/comments")
    async def comments(self, request: web.Request) -> web.Response:
        account = await self._reader(request)
        if isinstance(account, web.Response):
            return account
        parent = request.query.get("parentId")
        if not parent:
            return _error(400, "missingRequiredParameter", "Only parentId is emulated.", domain="global")
        if not any(c.id == parent and not c.is_reply for c in self._comments):
            return _error(404, "commentNotFound", "The comment identified by parentId cannot be found.")
        replies = self._public(c for c in self._comments if c.thread_id == parent and c.is_reply)
        paged = self._paged(request, replies)
        if isinstance(paged, web.Response):
            return paged
        page, next_token = paged
        body: dict[str, Any] = {
            "kind": "youtube#commentListResponse",
            "items": [c.resource(_plain(request)) for c in page],
        }
        if next_token is not None:
            body["nextPageToken"] = next_token
        return web.json_response(body)

    def _public(self, comments: Iterable[_Comment]) -> list[_Comment]:
        """The comments the public sees: `published` ones, in threads whose first comment is too."""
        hidden = {c.id for c in self._comments if c.status != "published" and not c.is_reply}
        return [c for c in comments if c.status == "published" and c.thread_id not in hidden]

    @route("POST", "/youtube/v3/comments/setModerationStatus")
    async def set_moderation_status(self, request: web.Request) -> web.Response:
        """Comments: setModerationStatus: the channel holds comments for review (hides them)."""
        caller = check_token(bearer_token(request), _NETWORK)
        if caller.account is None:
            return self.expired_token()
        account = caller.account
        ids = [i for i in request.query.get("id", "").split(",") if i]
        status = request.query.get("moderationStatus", "")
        if not ids or len(ids) > _MAX_MODERATED:
            return _error(400, "missingRequiredParameter", "Give from 1 to 50 comment ids.", domain="global")
        if status not in _MODERATION_STATUSES:
            return _error(400, "invalidModerationStatus", "The moderation status is invalid.")
        posting = await Posting.start(request, self, _NETWORK, account)
        if isinstance(posting, web.Response):
            return posting
        _quota, throttled = posting.window(f"{account}:reads", _READ_QUOTA, cost=_MODERATION_COST)
        if throttled is not None:
            return throttled
        found = {c.id: n for n, c in enumerate(self._comments) if c.id in ids and c.account == account}
        if len(found) < len(set(ids)):
            return _error(404, "commentNotFound", "One of the comments cannot be found.")
        if status == "published" and any(self._comments[n].status == "rejected" for n in found.values()):
            return _error(400, "operationNotSupported", "A rejected comment cannot be published again.")
        for n in found.values():
            self._comments[n] = replace(self._comments[n], status=status)
        await posting.created()
        return web.Response(status=204)

    @route("POST", "/youtube/v3/comments")
    async def insert(self, request: web.Request) -> web.Response:
        """Comments: insert (`part=snippet`, `snippet.parentId` and `snippet.textOriginal`): the
        channel answers a thread on its videos. 50 quota units, from the same daily quota as reads."""
        caller = check_token(bearer_token(request), _NETWORK)
        if caller.account is None:
            return self.expired_token()
        account = caller.account
        if "snippet" not in request.query.get("part", "").split(","):
            return _error(400, "invalidPart", "The part parameter is invalid.", domain="global")
        try:
            resource = await request.json()
        except ValueError:
            resource = None
        snippet = resource.get("snippet") if isinstance(resource, dict) else None
        if not isinstance(snippet, dict) or not isinstance(snippet.get("parentId"), str):
            return _error(400, "invalidCommentMetadata", "The request metadata is invalid.")
        posting = await Posting.start(request, self, _NETWORK, account)
        if isinstance(posting, web.Response):
            return posting
        _quota, throttled = posting.window(f"{account}:reads", _READ_QUOTA, cost=_INSERT_COST)
        if throttled is not None:
            return throttled
        text = snippet.get("textOriginal")
        if not isinstance(text, str) or not text.strip():
            return _error(400, "commentTextRequired", "The comment resource must contain a textOriginal.")
        if len(text) > _MAX_COMMENT:
            return _error(400, "commentTextTooLong", "The comment resource's textOriginal is too long.")
        top = next((c for c in self._comments if c.id == snippet["parentId"] and not c.is_reply), None)
        if top is None or top.account != account:
            return _error(404, "parentCommentNotFound", "The specified parent comment could not be found.")
        comment = _Comment(
            id=f"{top.id}.Ug{secrets.token_urlsafe(18)}",
            account=account,
            video_id=top.video_id,
            author=account,
            author_channel=channel_id(account),
            text=text,
            published=datetime.now(UTC).replace(microsecond=0),
            thread_id=top.id,
            seq=next(self._seq),
        )
        self._comments.append(comment)
        posting.add(remote_id=comment.id, text=text, body=resource, reply_to=top.id, meta={"answers": top.id})
        await posting.created()
        return web.json_response(comment.resource(plain=False))

    @route("DELETE", "/_sandbox/youtube/comments/{comment_id}")
    async def delete(self, request: web.Request) -> web.Response:
        """The person deletes their comment (a thread's first one takes its replies with it)."""
        gone = request.match_info["comment_id"]
        kept = [c for c in self._comments if gone not in (c.id, c.thread_id)]
        deleted = len(self._comments) - len(kept)
        self._comments = kept
        return web.json_response({"deleted": deleted}, status=200 if deleted else 404)

    @route("POST", "/_sandbox/youtube/comments")
    async def write(self, request: web.Request) -> web.Response:
        """`POST /_sandbox/youtube/comments`: people write comments or replies (see the module)."""
        writing = await Writing.read(request)
        if isinstance(writing, web.Response):
            return writing
        published = _instant(writing.data.get("published_at"))
        if published is None:
            return refused("published_at must be an ISO 8601 time with its offset")
        thread = self._thread_of(request, writing.account, writing.data)
        if isinstance(thread, web.Response):
            return thread
        video_id, thread_id = thread
        author = writing.data.get("author") if isinstance(writing.data.get("author"), str) else ""
        as_channel = writing.data.get("as_channel") is True  # the channel answers on its own videos
        written = []
        for number in range(writing.count):
            comment_id = "Ug" + secrets.token_urlsafe(18)
            comment = _Comment(
                id=f"{thread_id}.{comment_id}" if thread_id else comment_id,
                account=writing.account,
                video_id=video_id,
                author=author or (writing.account if as_channel else f"Citoyen {number + 1}"),
                author_channel=channel_id(writing.account)
                if as_channel
                else channel_id(f"person:{author or number + 1}"),
                text=writing.text(number),
                published=published,
                thread_id=thread_id or comment_id,
                seq=next(self._seq),
            )
            self._comments.append(comment)
            written.append(
                {
                    "id": comment.id,
                    "thread_id": comment.thread_id,
                    "video_id": video_id,
                    "published_at": published.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
            )
        return web.json_response({"items": written}, status=201)

    def _thread_of(
        self, request: web.Request, account: str, data: dict[str, Any]
    ) -> tuple[str, str | None] | web.Response:
        """The video the new comments go on, and the thread they answer (None: new threads)."""
        reply_to = data.get("reply_to")
        if reply_to is not None:
            top = next((c for c in self._comments if c.id == reply_to and not c.is_reply), None)
            if top is None or top.account != account:
                return refused("reply_to names no thread on this channel")
            return top.video_id, top.id
        videos = _videos(request, account)
        video = data.get("video") or (videos[-1].remote_id if videos else None)
        if not isinstance(video, str) or not any(v.remote_id == video for v in videos):
            return refused("video must name one of the channel's uploads (it has none yet?)")
        return video, None


def _videos(request: web.Request, account: str) -> list[Post]:
    """The channel's uploads, oldest first (not its answers to comments, stored alongside)."""
    return [
        p for p in request.app[STORE].posts(network=_NETWORK, account=account) if not p.meta.get("answers")
    ]


def _instant(value: object) -> datetime | None:
    """A comment's time, to the second as YouTube dates it: now, or the ISO 8601 time given."""
    if value is None:
        return datetime.now(UTC).replace(microsecond=0)
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC).replace(microsecond=0) if moment.tzinfo else None


def add_routes(app: web.Application) -> None:
    add_api(app, YouTubeApi())
    add_api(app, YouTubeCommentsApi())
