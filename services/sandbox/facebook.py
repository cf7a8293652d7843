"""Facebook Graph API (Pages) emulator: publishing to a page feed (with photos) and reading it back.

Follows these documentation sections (developers.facebook.com):
- Pages API › "Posts" (publish a post): `POST /{page-id}/feed` with `message`, `link` and a Page
  access token as the `access_token` parameter (query or form) → `{"id": "{page-id}_{post-id}"}`;
  the sandbox also takes `Authorization: Bearer`.
- Graph API › Reference › Page › "Photos" and › "Photo" (Creating): `POST /{page-id}/photos` with
  the file as the multipart `source` (or a `url`; the sandbox keeps the URL's fingerprint and does
  not fetch it), `published` (default true; false uploads without posting), `alt_text_custom`
  ("accessible alternative description") and `caption` → `{"id": photo_id}`, plus `post_id` when
  published. No file is error 324 "Requires upload file", a file that is not an image 324 "Missing
  or invalid image file"; the Page photos edge takes photos under 4 MB (the Photo node says 10 MB:
  the stricter one is kept) and a larger one is refused with 100.
- Pages API › "Posts" › publishing photos: unpublished photos are attached to a feed post with
  `attached_media[i]={"media_fbid": "<photo-id>"}` (form fields, or a JSON list). A photo that is
  unknown or another page's is error 100 "Invalid parameter".
- Graph API › "Versioning": paths may start with a version (`/v21.0/…`) or omit it.
- Graph API › Guides › "Handling Errors": `{"error": {"message", "type", "code", "error_subcode",
  "fbtrace_id"}}`; 190 for an invalid token (subcode 463 when expired), 104 when none is given,
  10/200 for missing permissions, 4/17/32 for throttling, 368 "temporarily blocked for policies
  violations", 506 duplicate post, 100 invalid parameter, 2 service unavailable.
- Graph API › Overview › "Rate limits": `X-App-Usage` and `X-Page-Usage` JSON headers
  (`call_count`, `total_cputime`, `total_time` in percent, plus `estimated_time_to_regain_access`
  in minutes once throttled); Page-token calls are counted per page over 24 hours (4,800 here).
- Faults: uploads misbehave under the faults that precede creation (errors, throttling, timeouts);
  the `*_after_create` modes are left for the feed post itself.
- Graph API › Reference › Page › "Feed" (`GET /{page-id}/feed`): newest first, `since` (Unix
  time), `limit`, `fields`.
- Video API › "Publishing" with the resumable upload protocol, all on `POST /{page-id}/videos`:
  `upload_phase=start` with `file_size` → `{"video_id", "upload_session_id", "start_offset",
  "end_offset"}`; `upload_phase=transfer` with `upload_session_id`, `start_offset` and the bytes as
  the multipart `video_file_chunk` → the next `start_offset` / `end_offset` (equal once every byte
  is in); `upload_phase=finish` with `upload_session_id`, `description`, `title` → `{"success":
  true}`, which publishes the video post. A chunk at another offset than the one asked is error
  6001 ("There was a problem uploading your video"). The video is then processed
  (`processing.py`); `GET /{page-id}/videos?fields=id,status,permalink_url` reads its `status`
  (`video_status` processing, ready or error; `processing_phase.errors` says why). (A single
  `GET /{video-id}` would be shadowed by the Instagram emulator's node path on the same host.) A
  video post reaches the page's feed once processed (never when processing failed): the strictest
  reading, which makes a client look for a lost finish among the page's videos.
- Answering people (issue #15), against what they wrote (audience.py: pushed by webhook, or written
  with `POST /_sandbox/audience`): Graph API › Reference › Comment › "Comments" (`POST
  /{comment-id}/comments` with `message` → `{"id"}`; `GET /{comment-id}/comments`, oldest first, each
  with `from`; `GET /{comment-id}` shows `parent` and `can_comment`): a comment the page does not
  have, or that was deleted, is error 100 subcode 33; a reply (`can_comment` false) is refused with
  100: answers go to its parent comment. Messenger Platform › "Send API" (`POST /{page-id}/messages`
  with `recipient.id`, `messaging_type` RESPONSE or UPDATE, `message.text` ≤ 2,000 characters →
  `{"recipient_id", "message_id"}`) within the "Messaging window" (24 hours from the person's last
  message; then error 10 subcode 2018278); a person who never wrote is error 100 subcode 2018001.
  Answers are stored with the page's posts (for inspection) but are not its feed.
- Hiding a comment (issue #15, a citizen's identifiers shown in public): Graph API › Reference ›
  Comment › "Updating" (`POST /{comment-id}` with `is_hidden=true` → `{"success": true}`; false shows
  it again); the Comment node then reads `is_hidden`. The comment stays, but leaves what the public
  sees (audience.py); hiding a hidden comment answers success again. A comment the page does not have,
  or that was deleted, is error 100 subcode 33; a private message is not a comment (100). The posting
  faults apply, counted in the page's window.
- What people did with a post (issue #15, the figures set with `POST /_sandbox/engagement`): the Post
  node's edges with their summaries (`GET /{page-post-id}?fields=reactions.summary(total_count),
  comments.summary(total_count),shares` → `reactions.summary.total_count`, `comments.summary.
  total_count`, `shares.count`; Graph API › Reference › Post, "reactions" and "comments" edges, and
  the `shares` field, which Facebook leaves out while nobody has shared the post (U: observed, not
  documented; the sandbox does the same)), and Page Insights for a post (`GET
  /{page-post-id}/insights?metric=post_media_view`, lifetime `values[0].value`). `post_impressions`
  answers the invalid-metric error 100: the developers' blog "Page Insights API Updates" (August
  2025) deprecated the impressions metrics on every version from November 15, 2025, replaced by the
  views metrics (`post_media_view`; `post_total_media_view_unique` for unique ones). A video post is
  the Post `{page-id}_{video-id}`. These reads count in the page's window, answer its usage header
  and take the faults armed `on: read_engagement`.
- The 63,206-character message cap is folklore, not documentation (design/network-rules.md).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, web

from .audience import AUDIENCE, Written, item_id_for
from .common import MINT, RATES, RateState, bearer_token, check_token, read_params
from .engagement import figures_of
from .faults import MODES, read_fault
from .graph import asked_metrics, graph_error, insights
from .posting import BEFORE_CREATE_MODES, Posting
from .processing import VIDEO_JOBS
from .routes import add_api, route
from .store import STORE, MediaItem, Post

__all__ = ["FacebookApi", "add_routes"]

_NETWORK = "facebook"
_PAGE_LIMIT = (4800, 24 * 3600)
_APP_LIMIT = (20000, 3600)
_MAX_MESSAGE = 63206
_MAX_SENT_TEXT = 2000  # Send API › "message.text": UTF-8, 2,000 characters
_MESSAGING_WINDOW = 24 * 3600  # Messenger Platform › "Messaging window" (standard messaging)
_LINK = re.compile(r"https?://[^\s/$.?#][^\s]*", re.IGNORECASE)
_VERSION = r"{version:v\d+\.\d+}"
_POST_ID = r"{post_id:[A-Za-z0-9_.-]+_\d+}"
_MAX_PHOTO = 4 * 1024 * 1024
_ATTACHED = re.compile(r"attached_media\[(\d+)\]")
_VIDEO_CHUNK = 512 * 1024  # bytes asked per transfer: real Graph picks its own sizes
_FIELD_NAME = re.compile(r"[a-z_]+")
# Page Insights metrics of a post the sandbox answers (the views ones: impressions are deprecated).
_POST_METRICS = {"post_media_view": "Post views", "post_total_media_view_unique": "Post unique views"}
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*", b"BM")


def _is_image(data: bytes) -> bool:
    return data.startswith(_IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


async def _read_file_request(
    request: web.Request, file_field: str = "source", cap: int = _MAX_PHOTO
) -> tuple[dict[str, Any], bytes | None, str, int] | None:
    """The fields, the `file_field` file (bytes kept up to `cap`, its type and full size).

    None when the body is unreadable. Read as a stream, past the app's body limit: a refused file
    is read to its end so that the client gets the Graph error rather than a dropped connection.
    """
    if request.content_type != "multipart/form-data":
        params = await read_params(request)
        return None if params is None else (params, None, "", 0)
    fields: dict[str, Any] = {}
    source: bytes | None = None
    content_type, size = "", 0
    reader = MultipartReader(request.headers, request.content)
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name != file_field:
            fields[str(part.name)] = await part.text()
            continue
        kept: list[bytes] = []
        while chunk := await part.read_chunk():
            size += len(chunk)
            if size <= cap:
                kept.append(chunk)
        source = b"".join(kept)
        content_type = part.headers.get("Content-Type", "application/octet-stream")
    return fields, source, content_type, size


def _attached_ids(params: dict[str, Any]) -> list[str] | None:
    """The photo ids of `attached_media` (form fields `attached_media[i]` or a JSON list), in order."""
    listed = params.get("attached_media")
    if listed is None:
        indexed = sorted(
            (int(match.group(1)), value)
            for key, value in params.items()
            if (match := _ATTACHED.fullmatch(key))
        )
        listed = [value for _index, value in indexed]
    if not isinstance(listed, list):
        return None
    ids = []
    for entry in listed:
        try:
            value = json.loads(entry) if isinstance(entry, str) else entry
        except json.JSONDecodeError:
            return None
        media_fbid = value.get("media_fbid") if isinstance(value, dict) else None
        if not isinstance(media_fbid, str | int) or isinstance(media_fbid, bool):
            return None
        ids.append(str(media_fbid))
    return ids


def _page_posts(request: web.Request, page_id: str) -> list[Post]:
    """The page's own posts, newest first: not its answers to people (comments, messages)."""
    posts = request.app[STORE].posts(network=_NETWORK, account=page_id)
    return [post for post in reversed(posts) if not post.meta.get("answers")]


