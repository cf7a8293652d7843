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

Sandbox channels: token `sbx-youtube-<channel>`. Upload sessions live in memory: a restarted
sandbox answers 404 for them, like an expired session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .common import RateState, bearer_token, check_token
from .posting import Posting
from .store import STORE, Post

__all__ = ["YouTubeApi", "add_routes", "channel_id"]

_NETWORK = "youtube"
_UPLOAD = "/upload/youtube/v3/videos"
_MAX_TITLE = 100
_MAX_DESCRIPTION_BYTES = 5000
_MAX_TAGS_CHARACTERS = 500


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
        posts = list(reversed(request.app[STORE].posts(network=_NETWORK, account=account)))
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


def add_routes(app: web.Application) -> None:
    api = YouTubeApi()
    app.router.add_post(_UPLOAD, api.start)
    app.router.add_put(_UPLOAD, api.upload)
    app.router.add_get("/youtube/v3/channels", api.channels)
    app.router.add_get("/youtube/v3/playlistItems", api.playlist_items)
