"""Mastodon API emulator: statuses, media attachments, credentials and instance configuration.

Follows these documentation sections (docs.joinmastodon.org):
- Methods › statuses › "Post a new status" (`POST /api/v1/statuses`): form or JSON parameters
  `status`, `in_reply_to_id`, `spoiler_text`, `visibility`, `sensitive`, `language`; the
  `Idempotency-Key` header; answer 200 with a Status entity.
- Methods › media › "Upload media as an attachment (async)" (`POST /api/v2/media`, multipart
  `file`, `description`): 200 with a MediaAttachment for images (processed at once), 202 with
  `url: null` for video, GIFs and audio (processed in the background, 0.5 s here); 401, 422
  "Validation failed: File content type is invalid" or "... file size must be less than ...";
  "Get media attachment" (`GET /api/v1/media/:id`): 206 with an empty body while processing, 200
  once done, 404 "Record not found" for another account's. Entities › MediaAttachment
  (`description` ≤ 1500 characters). User › "Posting" › Attachments: images ≤ 16 MB, videos
  ≤ 99 MB; JPEG, PNG, GIF, WebP, HEIC, AVIF, MP4, WebM, MOV, OGG and common audio.
- "Post a new status" with `media_ids[]` (JSON `media_ids`): at most 4; 422 "Media … not found or
  already attached to another post", "Cannot attach files that have not finished processing. Try
  again in a moment!", "Cannot attach a video to a post that already contains images"; a status
  with media may have no text.
- API › "Guidelines and best practices": idempotency keys are kept for up to one hour, per account.
- Entities › Status, Account and Error (`{"error": "..."}`); 401 for an invalid or revoked token,
  422 "Validation failed: ...", 404 "Record not found", 429 "Too many requests".
- API › "Rate limits": `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (ISO 8601)
  on every response; 300 requests per 5 minutes per account, and media uploads 30 per 30 minutes.
- Methods › statuses › "Get parent and child statuses in context"
  (`GET /api/v1/statuses/:id/context`): `ancestors` and `descendants`, each oldest first; 404
  "Record not found" for a status the instance does not know. A reply (`in_reply_to_id`) may answer
  any status the instance knows, the account's own or one people sent it; 404 otherwise.
- Methods › statuses › "View a single status" (`GET /api/v1/statuses/:id`, scope `read:statuses`):
  Entities › Status `favourites_count`, `reblogs_count`, `replies_count` are the post's figures set
  by `/_sandbox/engagement` (Mastodon counts no views); called with the page's token it spends the
  account's 300 per 5 minutes, and faults armed with `on: read_engagement` apply here alone; 404
  "Record not found" for a deleted status. Methods › accounts › "Verify account credentials"
  and "Get account's statuses" (`GET /api/v1/accounts/:id/statuses`, `limit` ≤ 40, `max_id`,
  newest first);
  Methods › instance › "View server information" (`configuration.statuses`).
- Methods › notifications › "Get all notifications" (`GET /api/v1/notifications`, scope
  `read:notifications`): `types[]` / `exclude_types[]`, `max_id`, `since_id`, `min_id`, `limit`
  (default 40, at most 80); newest first; a `Link` header with `rel="next"` (`max_id` of the oldest
  one shown) and `rel="prev"` (`min_id` of the newest). Entities › Notification (`id`, `type`,
  `created_at`, `account`, `status`). API › "Paginating through API responses": `min_id` gives
  the page immediately newer than it (the oldest `limit` newer items, still shown newest first),
  `since_id` the newest `limit` ones. Ids are compared, never looked up: a `min_id` naming a
  notification deleted since still means "newer than this id", so Mastodon has no expired cursor
  (and an empty list only says nothing newer came). The items are the incoming traffic the sandbox
  generates (`incoming.py`); faults armed with `on: read_comments` apply here, and nowhere else.
  A private message is a status with `visibility: direct` notified as a `mention`, as Mastodon
  notifies the accounts a direct status names (User › "Posting": "Direct message").
- User › "Posting" and mastodon's `StatusLengthValidator`: 500 characters counted in grapheme
  clusters over content warning plus text; URLs with a scheme count 23; `@user@domain` counts as
  `@user`.
- Sandbox control (services/sandbox/clock.py): `POST /_sandbox/clock/replies` dates the status
  answering a given id with a given time (`created_at`), for replays of a year at compressed time.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

import regex
from aiohttp import BodyPartReader, web

from .clock import reply_date
from .common import MINT, RATES, RateState, bearer_token, check_token, iso_millis, read_params
from .engagement import figures_of
from .faults import read_fault
from .posting import UPLOAD_MODES, Posting
from .routes import add_api, route
from .store import STORE, IncomingItem, MediaItem, Post

__all__ = ["MastodonApi", "add_routes", "incoming_ids", "status_length"]

_NETWORK = "mastodon"
_LIMIT = (300, 5 * 60)
_MAX_CHARACTERS = 500
_URL_CHARACTERS = 23
_IDEMPOTENCY_WINDOW = timedelta(hours=1)
_VISIBILITIES = ("public", "unlisted", "private", "direct")
_GRAPHEME = regex.compile(r"\X")
_URL = regex.compile(r"(?<=^|\s)https?://\S+")
_REMOTE_MENTION = regex.compile(r"(?<=^|\s)@(\w+)@([\w.-]+\w)")
_MEDIA_LIMIT = (30, 30 * 60)
_IMAGE_LIMIT = 16 * 1024 * 1024
_VIDEO_LIMIT = 99 * 1024 * 1024
_MAX_ATTACHMENTS = 4
_MAX_DESCRIPTION = 1500
_NOTIFICATIONS_DEFAULT, _NOTIFICATIONS_MAX = 40, 80
_PROCESSING_SECONDS = 0.5
_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif", "image/avif"})
_LARGER_TYPES = {  # processed in the background, answered 202
    "image/gif": "gifv",
    "video/mp4": "video",
    "video/webm": "video",
    "video/quicktime": "video",
    "video/ogg": "video",
    "audio/mpeg": "audio",
    "audio/ogg": "audio",
    "audio/wav": "audio",
    "audio/flac": "audio",
    "audio/mp4": "audio",
}


def _graphemes(text: str) -> int:
    return len(_GRAPHEME.findall(text))


def status_length(text: str, spoiler_text: str = "") -> int:
    """Characters as Mastodon's StatusLengthValidator counts them."""

    def url(match: regex.Match[str]) -> str:
        return "x" * _URL_CHARACTERS if len(match.group()) <= 4096 else match.group()

    def mention(match: regex.Match[str]) -> str:
        return f"@{match.group(1)}" if len(match.group(2)) <= 253 else match.group()

    countable = _REMOTE_MENTION.sub(mention, _URL.sub(url, text))
    return _graphemes(countable) + _graphemes(spoiler_text)


