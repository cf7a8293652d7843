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
- The 63,206-character message cap is folklore, not documentation (design/network-rules.md).
"""

from __future__ import annotations

import json
import math
import re
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, web

from .common import MINT, RateState, bearer_token, check_token, read_params
from .graph import graph_error
from .posting import BEFORE_CREATE_MODES, Posting
from .store import STORE, MediaItem, Post

__all__ = ["FacebookApi", "add_routes"]

_NETWORK = "facebook"
_PAGE_LIMIT = (4800, 24 * 3600)
_APP_LIMIT = (20000, 3600)
_MAX_MESSAGE = 63206
_LINK = re.compile(r"https?://[^\s/$.?#][^\s]*", re.IGNORECASE)
_VERSION = r"{version:v\d+\.\d+}"
_POST_ID = r"{post_id:[A-Za-z0-9_.-]+_\d+}"
_MAX_PHOTO = 4 * 1024 * 1024
_ATTACHED = re.compile(r"attached_media\[(\d+)\]")
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*", b"BM")


def _is_image(data: bytes) -> bool:
    return data.startswith(_IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


async def _read_photo_request(request: web.Request) -> tuple[dict[str, Any], bytes | None, str, int] | None:
    """The fields, the `source` file (bytes kept up to the size limit, its type and full size).

    None when the body is unreadable. Read as a stream, past the app's body limit: a refused photo
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
        if part.name != "source":
            fields[str(part.name)] = await part.text()
            continue
        kept: list[bytes] = []
        while chunk := await part.read_chunk():
            size += len(chunk)
            if size <= _MAX_PHOTO:
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


def _received(post: Post) -> float:
    return datetime.strptime(post.received_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def _created_time(post: Post) -> str:
    moment = datetime.strptime(post.received_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


class FacebookApi:
    """The Facebook emulator's handlers; also its fault dialect."""

    rate_limit = _PAGE_LIMIT

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

    def _denied(self) -> web.Response:
        message = (
            "(#200) If posting to a page, requires both pages_read_engagement and pages_manage_posts "
            "as an admin with sufficient administrative permission"
        )
        return self._respond(graph_error(message, 200), 403)

    async def create(self, request: web.Request) -> web.Response:
        body = await read_params(request)
        if body is None:
            return self._respond(graph_error("(#100) Invalid parameter", 100), 400)
        params = {**request.query, **body}
        account = self._caller(params, request)
        if isinstance(account, web.Response):
            return account
        page_id = request.match_info["page_id"]
        if account != page_id:
            return self._denied()
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
        store = request.app[STORE]
        latest = store.latest(_NETWORK, page_id)
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

    async def photos(self, request: web.Request) -> web.Response:
        """Upload a photo to the page, published at once or kept for a later feed post."""
        read = await _read_photo_request(request)
        if read is None:
            return self._respond(graph_error("(#100) Invalid parameter", 100), 400)
        body, source, content_type, size = read
        params = {**request.query, **body}
        account = self._caller(params, request)
        if isinstance(account, web.Response):
            return account
        page_id = request.match_info["page_id"]
        if account != page_id:
            return self._denied()
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

    @staticmethod
    def _view(post: Post) -> dict[str, Any]:
        view = {"id": post.remote_id, "message": post.text, "created_time": _created_time(post)}
        if post.meta.get("link"):
            view["link"] = post.meta["link"]
        return view

    async def feed(self, request: web.Request) -> web.Response:
        account = self._caller(dict(request.query), request)
        if isinstance(account, web.Response):
            return account
        page_id = request.match_info["page_id"]
        if account != page_id:
            return self._denied()
        posts = list(reversed(request.app[STORE].posts(network=_NETWORK, account=page_id)))
        since = request.query.get("since", "")
        if since.isdigit():
            posts = [p for p in posts if _received(p) >= int(since)]
        limit = int(request.query["limit"]) if request.query.get("limit", "").isdigit() else 25
        return self._respond({"data": [self._view(post) for post in posts[:limit]], "paging": {}}, 200)

    async def read(self, request: web.Request) -> web.Response:
        account = self._caller(dict(request.query), request)
        if isinstance(account, web.Response):
            return account
        post_id = request.match_info["post_id"]
        post = request.app[STORE].by_remote_id(_NETWORK, post_id)
        if post is None or post.account != account:
            message = (
                f"Unsupported get request. Object with ID '{post_id}' does not exist, cannot be loaded "
                "due to missing permissions, or does not support this operation."
            )
            return self._respond(graph_error(message, 100, subcode=33, kind="GraphMethodException"), 400)
        return self._respond(self._view(post), 200)


def add_routes(app: web.Application) -> None:
    """Register last: these catch-all patterns would shadow the other emulators' paths."""
    api = FacebookApi()
    for prefix in (f"/{_VERSION}", ""):
        app.router.add_post(prefix + "/{page_id}/feed", api.create)
        app.router.add_post(prefix + "/{page_id}/photos", api.photos)
        app.router.add_get(prefix + "/{page_id}/feed", api.feed)
        app.router.add_get(prefix + f"/{_POST_ID}", api.read)