def _received(post: Post) -> float:
    return datetime.strptime(post.received_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def _created_time(post: Post) -> str:
    moment = datetime.strptime(post.received_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass
class _VideoUpload:
    """One resumable upload session: its page, its declared size and the bytes received so far."""

    page_id: str
    video_id: str
    size: int
    received: bytearray = field(default_factory=bytearray)
    published: bool = False


class FacebookApi:
    """The Facebook emulator's handlers; also its fault dialect."""

    rate_limit = _PAGE_LIMIT

    def __init__(self) -> None:
        self._uploads: dict[str, _VideoUpload] = {}

    @staticmethod
    def _usage_headers(page: RateState | None, app: RateState | None = None) -> dict[str, str]:
        def usage(state: RateState) -> dict[str, int]:
            used = math.ceil(100 * (state.limit - state.remaining) / state.limit) if state.limit else 0
            numbers = {
                "call_count": 100 if state.exceeded else used,
                "total_cputime": used // 2,
                "total_time": used // 2,
            }
            if state.exceeded:
                numbers["estimated_time_to_regain_access"] = math.ceil(
                    max(state.reset_at - time.time(), 0) / 60
                )
            return numbers

        headers = {}
        if page is not None:
            headers["X-Page-Usage"] = json.dumps(usage(page))
        if app is not None:
            headers["X-App-Usage"] = json.dumps(usage(app))
        return headers

    def _respond(self, body: dict[str, Any], status: int, page: RateState | None = None) -> web.Response:
        return web.json_response(body, status=status, headers=self._usage_headers(page))

    # Dialect: how the Graph API answers each fault mode.
    def server_error(self) -> web.Response:
        message = "An unexpected error has occurred. Please retry your request later."
        return self._respond(graph_error(message, 2), 503)

    def rate_limited(self, state: RateState) -> web.Response:
        return self._respond(graph_error("(#32) Page request limit reached", 32), 400, state)

    def expired_token(self) -> web.Response:
        now = datetime.now(UTC)
        message = (
            f"Error validating access token: Session has expired on {now:%A, %d-%b-%y} 00:00:00 UTC. "
            f"The current time is {now:%A, %d-%b-%y %H:%M:%S} UTC."
        )
        return self._respond(graph_error(message, 190, subcode=463), 400)

    def blocked(self) -> web.Response:
        message = "(#368) The action attempted has been deemed abusive or is otherwise disallowed"
        return self._respond(graph_error(message, 368), 400)

    def invalid_content(self) -> web.Response:
        return self._respond(graph_error("(#100) Invalid parameter", 100), 400)

    def _caller(self, params: dict[str, Any], request: web.Request) -> str | web.Response:
        token = params.get("access_token") or bearer_token(request, schemes=("bearer", "oauth"))
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

    def _page_caller(self, params: dict[str, Any], request: web.Request) -> str | web.Response:
        """The page the path names, when the token is that page's; the Graph refusal otherwise."""
        account = self._caller(params, request)
        if isinstance(account, web.Response) or account == request.match_info["page_id"]:
            return account
        return self._denied()

    def _denied(self) -> web.Response:
        message = (
            "(#200) If posting to a page, requires both pages_read_engagement and pages_manage_posts "
            "as an admin with sufficient administrative permission"
        )
        return self._respond(graph_error(message, 200), 403)

    @route("POST", "/{page_id}/feed")
    async def create(self, request: web.Request) -> web.Response:
        called = await self._write_call(request, self._page_caller)
        if isinstance(called, web.Response):
            return called
        params, account = called
        page_id = account
        posting = await Posting.start(request, self, _NETWORK, account)
        if isinstance(posting, web.Response):
            return posting
        page, app, throttled = self._windows(posting)
        if throttled is not None:
            return throttled
        # The token is a secret: it is never stored with what the page received.
        fields = {key: value for key, value in params.items() if key != "access_token"}
        message, link = fields.get("message"), fields.get("link")
        media = self._attachable(request, page_id, params)
        if isinstance(media, web.Response):
            return media
        if not message and not link and not media:
            return self._respond(graph_error("(#100) Missing message or attachment", 100), 400, page)
        if message is not None and (not isinstance(message, str) or len(message) > _MAX_MESSAGE):
            text = f"(#100) Param message must be a string of at most {_MAX_MESSAGE} characters"
            return self._respond(graph_error(text, 100), 400, page)
        if link is not None and (not isinstance(link, str) or not _LINK.fullmatch(link)):
            return self._respond(graph_error("(#100) The parameter link must be a valid URL", 100), 400, page)
        latest = next(iter(_page_posts(request, page_id)), None)
        if (
            latest is not None
            and latest.text == (message or "")
            and latest.meta.get("link") == link
            and not media
            and not latest.meta.get("media")
        ):
            return self._respond(graph_error("(#506) Duplicate status message", 506), 400, page)
        post_id = f"{page_id}_{request.app[MINT].next_id('facebook', shift=12)}"
        posting.add(
            remote_id=post_id,
            text=message or "",
            body=fields,
            meta={"link": link, "media": [item.public() for item in media]},
        )
        await posting.created()
        return web.json_response({"id": post_id}, headers=self._usage_headers(page, app))

    @staticmethod
    def _windows(posting: Posting) -> tuple[RateState, RateState, web.Response | None]:
        """The page's window and the app's, both counted; the refusal when the page's is full."""
        page, throttled = posting.window(posting.account, _PAGE_LIMIT)
        app = posting.count("app", _APP_LIMIT)
        return page, app, throttled

    def _attachable(
        self, request: web.Request, page_id: str, params: dict[str, Any]
    ) -> list[MediaItem] | web.Response:
        ids = _attached_ids(params)
        if ids is None:
            return self._respond(
                graph_error("(#100) Param attached_media must be a list of media_fbid", 100), 400
            )
        items = request.app[STORE].attachable(_NETWORK, page_id, ids) if ids else []
        if items is None:
            message = "(#100) Invalid parameter: attached_media names a photo this page did not upload"
            return self._respond(graph_error(message, 100), 400)
        return items

    @route("POST", "/{page_id}/photos")
    async def photos(self, request: web.Request) -> web.Response:
        """Upload a photo to the page, published at once or kept for a later feed post."""
        read = await _read_file_request(request)
        if read is None:
            return self._respond(graph_error("(#100) Invalid parameter", 100), 400)
        body, source, content_type, size = read
        params = {**request.query, **body}
        account = self._page_caller(params, request)
        if isinstance(account, web.Response):
            return account
        page_id = account
        posting = await Posting.start(request, self, _NETWORK, account, modes=BEFORE_CREATE_MODES)
        if isinstance(posting, web.Response):
            return posting
        page, app, throttled = self._windows(posting)
        if throttled is not None:
            return throttled
        url = params.get("url")
        if source is None and not (isinstance(url, str) and _LINK.fullmatch(url)):
            return self._respond(graph_error("(#324) Requires upload file", 324), 400, page)
        if source is not None and not _is_image(source):
            return self._respond(graph_error("(#324) Missing or invalid image file", 324), 400, page)
        if size >= _MAX_PHOTO:
            text = f"(#100) The photo is {size} bytes: photos must be less than 4 MB"
            return self._respond(graph_error(text, 100), 400, page)
        alt = params.get("alt_text_custom")
        photo_id = str(request.app[MINT].next_id("facebook-photo", shift=12))
        item = posting.add_media(
            media_id=photo_id,
            data=source if source is not None else str(url).encode(),
            content_type=content_type if source is not None else "text/uri-list",
            alt=alt if isinstance(alt, str) else None,
        )
        answer = {"id": photo_id}
        if str(params.get("published", "true")).lower() not in ("false", "0"):
            caption = params.get("caption") or params.get("message") or ""
            post_id = f"{page_id}_{request.app[MINT].next_id('facebook', shift=12)}"
            fields = {key: value for key, value in params.items() if key != "access_token"}
            posting.add(
                remote_id=post_id,
                text=str(caption),
                body=fields,
                meta={"link": None, "media": [item.public()]},
            )
            answer["post_id"] = post_id
        return web.json_response(answer, headers=self._usage_headers(page, app))

    @route("POST", "/{page_id}/videos")
    async def videos(self, request: web.Request) -> web.Response:
        """One phase of a resumable video upload: start, transfer a chunk, or finish (publishes)."""
        read = await _read_file_request(request, "video_file_chunk", cap=1 << 40)
        if read is None:
            return self._respond(graph_error("(#100) Invalid parameter", 100), 400)
        body, chunk, _type, _size = read
        params = {**request.query, **body}
        account = self._page_caller(params, request)
        if isinstance(account, web.Response):
            return account
        page_id = account
        phase = params.get("upload_phase")
        if phase not in ("start", "transfer", "finish"):
            return self._respond(
                graph_error("(#100) upload_phase must be start, transfer or finish", 100), 400
            )
        # Only finishing publishes: the faults that lose a created post are left for it.
        modes = MODES if phase == "finish" else BEFORE_CREATE_MODES
        posting = await Posting.start(request, self, _NETWORK, account, modes=modes)
        if isinstance(posting, web.Response):
            return posting
        page, app, throttled = self._windows(posting)
        if throttled is not None:
            return throttled
        if phase == "start":
            return self._start_upload(request, page_id, params, page)
        upload = self._uploads.get(str(params.get("upload_session_id", "")))
        if upload is None or upload.page_id != page_id:
            return self._respond(graph_error("(#100) Invalid upload_session_id", 100), 400, page)
        if phase == "transfer":
            return self._transfer(upload, params, chunk, page)
        return await self._finish(request, posting, upload, params, page, app)

    def _start_upload(
        self, request: web.Request, page_id: str, params: dict[str, Any], page: RateState
    ) -> web.Response:
        size = str(params.get("file_size", ""))
        if not size.isdigit() or int(size) == 0:
            return self._respond(
                graph_error("(#100) file_size must be a positive number of bytes", 100), 400, page
            )
        video_id = str(request.app[MINT].next_id("facebook-video", shift=12))
        session_id = str(request.app[MINT].next_id("facebook-upload", shift=12))
        self._uploads[session_id] = _VideoUpload(page_id, video_id, int(size))
        answer = {"video_id": video_id, "upload_session_id": session_id, **self._offsets(0, int(size))}
        return self._respond(answer, 200, page)

    @staticmethod
    def _offsets(start: int, size: int) -> dict[str, str]:
        return {"start_offset": str(start), "end_offset": str(min(start + _VIDEO_CHUNK, size))}

    def _transfer(
        self, upload: _VideoUpload, params: dict[str, Any], chunk: bytes | None, page: RateState
    ) -> web.Response:
        offset = str(params.get("start_offset", ""))
        if chunk is None or not offset.isdigit() or int(offset) != len(upload.received) or upload.published:
            message = "(#6001) There was a problem uploading your video. Please try uploading it again."
            return self._respond(graph_error(message, 6001), 400, page)
        upload.received += chunk[: upload.size - len(upload.received)]
        return self._respond(self._offsets(len(upload.received), upload.size), 200, page)

    async def _finish(
        self,
        request: web.Request,
        posting: Posting,
        upload: _VideoUpload,
        params: dict[str, Any],
        page: RateState,
        app: RateState,
    ) -> web.Response:
        if len(upload.received) < upload.size:
            message = (
                f"(#6001) The upload has {len(upload.received)} of {upload.size} bytes: transfer the rest"
            )
            return self._respond(graph_error(message, 6001), 400, page)
        if not upload.published:  # finishing again answers the same, and publishes nothing more
            upload.published = True
            data = bytes(upload.received)
            item = posting.add_media(media_id=upload.video_id, data=data, content_type="video/mp4")
            request.app[VIDEO_JOBS].start(f"{_NETWORK}:{upload.video_id}", data)
            fields = {k: v for k, v in params.items() if k not in ("access_token", "video_file_chunk")}
            posting.add(
                remote_id=f"{upload.page_id}_{upload.video_id}",
                text=str(params.get("description") or ""),
                body=fields,
                meta={"link": None, "media": [item.public()], "video_id": upload.video_id},
            )
            await posting.created()
        return web.json_response({"success": True}, headers=self._usage_headers(page, app))

    def _video_status(self, request: web.Request, video_id: str) -> dict[str, Any]:
        jobs = request.app[VIDEO_JOBS]
        key = f"{_NETWORK}:{video_id}"
        state = jobs.state(key) or "processing"
        status: dict[str, Any] = {
            "video_status": {"processing": "processing", "ready": "ready", "failed": "error"}[state],
            "processing_phase": {
                "status": {"processing": "in_progress", "ready": "complete", "failed": "error"}[state]
            },
        }
        if state == "failed":
            status["processing_phase"]["errors"] = [{"code": 1363008, "message": jobs.failure(key)}]
        return status

    def _unprocessed_video(self, request: web.Request, post: Post) -> bool:
        """A video post still processing or failed: not on the feed (the page's videos list it)."""
        video_id = post.meta.get("video_id")
        return bool(video_id) and request.app[VIDEO_JOBS].state(f"{_NETWORK}:{video_id}") != "ready"

    @route("GET", "/{page_id}/videos")
    async def page_videos(self, request: web.Request) -> web.Response:
        """The page's videos, newest first, with their processing status."""
        account = self._page_caller(dict(request.query), request)
        if isinstance(account, web.Response):
            return account
        page_id = account
        videos = [
            {
                "id": post.meta["video_id"],
                "description": post.text,
                "created_time": _created_time(post),
                "permalink_url": f"/{page_id}/videos/{post.meta['video_id']}/",
                "status": self._video_status(request, post.meta["video_id"]),
            }
            for post in _page_posts(request, page_id)
            if post.meta.get("video_id")
        ]
        return self._respond({"data": videos, "paging": {}}, 200)

    @staticmethod
    def _view(post: Post) -> dict[str, Any]:
        view = {"id": post.remote_id, "message": post.text, "created_time": _created_time(post)}
        if post.meta.get("link"):
            view["link"] = post.meta["link"]
        return view

    @route("GET", "/{page_id}/feed")
    async def feed(self, request: web.Request) -> web.Response:
        account = self._page_caller(dict(request.query), request)
        if isinstance(account, web.Response):
            return account
        page_id = account
        posts = [post for post in _page_posts(request, page_id) if not self._unprocessed_video(request, post)]
        since = request.query.get("since", "")
        if since.isdigit():
            posts = [p for p in posts if _received(p) >= int(since)]
        limit = int(request.query["limit"]) if request.query.get("limit", "").isdigit() else 25
        return self._respond({"data": [self._view(post) for post in posts[:limit]], "paging": {}}, 200)

    @route("GET", f"/{_POST_ID}")
    async def read(self, request: web.Request) -> web.Response:
        account = self._caller(dict(request.query), request)
        if isinstance(account, web.Response):
            return account
        post_id = request.match_info["post_id"]
        comment = request.app[AUDIENCE].get(_NETWORK, post_id)
        if comment is not None and comment.kind == "comment" and comment.account == account:
            return self._respond(self._comment_view(comment), 200)
        counts = self._counts_asked(request)
        page: RateState | None = None
        if counts:
            read = await self._engagement_read(request, account)
            if isinstance(read, web.Response):
                return read
            page = read
        post = request.app[STORE].by_remote_id(_NETWORK, post_id)
        if post is None or post.account != account or post.meta.get("answers"):
            return self._missing(post_id, "get")
        figures = figures_of(post)
        view = self._view(post)
        if "reactions" in counts:
            view["reactions"] = {
                "data": [],
                "summary": {"total_count": figures["likes"], "viewer_reaction": "NONE"},
            }
        if "comments" in counts:
            view["comments"] = {"data": [], "summary": {"order": "ranked", "total_count": figures["replies"]}}
        if "shares" in counts and figures["shares"]:
            view["shares"] = {"count": figures["shares"]}
        return self._respond(view, 200, page)

    @staticmethod
    def _counts_asked(request: web.Request) -> set[str]:
        """The Post node's figures that `fields` asks for (`reactions.summary(total_count)`…)."""
        names = {
            match.group(0)
            for field in request.query.get("fields", "").split(",")
            if (match := _FIELD_NAME.match(field.strip()))
        }
        return names & {"reactions", "comments", "shares"}

    async def _engagement_read(self, request: web.Request, account: str) -> RateState | web.Response:
        """A read of figures: the fault armed for it, or its count in the page's window."""
        if (replaced := await read_fault(request, self, _NETWORK, account, on="read_engagement")) is not None:
            return replaced
        page = request.app[RATES].hit(f"{_NETWORK}:{account}", limit=_PAGE_LIMIT[0], window=_PAGE_LIMIT[1])
        return self.rate_limited(page) if page.exceeded else page

    @route("GET", f"/{_POST_ID}/insights")
    async def post_insights(self, request: web.Request) -> web.Response:
        """Page Insights of one of the page's posts: its lifetime views."""
        account = self._caller(dict(request.query), request)
        if isinstance(account, web.Response):
            return account
        page = await self._engagement_read(request, account)
        if isinstance(page, web.Response):
            return page
        post_id = request.match_info["post_id"]
        post = request.app[STORE].by_remote_id(_NETWORK, post_id)
        if post is None or post.account != account or post.meta.get("answers"):
            return self._missing(post_id, "get")
        names = asked_metrics(request, _POST_METRICS)
        if isinstance(names, web.Response):
            return names
        views = figures_of(post)["views"]
        values = {"post_media_view": views, "post_total_media_view_unique": views}
        return self._respond(
            insights(post_id, {name: values[name] for name in names}, _POST_METRICS), 200, page
        )

    @staticmethod
    def _comment_view(comment: Written) -> dict[str, Any]:
        """A person's comment as the Comment node shows it: a reply names its `parent` and cannot
        be replied to (`can_comment`), a first comment can."""
        view: dict[str, Any] = {
            "id": comment.item_id,
            "message": comment.text,
            "from": {"id": comment.author_id, "name": comment.author_name},
            "created_time": datetime.fromtimestamp(comment.created, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "can_comment": comment.parent_id is None,
            "is_hidden": comment.hidden,
        }
        if comment.parent_id is not None:
            view["parent"] = {"id": comment.parent_id}
        return view

    @route("POST", f"/{_POST_ID}")
    async def update(self, request: web.Request) -> web.Response:
        """Graph API › Comment › "Updating": `is_hidden` hides the comment from the public (only
        `is_hidden` is emulated: editing a person's `message` is not the page's to do)."""
        called = await self._write_call(request, self._caller)
        if isinstance(called, web.Response):
            return called
        params, account = called
        comment_id = request.match_info["post_id"]
        comment = request.app[AUDIENCE].get(_NETWORK, comment_id)
        if comment is None or comment.kind != "comment" or comment.account != account:
            return self._missing(comment_id, "post")
        hidden = str(params.get("is_hidden", "")).lower()
        if hidden not in ("true", "false"):
            return self._respond(graph_error("(#100) Param is_hidden must be a boolean", 100), 400)
        posting = await Posting.start(request, self, _NETWORK, account)
        if isinstance(posting, web.Response):
            return posting
        page, app, throttled = self._windows(posting)
        if throttled is not None:
            return throttled
        request.app[AUDIENCE].set_hidden(_NETWORK, comment_id, hidden == "true")
        await posting.created()
        return web.json_response({"success": True}, headers=self._usage_headers(page, app))

    async def _write_call(
        self, request: web.Request, caller: Callable[[dict[str, Any], web.Request], str | web.Response]
    ) -> tuple[dict[str, Any], str] | web.Response:
        """A write's parameters (query and form together) and the account its token names, or the
        Graph error that answers it instead."""
        body = await read_params(request)
        if body is None:
            return self._respond(graph_error("(#100) Invalid parameter", 100), 400)
        params = {**request.query, **body}
        account = caller(params, request)
        if isinstance(account, web.Response):
            return account
        return params, account

    # Answering people (issue #15): comment replies and Messenger's Send API.
    def _missing(self, object_id: str, verb: str) -> web.Response:
        message = (
            f"Unsupported {verb} request. Object with ID '{object_id}' does not exist, cannot be loaded "
            "due to missing permissions, or does not support this operation."
        )
        return self._respond(graph_error(message, 100, subcode=33, kind="GraphMethodException"), 400)

    @route("POST", "/{comment_id}/comments")
    async def reply(self, request: web.Request) -> web.Response:
        """Graph API › Comments › Publishing: the page answers a comment on its post."""
        called = await self._write_call(request, self._caller)
        if isinstance(called, web.Response):
            return called
        params, account = called
        comment_id = request.match_info["comment_id"]
        answered = request.app[AUDIENCE].get(_NETWORK, comment_id)
        if answered is None or answered.kind != "comment" or answered.account != account:
            return self._missing(comment_id, "post")
        posting = await Posting.start(request, self, _NETWORK, account)
        if isinstance(posting, web.Response):
            return posting
        page, app, throttled = self._windows(posting)
        if throttled is not None:
            return throttled
        message = params.get("message")
        if not isinstance(message, str) or not message.strip():
            return self._respond(graph_error("(#100) Missing message or attachment", 100), 400, page)
        if len(message) > _MAX_MESSAGE:
            text = f"(#100) Param message must be a string of at most {_MAX_MESSAGE} characters"
            return self._respond(graph_error(text, 100), 400, page)
        if answered.parent_id is not None:
            # Comments are two levels deep: a reply's `can_comment` is false; answer its parent. (U: the
            # exact refusal is not documented; this emulator answers with the Graph's code 100.)
            text = "(#100) This comment is a reply and cannot be replied to: reply to its parent comment"
            return self._respond(graph_error(text, 100), 400, page)
        parent = comment_id
        reply_id = item_id_for(request.app[MINT], _NETWORK, "comment", answered.root_id)
        fields = {key: value for key, value in params.items() if key != "access_token"}
        posting.add(remote_id=reply_id, text=message, body=fields, reply_to=parent, meta={"answers": parent})
        await posting.created()
        return web.json_response({"id": reply_id}, headers=self._usage_headers(page, app))

    @route("GET", "/{comment_id}/comments")
    async def replies(self, request: web.Request) -> web.Response:
        """Graph API › Comment › Edges › "comments": a comment's replies, oldest first
        (`order=chronological`), each with `from` (the page's own say the page's id)."""
        account = self._caller(dict(request.query), request)
        if isinstance(account, web.Response):
            return account
        comment_id = request.match_info["comment_id"]
        answered = request.app[AUDIENCE].get(_NETWORK, comment_id)
        if answered is None or answered.kind != "comment" or answered.account != account:
            return self._missing(comment_id, "get")
        parent = comment_id  # a reply has no replies of its own (two levels deep)
        people = [
            (item.created, item.item_id, item.text, {"id": item.author_id, "name": item.author_name})
            for item in request.app[AUDIENCE].answers(_NETWORK, parent)
        ]
        pages = [
            (_received(post), post.remote_id, post.text, {"id": account, "name": account})
            for post in request.app[STORE].posts(network=_NETWORK, account=account)
            if post.meta.get("answers") == parent
        ]
        data = [
            {
                "id": ident,
                "message": text,
                "from": author,
                "created_time": datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            }
            for moment, ident, text, author in sorted(people + pages)
        ]
        limit = int(request.query["limit"]) if request.query.get("limit", "").isdigit() else 25
        return self._respond({"data": data[:limit], "paging": {}}, 200)

    @route("POST", "/{page_id}/messages")
    async def send_message(self, request: web.Request) -> web.Response:
        """Messenger Platform › Send API: the page answers a person (`recipient.id`, the PSID) with
        `messaging_type: RESPONSE` (or UPDATE) within 24 hours of the person's last message
        ("Messaging window"); later it is error 10, subcode 2018278."""
        called = await self._write_call(request, self._page_caller)
        if isinstance(called, web.Response):
            return called
        params, account = called
        posting = await Posting.start(request, self, _NETWORK, account)
        if isinstance(posting, web.Response):
            return posting
        page, app, throttled = self._windows(posting)
        if throttled is not None:
            return throttled
        recipient, message = _json_field(params, "recipient"), _json_field(params, "message")
        psid, text = str(recipient.get("id") or ""), message.get("text")
        if params.get("messaging_type") not in ("RESPONSE", "UPDATE"):
            text_error = "(#100) messaging_type must be RESPONSE or UPDATE (message tags are not emulated)"
            return self._respond(graph_error(text_error, 100), 400, page)
        if not isinstance(text, str) or not text.strip() or len(text) > _MAX_SENT_TEXT:
            text_error = f"(#100) message.text must be a non-empty string of at most {_MAX_SENT_TEXT} chars"
            return self._respond(graph_error(text_error, 100), 400, page)
        last = request.app[AUDIENCE].last_message(_NETWORK, account, psid)
        if last is None:
            unknown = graph_error("(#100) No matching user found", 100, subcode=2018001)
            return self._respond(unknown, 400, page)
        if time.time() - last > _MESSAGING_WINDOW:
            outside = "(#10) This message is sent outside of allowed window."
            return self._respond(graph_error(outside, 10, subcode=2018278), 400, page)
        message_id = item_id_for(request.app[MINT], _NETWORK, "message", psid)
        fields = {key: value for key, value in params.items() if key != "access_token"}
        posting.add(remote_id=message_id, text=text, body=fields, meta={"answers": psid})
        await posting.created()
        answer = {"recipient_id": psid, "message_id": message_id}
        return web.json_response(answer, headers=self._usage_headers(page, app))


def _json_field(params: dict[str, Any], name: str) -> dict[str, Any]:
    """A Send API object given as JSON (a JSON body) or as a JSON-encoded form field."""
    value = params.get(name)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return {}
    return value if isinstance(value, dict) else {}


def add_routes(app: web.Application) -> None:
    """Register last: these catch-all patterns would shadow the other emulators' paths."""
    add_api(app, FacebookApi(), prefixes=(f"/{_VERSION}", ""))