def _numeric_id(account: str) -> str:
    return str(int.from_bytes(hashlib.sha256(f"mastodon:{account}".encode()).digest()[:6], "big"))


def incoming_ids(app: web.Application, author: str) -> tuple[str, str]:
    """A new notification id and status id: snowflakes from the clock, like the posts' ones."""
    mint = app[MINT]
    return str(mint.next_id("mastodon-notification", shift=16)), str(mint.next_id(_NETWORK, shift=16))


def _id_param(value: str | None) -> int | None:
    """A pagination id as Mastodon compares it (a number; anything else is ignored)."""
    return int(value) if value is not None and value.isdigit() else None


def _attachment_type(content_type: str) -> str:
    return _LARGER_TYPES.get(content_type, "image")


async def _file_part(request: web.Request, cap: int) -> tuple[dict[str, str], tuple[bytes, int, str] | None]:
    """Text fields and the `file` part (first `cap` bytes, full size, content type) of a multipart body."""
    fields: dict[str, str] = {}
    upload = None
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or not part.name:
            continue
        if part.filename is None:
            fields[part.name] = await part.text()
        elif part.name == "file":
            kept, size = bytearray(), 0
            while chunk := await part.read_chunk():
                size += len(chunk)
                kept += chunk[: max(cap + 1 - len(kept), 0)]
            upload = (bytes(kept), size, part.headers.get("Content-Type", "application/octet-stream"))
        else:
            await part.release()
    return fields, upload


def _truthy(value: object) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1", "on"))


class MastodonApi:
    """The Mastodon emulator's handlers; also its fault dialect."""

    rate_limit = _LIMIT

    def __init__(self) -> None:
        self._ready_at: dict[str, float] = {}  # media still processing in the background

    @staticmethod
    def _headers(state: RateState) -> dict[str, str]:
        reset = datetime.fromtimestamp(state.reset_at, UTC)
        return {
            "X-RateLimit-Limit": str(state.limit),
            "X-RateLimit-Remaining": str(state.remaining),
            "X-RateLimit-Reset": iso_millis(reset),
        }

    def _respond(self, body: dict[str, Any], status: int, state: RateState | None = None) -> web.Response:
        if state is None:
            state = RateState(_LIMIT[0], _LIMIT[0], time.time() + _LIMIT[1], _LIMIT[1])
        return web.json_response(body, status=status, headers=self._headers(state))

    def _error(self, status: int, message: str, state: RateState | None = None) -> web.Response:
        return self._respond({"error": message}, status, state)

    # Dialect: how Mastodon answers each fault mode.
    def server_error(self) -> web.Response:
        return self._error(503, "Service Unavailable")

    def rate_limited(self, state: RateState) -> web.Response:
        return self._error(429, "Too many requests", state)

    def expired_token(self) -> web.Response:
        # Mastodon tokens do not expire by default: they die by being revoked.
        return self._error(401, "The access token was revoked")

    def blocked(self) -> web.Response:
        return self._error(403, "Your login is currently disabled")

    def invalid_content(self) -> web.Response:
        return self._error(422, f"Validation failed: Text character limit of {_MAX_CHARACTERS} exceeded")

    def _account(self, request: web.Request, account: str) -> dict[str, Any]:
        base = f"{request.scheme}://{request.host}"
        return {
            "id": _numeric_id(account),
            "username": account,
            "acct": account,
            "display_name": account,
            "locked": False,
            "bot": False,
            "url": f"{base}/@{account}",
            "note": "",
            "avatar": f"{base}/avatars/original/missing.png",
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": len(request.app[STORE].posts(network=_NETWORK, account=account)),
        }

    def _status(self, request: web.Request, post: Post) -> dict[str, Any]:
        base = f"{request.scheme}://{request.host}"
        figures = figures_of(post)
        paragraphs = escape(post.text).replace("\n", "<br />")
        return {
            "id": post.remote_id,
            "created_at": post.received_at[:23] + "Z",
            "in_reply_to_id": post.reply_to,
            "in_reply_to_account_id": _numeric_id(post.account) if post.reply_to else None,
            "sensitive": bool(post.meta.get("sensitive")),
            "spoiler_text": post.meta.get("spoiler_text", ""),
            "visibility": post.meta.get("visibility", "public"),
            "language": post.meta.get("language"),
            "uri": f"{base}/users/{post.account}/statuses/{post.remote_id}",
            "url": f"{base}/@{post.account}/{post.remote_id}",
            "replies_count": figures["replies"],
            "reblogs_count": figures["shares"],
            "favourites_count": figures["likes"],
            "content": f"<p>{paragraphs}</p>",
            "reblog": None,
            "account": self._account(request, post.account),
            "media_attachments": [
                self._attachment(request, item["id"], item["content_type"], item["alt"])
                for item in post.meta.get("media", [])
            ],
            "mentions": [],
            "tags": [],
            "emojis": [],
            "card": None,
            "poll": None,
        }

    def _caller(self, request: web.Request) -> tuple[str | None, web.Response | None]:
        caller = check_token(bearer_token(request), _NETWORK)
        if caller.account is not None:
            return caller.account, None
        if caller.problem == "expired":
            return None, self.expired_token()
        return None, self._error(401, "The access token is invalid")

    @route("POST", "/api/v1/statuses")
    async def create(self, request: web.Request) -> web.Response:
        account, refused = self._caller(request)
        if account is None:
            return refused or self._error(401, "The access token is invalid")
        posting = await Posting.start(request, self, _NETWORK, account)
        if isinstance(posting, web.Response):
            return posting
        state, throttled = posting.window(account, _LIMIT)
        if throttled is not None:
            return throttled
        store = request.app[STORE]
        key = request.headers.get("Idempotency-Key") or None
        if key is not None:
            since = datetime.now(UTC) - _IDEMPOTENCY_WINDOW
            if (earlier := store.by_idempotency_key(_NETWORK, account, key, since=since)) is not None:
                return self._respond(self._status(request, earlier), 200, state)
        params = await read_params(request)
        if params is None:
            return self._error(400, "Request body must be a form or a JSON object", state)
        text, spoiler = params.get("status", ""), params.get("spoiler_text", "")
        if not isinstance(text, str) or not isinstance(spoiler, str):
            return self._error(422, "Validation failed: Text must be a string", state)
        media_ids = params.get("media_ids", params.get("media_ids[]")) or []
        media_ids = [media_ids] if isinstance(media_ids, str | int) else media_ids
        if not isinstance(media_ids, list):
            return self._error(422, "Validation failed: media_ids must be a list", state)
        if not text.strip() and not media_ids:
            return self._error(422, "Validation failed: Text can't be blank", state)
        if status_length(text, spoiler) > _MAX_CHARACTERS:
            return self._error(
                422, f"Validation failed: Text character limit of {_MAX_CHARACTERS} exceeded", state
            )
        visibility = params.get("visibility") or "public"
        if visibility not in _VISIBILITIES:
            return self._error(422, "Validation failed: Visibility is not included in the list", state)
        reply_to = params.get("in_reply_to_id") or None
        if reply_to is not None:
            reply_to = str(reply_to)
            # Any status the instance knows: the account's own, or one people sent it (a reply).
            if (
                store.by_remote_id(_NETWORK, reply_to) is None
                and store.incoming_item(_NETWORK, reply_to) is None
            ):
                return self._error(404, "Record not found", state)
        items = self._attachable(request, account, [str(i) for i in media_ids])
        if isinstance(items, str):
            return self._error(422, items, state)
        meta = {
            "media": [item.public() for item in items],
            "spoiler_text": spoiler,
            "visibility": visibility,
            "sensitive": _truthy(params.get("sensitive")),
            "language": params.get("language") if isinstance(params.get("language"), str) else None,
        }
        status_id = str(request.app[MINT].next_id("mastodon", shift=16))
        post = posting.add(
            remote_id=status_id,
            text=text,
            body=params,
            idempotency_key=key,
            reply_to=reply_to,
            meta=meta,
            received_at=reply_date(request.app, _NETWORK, reply_to),  # sandbox's scripted clock
        )
        await posting.created()
        return self._respond(self._status(request, post), 200, state)

    def _attachable(self, request: web.Request, account: str, ids: list[str]) -> list[MediaItem] | str:
        """The uploads a status attaches, or Mastodon's words for why it cannot."""
        if not ids:
            return []
        if len(ids) > _MAX_ATTACHMENTS:
            return f"Cannot attach more than {_MAX_ATTACHMENTS} files"
        store = request.app[STORE]
        attached = {
            item["id"]
            for post in store.posts(network=_NETWORK, account=account)
            for item in post.meta.get("media", [])
        }
        items = store.attachable(_NETWORK, account, ids)
        if items is None or attached & set(ids):
            missing = [i for i in ids if i in attached or store.attachable(_NETWORK, account, [i]) is None]
            return f"Media {', '.join(missing)} not found or already attached to another post"
        if len(items) > 1 and any(
            _attachment_type(item.content_type) in ("video", "audio") for item in items
        ):
            return "Cannot attach a video to a post that already contains images"
        if any(time.time() < self._ready_at.get(item.id, 0) for item in items):
            return "Cannot attach files that have not finished processing. Try again in a moment!"
        return items

    def _attachment(
        self, request: web.Request, media_id: str, content_type: str, description: str | None
    ) -> dict[str, Any]:
        base = f"{request.scheme}://{request.host}"
        processing = time.time() < self._ready_at.get(media_id, 0)
        path = f"{base}/system/media_attachments/files/{media_id}"
        return {
            "id": media_id,
            "type": _attachment_type(content_type),
            "url": None if processing else f"{path}/original/{media_id}",
            "preview_url": f"{path}/small/{media_id}",
            "remote_url": None,
            "meta": {},
            "description": description,
            "blurhash": None,
        }

    @route("POST", "/api/v2/media")
    async def upload(self, request: web.Request) -> web.Response:
        account, refused = self._caller(request)
        if account is None:
            return refused or self._error(401, "The access token is invalid")
        posting = await Posting.start(request, self, _NETWORK, account, modes=UPLOAD_MODES)
        if isinstance(posting, web.Response):
            return posting
        state, throttled = posting.window(f"{account}:media", _MEDIA_LIMIT)
        if throttled is not None:
            return throttled
        if request.content_type != "multipart/form-data":
            return self._error(422, "Validation failed: File can't be blank", state)
        fields, upload = await _file_part(request, _VIDEO_LIMIT)
        if upload is None:
            return self._error(422, "Validation failed: File can't be blank", state)
        data, size, content_type = upload
        if content_type not in _IMAGE_TYPES and content_type not in _LARGER_TYPES:
            return self._error(422, "Validation failed: File content type is invalid, File is invalid", state)
        cap = _IMAGE_LIMIT if _attachment_type(content_type) == "image" else _VIDEO_LIMIT
        if size > cap:
            limit = f"{cap // (1024 * 1024)} MB"
            return self._error(422, f"Validation failed: File file size must be less than {limit}", state)
        description = fields.get("description") or None
        if description is not None and len(description) > _MAX_DESCRIPTION:
            message = f"Validation failed: Description is too long (maximum is {_MAX_DESCRIPTION} characters)"
            return self._error(422, message, state)
        media_id = str(request.app[MINT].next_id("mastodon-media", shift=16))
        posting.add_media(media_id=media_id, data=data, content_type=content_type, alt=description)
        background = content_type in _LARGER_TYPES
        if background:
            self._ready_at[media_id] = time.time() + _PROCESSING_SECONDS
        body = self._attachment(request, media_id, content_type, description)
        return self._respond(body, 202 if background else 200, state)

    @route("GET", "/api/v1/media/{media_id}")
    async def media(self, request: web.Request) -> web.Response:
        account, refused = self._caller(request)
        if account is None:
            return refused or self._error(401, "The access token is invalid")
        state = request.app[RATES].hit(f"mastodon:{account}", limit=_LIMIT[0], window=_LIMIT[1])
        if state.exceeded:
            return self.rate_limited(state)
        media_id = request.match_info["media_id"]
        item = request.app[STORE].media_item(_NETWORK, media_id)
        if item is None or item.account != account:
            return self._error(404, "Record not found", state)
        if time.time() < self._ready_at.get(media_id, 0):
            return web.Response(status=206, headers=self._headers(state))
        return self._respond(self._attachment(request, media_id, item.content_type, item.alt), 200, state)

    def _remote_account(self, author: str) -> dict[str, Any]:
        """A person on another instance, as an Account entity."""
        return {
            "id": _numeric_id(f"remote:{author}"),
            "username": author,
            "acct": f"{author}@citoyens.example",
            "display_name": author,
            "locked": False,
            "bot": False,
            "url": f"https://citoyens.example/@{author}",
        }

    def _incoming_status(self, request: web.Request, item: IncomingItem) -> dict[str, Any]:
        base = f"{request.scheme}://{request.host}"
        mention = (
            f'<span class="h-card"><a href="{base}/@{escape(item.account)}" class="u-url mention">'
            f"@<span>{escape(item.account)}</span></a></span> "
        )
        replied = request.app[STORE].by_remote_id(_NETWORK, item.reply_to) if item.reply_to else None
        return {
            "id": item.item_id,
            "created_at": item.created_at[:23] + "Z",
            "in_reply_to_id": item.reply_to,
            "in_reply_to_account_id": _numeric_id(replied.account) if replied else None,
            "visibility": "direct" if item.private else "public",
            "uri": f"https://citoyens.example/users/{item.author}/statuses/{item.item_id}",
            "url": f"https://citoyens.example/@{item.author}/{item.item_id}",
            "content": f"<p>{mention}{escape(item.text).replace(chr(10), '<br />')}</p>",
            "account": self._remote_account(item.author),
            "mentions": [{"id": _numeric_id(item.account), "username": item.account, "acct": item.account}],
            "media_attachments": [],
        }

    @route("GET", "/api/v1/notifications")
    async def notifications(self, request: web.Request) -> web.Response:
        account, refused = self._caller(request)
        if account is None:
            return refused or self._error(401, "The access token is invalid")
        if (replaced := await read_fault(request, self, _NETWORK, account)) is not None:
            return replaced
        state = request.app[RATES].hit(f"mastodon:{account}", limit=_LIMIT[0], window=_LIMIT[1])
        if state.exceeded:
            return self.rate_limited(state)
        query = request.query
        types, excluded = query.getall("types[]", []), query.getall("exclude_types[]", [])
        try:
            limit = min(max(int(query.get("limit", _NOTIFICATIONS_DEFAULT)), 1), _NOTIFICATIONS_MAX)
        except ValueError:
            limit = _NOTIFICATIONS_DEFAULT
        # Every item here is a mention (a reply mentions the author it answers, as Mastodon does).
        wanted = (not types or "mention" in types) and "mention" not in excluded
        items = request.app[STORE].incoming(_NETWORK, account) if wanted else []
        max_id, since_id, min_id = (_id_param(query.get(name)) for name in ("max_id", "since_id", "min_id"))
        items = [
            item
            for item in items
            if (max_id is None or int(item.notification_id) < max_id)
            and (since_id is None or int(item.notification_id) > since_id)
            and (min_id is None or int(item.notification_id) > min_id)
        ]
        items.sort(key=lambda item: int(item.notification_id))
        # `min_id`: the page right after it; otherwise the newest page. Newest first either way.
        page = items[:limit] if min_id is not None else items[-limit:]
        page.reverse()
        body = [
            {
                "id": item.notification_id,
                "type": "mention",
                "created_at": item.created_at[:23] + "Z",
                "account": self._remote_account(item.author),
                "status": self._incoming_status(request, item),
            }
            for item in page
        ]
        headers = self._headers(state)
        if page:
            kept = "".join(f"&types[]={kind}" for kind in types)
            url = f"{request.scheme}://{request.host}/api/v1/notifications?limit={limit}{kept}"
            headers["Link"] = (
                f'<{url}&max_id={page[-1].notification_id}>; rel="next", '
                f'<{url}&min_id={page[0].notification_id}>; rel="prev"'
            )
        return web.json_response(body, headers=headers)

    @route("GET", "/api/v1/statuses/{status_id}/context")
    async def context(self, request: web.Request) -> web.Response:
        """A status's thread: its ancestors (oldest first) and its descendants (every status below
        it, the account's own and the ones people sent, oldest first)."""
        account, refused = self._caller(request)
        if account is None:
            return refused or self._error(401, "The access token is invalid")
        store = request.app[STORE]
        status_id = request.match_info["status_id"]
        statuses: dict[str, tuple[str | None, str, dict[str, Any]]] = {}  # id -> (parent, time, status)
        for post in store.posts(network=_NETWORK):
            statuses[post.remote_id] = (post.reply_to, post.received_at, self._status(request, post))
        for item in store.incoming(_NETWORK, account):
            if item.item_id not in statuses:
                statuses[item.item_id] = (
                    item.reply_to,
                    item.created_at,
                    self._incoming_status(request, item),
                )
        if status_id not in statuses:
            return self._error(404, "Record not found")
        ancestors: list[dict[str, Any]] = []
        parent = statuses[status_id][0]
        while parent is not None and parent in statuses and len(ancestors) < len(statuses):
            ancestors.insert(0, statuses[parent][2])
            parent = statuses[parent][0]
        below, frontier = [], {status_id}
        while frontier:
            level = [i for i, (p, _, _) in statuses.items() if p in frontier and i not in below]
            below.extend(level)
            frontier = set(level)
        below.sort(key=lambda i: (statuses[i][1], int(i) if i.isdigit() else 0))
        body = {"ancestors": ancestors, "descendants": [statuses[i][2] for i in below]}
        return web.json_response(body, headers=self._headers(self._fresh_state()))

    @route("GET", "/api/v1/statuses/{status_id}")
    async def read(self, request: web.Request) -> web.Response:
        store, status_id = request.app[STORE], request.match_info["status_id"]
        account = check_token(bearer_token(request), _NETWORK).account
        if account is not None:  # a page's call: its faults and its rate limit (anonymous reads are free)
            if (
                replaced := await read_fault(request, self, _NETWORK, account, on="read_engagement")
            ) is not None:
                return replaced
            state = request.app[RATES].hit(f"mastodon:{account}", limit=_LIMIT[0], window=_LIMIT[1])
            if state.exceeded:
                return self.rate_limited(state)
        if (post := store.by_remote_id(_NETWORK, status_id)) is not None:
            return self._respond(self._status(request, post), 200)
        if (item := store.incoming_item(_NETWORK, status_id)) is not None:  # one people sent
            return self._respond(self._incoming_status(request, item), 200)
        return self._error(404, "Record not found")

    @route("GET", "/api/v1/accounts/{account_id}/statuses")
    async def account_statuses(self, request: web.Request) -> web.Response:
        account, refused = self._caller(request)
        if account is None:
            return refused or self._error(401, "The access token is invalid")
        owner = request.match_info["account_id"]
        posts = [p for p in request.app[STORE].posts(network=_NETWORK) if _numeric_id(p.account) == owner]
        if not posts and owner != _numeric_id(account):
            return self._error(404, "Record not found")
        posts.reverse()
        max_id = request.query.get("max_id")
        if max_id:
            posts = [p for p in posts if int(p.remote_id) < int(max_id)]
        try:
            limit = min(max(int(request.query.get("limit", "20")), 1), 40)
        except ValueError:
            limit = 20
        statuses = [self._status(request, post) for post in posts[:limit]]
        return web.json_response(statuses, headers=self._headers(self._fresh_state()))

    @staticmethod
    def _fresh_state() -> RateState:
        return RateState(_LIMIT[0], _LIMIT[0], time.time() + _LIMIT[1], _LIMIT[1])

    @route("GET", "/api/v1/accounts/verify_credentials")
    async def verify_credentials(self, request: web.Request) -> web.Response:
        account, refused = self._caller(request)
        if account is None:
            return refused or self._error(401, "The access token is invalid")
        return self._respond(self._account(request, account), 200)

    @route("GET", "/api/v2/instance")
    async def instance(self, request: web.Request) -> web.Response:
        configuration = {
            "statuses": {
                "max_characters": _MAX_CHARACTERS,
                "max_media_attachments": 4,
                "characters_reserved_per_url": _URL_CHARACTERS,
            },
            "media_attachments": {"image_size_limit": 16_777_216, "video_size_limit": 103_809_024},
        }
        body = {
            "domain": request.host,
            "title": "Relais sandbox (Mastodon)",
            "version": "4.3.0",
            "description": "An emulator of the Mastodon API for Relais's tests and demo.",
            "configuration": configuration,
            "registrations": {"enabled": False, "approval_required": False, "message": None},
            "rules": [],
        }
        return self._respond(body, 200)


def add_routes(app: web.Application) -> None:
    add_api(app, MastodonApi())
