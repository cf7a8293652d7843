"""X API v2 emulator: posts (`/2/tweets`), `GET /2/users/me` and media uploads (`/2/media/...`).

Follows these documentation sections (docs.x.com):
- X API › Posts › "Create or Edit Post" (`POST /2/tweets`): JSON body `text` and
  `reply.in_reply_to_tweet_id`, `Authorization: Bearer`, answer 201 `{"data": {"id", "text"}}`. A
  reply may answer the account's own posts or the ones people sent it; any other id is 403 "You
  attempted to reply to a Tweet that is deleted or not visible to you.". A reply shows in the
  account's timeline with `referenced_tweets` `replied_to`.
- Fundamentals › "Response codes and errors": error bodies are problems `{title, detail, type,
  status}` (`about:blank` or `https://api.x.com/2/problems/...`); 400 invalid request, 401
  unauthorized, 403 forbidden (including "You are not allowed to create a Tweet with duplicate
  content."), 429 too many requests, 503 service unavailable.
- Fundamentals › "Rate limits": `x-rate-limit-limit`, `x-rate-limit-remaining`,
  `x-rate-limit-reset` (Unix seconds) on every response; `POST /2/tweets` allows 100 requests per
  15 minutes per user, and 10,000 per 24 hours per app (`x-app-limit-24hour-limit`,
  `-remaining`, `-reset` on its answers).
- X API › Posts › Timelines › "User Posts timeline" (`GET /2/users/{id}/tweets`): `max_results`
  (5–100), `start_time`, `pagination_token`, `tweet.fields` (`created_at`, `referenced_tweets`);
  answer `{"data": [...], "meta": {"result_count", "newest_id", "oldest_id", "next_token"}}`,
  newest first. Data dictionary › "Post object" and "Entities": a post with media shows a t.co
  link to them at the end of its `text`, listed in `entities.urls` with its `media_key`, and
  `attachments.media_keys`.
- X API › Media › "Upload media" (`POST /2/media/upload`, multipart `media`, `media_category`
  `tweet_image`, `media_type`: images only), "Initialize media upload" (`POST
  /2/media/upload/initialize`, JSON `media_type`, `total_bytes`, `media_category`), "Append Media
  upload" (`POST /2/media/upload/{id}/append`, multipart `media` and `segment_index` 0–999),
  "Finalize Media upload" (`POST /2/media/upload/{id}/finalize`) and "Get Media upload status"
  (`GET /2/media/upload?command=STATUS&media_id=`): answers `{"data": {"id", "media_key", "size",
  "expires_after_secs", "processing_info"?}}`; `processing_info.state` goes pending → in_progress →
  succeeded | failed (`error: {code, name, message}`), with `check_after_secs` (1 s here).
- X API › Media › "Create Media metadata" (`POST /2/media/metadata`, `{"id", "metadata":
  {"alt_text": {"text"}}}`, alt text ≤ 1000 characters); Media › "Best practices" and "File
  constraints": up to 4 images, or 1 GIF, or 1 video per post; images ≤ 5 MB, GIFs ≤ 15 MB, videos
  ≤ 512 MB. "Create or Edit Post" carries them as `media.media_ids`. Media endpoints share one
  per-user window here (500 requests per 15 minutes, an approximation of the per-endpoint limits).
- X API › Posts › Timelines › "User mention timeline" (`GET /2/users/{id}/mentions`, the page's own
  id): `since_id` (newer posts only), `max_results` (5–100, default 10), `pagination_token`,
  `expansions` (`author_id`, `referenced_tweets.id`), `tweet.fields` (`created_at`,
  `conversation_id`, `in_reply_to_user_id`, `author_id`, `referenced_tweets`); answer
  `{"data", "includes": {"users", "tweets"}, "meta": {"result_count", "newest_id", "oldest_id",
  "next_token"}}`, newest first, each post once. A `since_id` X no longer serves is moved to the
  oldest it does (documented: no error), so X has no expired cursor. 300 requests per 15 minutes
  per user here. The posts are the incoming traffic the sandbox generates (`incoming.py`); faults
  armed with `on: read_comments` apply here, and nowhere else.
- X API › Posts › Lookup › "Post lookup by Post ID" (`GET /2/tweets/:id`): a missing post is 200
  with `errors` (`resource-not-found`) and no `data`; `tweet.fields=public_metrics` adds Data
  dictionary › "Post object" `public_metrics` (`retweet_count`, `reply_count`, `like_count`,
  `quote_count`, `bookmark_count`, `impression_count`): the post's figures set by
  `/_sandbox/engagement` (its shares are all retweets, no quotes). 900 requests per 15 minutes per
  user; faults armed with `on: read_engagement` apply here alone.
- twitter-text configuration v3 for the 280 weighted-character limit. The sandbox approximates it
  (weights per code-point range, 2 per emoji cluster, 23 per URL); `shared/networks` is the exact
  implementation the formatter uses.
"""

from __future__ import annotations

import hashlib
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import regex
from aiohttp import BodyPartReader, web

from .common import MINT, RATES, RateState, bearer_token, check_token, read_params
from .engagement import figures_of
from .faults import read_fault
from .posting import UPLOAD_MODES, Posting
from .routes import add_api, route
from .store import STORE, IncomingItem, MediaItem, Post, Store

__all__ = ["XApi", "add_routes", "incoming_ids", "weighted_length"]

_NETWORK = "x"
_TWITTER_EPOCH_MS = 1288834974657
_POST_LIMIT = (100, 15 * 60)
_READ_LIMIT = (900, 15 * 60)
_MENTIONS_LIMIT = (300, 15 * 60)
_APP_LIMIT = (10_000, 24 * 3600)
_TIMELINE_LIMIT = (900, 15 * 60)
_WEIGHT_ONE_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
_FORBIDDEN = ("\ufffe", "\ufeff", "\uffff")
_URL = regex.compile(
    r"https?://\S+"
    r"|(?<![\w@/.])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+"
    r"(?:com|net|org|fr|io|eu|info|be|ch|ca|de|uk|co|app|dev|ma|gouv)\b(?:/\S*)?",
    regex.IGNORECASE,
)
_URL_TRAILING = regex.compile(r"[.,;:!?)\]'\"]+$")
_EMOJI = regex.compile(r"\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20e3")
_GRAPHEME = regex.compile(r"\X")
_ALL_WEIGHT_ONE = regex.compile(
    "[" + "".join(f"\\u{low:04x}-\\u{high:04x}" for low, high in _WEIGHT_ONE_RANGES) + "]*"
)
_DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
_HIDDEN_PARENT = "You attempted to reply to a Tweet that is deleted or not visible to you."
_MEDIA_LIMIT = (500, 15 * 60)
_MEDIA_EXPIRY = 24 * 3600
_PROCESSING_SECONDS = 1
_MAX_ALT = 1000
_MB = 1024 * 1024
# media_category → (accepted media types, largest size in bytes, media_key prefix)
_CATEGORIES: dict[str, tuple[frozenset[str], int, str]] = {
    "tweet_image": (
        frozenset({"image/jpeg", "image/png", "image/webp", "image/bmp", "image/pjpeg", "image/tiff"}),
        5 * _MB,
        "3",
    ),
    "tweet_gif": (frozenset({"image/gif"}), 15 * _MB, "16"),
    "tweet_video": (frozenset({"video/mp4", "video/webm", "video/mp2t", "video/quicktime"}), 512 * _MB, "7"),
}
_INVALID_MEDIA_IDS = "Your media IDs are invalid."
_KEY_PREFIX = {"image": "3", "video": "7"}


def shown(post: Post) -> dict[str, Any]:
    """A post as X's read endpoints show it: with media, X appends a t.co link to them to the
    text and lists it in `entities.urls` with its `media_key` ("Post object", "Entities")."""
    item: dict[str, Any] = {"id": post.remote_id, "text": post.text}
    media = post.meta.get("media") or []
    if media:
        link = "https://t.co/" + hashlib.sha256(post.remote_id.encode()).hexdigest()[:10]
        start = len(post.text) + 1
        item["text"] = f"{post.text} {link}"
        keys = [f"{_KEY_PREFIX.get(m['content_type'].split('/')[0], '3')}_{m['id']}" for m in media]
        item["attachments"] = {"media_keys": keys}
        expanded = f"https://x.com/{post.account}/status/{post.remote_id}/photo/1"
        item["entities"] = {
            "urls": [
                {
                    "start": start,
                    "end": start + len(link),
                    "url": link,
                    "expanded_url": expanded,
                    "display_url": f"pic.x.com/{post.remote_id[-10:]}",
                    "media_key": keys[0],
                }
            ]
        }
    return item


@dataclass
class _Upload:
    """One media upload: its segments until FINALIZE, then its processing."""

    account: str
    media_type: str
    category: str
    total_bytes: int
    segments: dict[int, bytes] = field(default_factory=dict)
    ready_at: float | None = None  # set by FINALIZE
    failure: str | None = None
    polled: bool = False  # pending until a STATUS request looks, then in_progress

    def state(self) -> str:
        if self.failure is not None:
            return "failed"
        if self.ready_at is not None and time.time() >= self.ready_at:
            return "succeeded"
        return "in_progress" if self.polled else "pending"


async def _multipart(
    request: web.Request, cap: int
) -> tuple[dict[str, str], dict[str, tuple[bytes, int, str]]]:
    """Text fields and file parts (first `cap` bytes, full size, content type) of a multipart body."""
    fields: dict[str, str] = {}
    files: dict[str, tuple[bytes, int, str]] = {}
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or not part.name:
            continue
        if part.filename is None:
            fields[part.name] = await part.text()
            continue
        kept, size = bytearray(), 0
        while chunk := await part.read_chunk():
            size += len(chunk)
            kept += chunk[: max(cap + 1 - len(kept), 0)]
        files[part.name] = (bytes(kept), size, part.headers.get("Content-Type", "application/octet-stream"))
    return fields, files


def _processing_failure(upload: _Upload, data: bytes) -> str | None:
    """Why processing fails, judged by the first bytes (a video without `ftyp`, a GIF without `GIF8`)."""
    if upload.media_type in ("video/mp4", "video/quicktime") and b"ftyp" not in data[:12]:
        return "Unsupported video format"
    if upload.media_type == "image/gif" and not data.startswith(b"GIF8"):
        return "Unsupported image format"
    return None


def _code_point_weight(char: str) -> int:
    point = ord(char)
    return 1 if any(low <= point <= high for low, high in _WEIGHT_ONE_RANGES) else 2


def _plain_weight(text: str) -> int:
    if _ALL_WEIGHT_ONE.fullmatch(text) and not _EMOJI.search(text):
        return len(text)  # most posts: no cluster can weigh more than its code points
    total = 0
    for cluster in _GRAPHEME.findall(text):
        total += 2 if _EMOJI.search(cluster) else sum(_code_point_weight(char) for char in cluster)
    return total


def weighted_length(text: str) -> int:
    """Approximate twitter-text v3 weighted length, in characters (limit 280)."""
    text = unicodedata.normalize("NFC", text)
    total, position = 0, 0
    for match in _URL.finditer(text):
        url = _URL_TRAILING.sub("", match.group())
        total += _plain_weight(text[position : match.start()]) + 23
        position = match.start() + len(url)
    return total + _plain_weight(text[position:])


def incoming_ids(app: web.Application, author: str) -> tuple[str, str]:
    """A notification id, and a new post id: a snowflake like the posts' ones."""
    mint = app[MINT]
    notification = mint.next_id("x-notification", shift=22, epoch_ms=_TWITTER_EPOCH_MS)
    return str(notification), str(mint.next_id("x", shift=22, epoch_ms=_TWITTER_EPOCH_MS))


def _conversation(store: Store, post_id: str) -> str:
    """The id of the first post of the thread `post_id` is in (X's `conversation_id`)."""
    for _ in range(100):
        item = store.incoming_item(_NETWORK, post_id)
        parent = item.reply_to if item is not None else None
        if parent is None:
            post = store.by_remote_id(_NETWORK, post_id)
            parent = post.reply_to if post is not None else None
        if parent is None:
            break
        post_id = parent
    return post_id


def user_id(account: str) -> str:
    """A stable numeric user id for a sandbox account."""
    return str(int.from_bytes(hashlib.sha256(account.encode()).digest()[:7], "big"))


def _problem(status: int, title: str, detail: str, *, kind: str = "about:blank") -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": kind, "status": status}


class XApi:
    """The X emulator's handlers; also its fault dialect."""

    rate_limit = _POST_LIMIT

    def __init__(self) -> None:
        self._uploads: dict[str, _Upload] = {}

    @staticmethod
    def _headers(state: RateState) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(state.limit),
            "x-rate-limit-remaining": str(state.remaining),
            "x-rate-limit-reset": str(int(state.reset_at)),
        }

    def _respond(self, body: dict[str, Any], status: int, state: RateState) -> web.Response:
        return web.json_response(body, status=status, headers=self._headers(state))

    def _unauthorized(self, state: RateState) -> web.Response:
        return self._respond(_problem(401, "Unauthorized", "Unauthorized"), 401, state)

    def _invalid(self, message: str, parameter: str, value: object, state: RateState) -> web.Response:
        body = {
            "errors": [{"parameters": {parameter: [value]}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.x.com/2/problems/invalid-request",
        }
        return self._respond(body, 400, state)

    @staticmethod
    def _fresh() -> RateState:
        limit, window = _POST_LIMIT
        return RateState(limit, limit, time.time() + window, window)

    # Dialect: how X answers each fault mode.
    def server_error(self) -> web.Response:
        return self._respond(_problem(503, "Service Unavailable", "Service Unavailable"), 503, self._fresh())

    def rate_limited(self, state: RateState) -> web.Response:
        return self._respond(_problem(429, "Too Many Requests", "Too Many Requests"), 429, state)

    def expired_token(self) -> web.Response:
        # An expired OAuth 2.0 user token is just "Unauthorized" on X.
        return self._unauthorized(self._fresh())

    def blocked(self) -> web.Response:
        detail = "Your account is temporarily locked."
        return self._respond(_problem(403, "Forbidden", detail), 403, self._fresh())

    def invalid_content(self) -> web.Response:
        return self._invalid("Your post text is too long (281 > 280 weighted).", "text", "", self._fresh())

    def _caller(self, request: web.Request) -> tuple[str | None, RateState]:
        caller = check_token(bearer_token(request), _NETWORK)
        rates = request.app[RATES]
        if caller.account is None:
            return None, rates.peek("x:anonymous", limit=_POST_LIMIT[0], window=_POST_LIMIT[1])
        return caller.account, rates.peek(
            f"x:{caller.account}:post", limit=_POST_LIMIT[0], window=_POST_LIMIT[1]
        )

    @route("POST", "/2/tweets")
    async def create(self, request: web.Request) -> web.Response:
        account, state = self._caller(request)
        if account is None:
            return self._unauthorized(state)
        posting = await Posting.start(request, self, _NETWORK, account)
        if isinstance(posting, web.Response):
            return posting
        state, throttled = posting.window(f"{account}:post", _POST_LIMIT)
        if throttled is not None:
            return throttled
        params = await read_params(request) if request.content_type == "application/json" else None
        if params is None:
            return self._respond(
                _problem(400, "Invalid Request", "Request body must be a JSON object."), 400, state
            )
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            return self._invalid(
                "The `text` field is required and must be a non-empty string.", "text", text, state
            )
        if any(char in text for char in _FORBIDDEN):
            return self._invalid("The `text` field contains invalid characters.", "text", text, state)
        text = unicodedata.normalize("NFC", text)
        if (length := weighted_length(text)) > 280:
            return self._invalid(
                f"Your post text is too long ({length} > 280 weighted).", "text", text, state
            )
        reply_to = None
        if "reply" in params:
            reply = params["reply"]
            parent = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
            if not isinstance(parent, str) or not parent.isdigit():
                return self._invalid("reply.in_reply_to_tweet_id must be a post id.", "reply", reply, state)
            known = request.app[STORE].by_remote_id(_NETWORK, parent) or request.app[STORE].incoming_item(
                _NETWORK, parent
            )
            if known is None:  # neither the account's own post nor one people sent it
                return self._respond(_problem(403, "Forbidden", _HIDDEN_PARENT), 403, state)
            reply_to = parent
        meta: dict[str, Any] = {}
        if "media" in params:
            items = self._attachments(request, account, params["media"], state)
            if isinstance(items, web.Response):
                return items
            meta["media"] = [item.public() for item in items]
        store = request.app[STORE]
        if store.with_text(_NETWORK, account, text) is not None:
            return self._respond(_problem(403, "Forbidden", _DUPLICATE), 403, state)
        post_id = str(request.app[MINT].next_id("x", shift=22, epoch_ms=_TWITTER_EPOCH_MS))
        posting.add(
            remote_id=post_id,
            text=text,
            body=params,
            reply_to=reply_to,
            meta=meta,
        )
        app = posting.count("app:post", _APP_LIMIT)
        await posting.created()
        headers = {
            **self._headers(state),
            "x-app-limit-24hour-limit": str(app.limit),
            "x-app-limit-24hour-remaining": str(app.remaining),
            "x-app-limit-24hour-reset": str(int(app.reset_at)),
        }
        post = store.by_remote_id(_NETWORK, post_id)
        data = shown(post) if post is not None else {"id": post_id, "text": text}
        return web.json_response({"data": data}, status=201, headers=headers)

    @route("GET", "/2/users/{user_id}/tweets")
    async def timeline(self, request: web.Request) -> web.Response:
        account, state = self._caller(request)
        if account is None:
            return self._unauthorized(state)
        state = request.app[RATES].hit(
            f"x:{account}:timeline", limit=_TIMELINE_LIMIT[0], window=_TIMELINE_LIMIT[1]
        )
        if request.match_info["user_id"] != user_id(account):
            return self._respond(
                _problem(403, "Forbidden", "You can only read your own timeline here."), 403, state
            )
        try:
            size = int(request.query.get("max_results", "10"))
        except ValueError:
            size = 0
        if not 5 <= size <= 100:
            return self._invalid("max_results must be between 5 and 100.", "max_results", size, state)
        start = request.query.get("start_time")
        posts = [
            p
            for p in request.app[STORE].posts(network=_NETWORK, account=account)
            if not start or p.received_at >= start
        ]
        posts.reverse()
        offset = int(request.query.get("pagination_token") or 0)
        page = posts[offset : offset + size]
        data = []
        for post in page:
            item = shown(post) | {"created_at": post.received_at[:23] + "Z"}
            if post.reply_to:
                item["referenced_tweets"] = [{"type": "replied_to", "id": post.reply_to}]
            data.append(item)
        meta: dict[str, Any] = {"result_count": len(data)}
        if data:
            meta |= {"newest_id": data[0]["id"], "oldest_id": data[-1]["id"]}
        if offset + size < len(posts):
            meta["next_token"] = str(offset + size)
        body: dict[str, Any] = {"meta": meta}
        if data:
            body["data"] = data
        return self._respond(body, 200, state)

    def _mention(self, store: Store, item: IncomingItem) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """A generated post as the mentions timeline shows it, and the post it answers (if known)."""
        post: dict[str, Any] = {
            "id": item.item_id,
            "text": f"@{item.account} {item.text}",
            "author_id": user_id(f"citizen:{item.author}"),
            "created_at": item.created_at[:23] + "Z",
            "conversation_id": _conversation(store, item.item_id),
        }
        if item.reply_to is None:
            return post, None
        ours = store.by_remote_id(_NETWORK, item.reply_to)
        other = store.incoming_item(_NETWORK, item.reply_to)
        replied: dict[str, Any] | None = None
        if ours is not None:
            replied = shown(ours) | {"author_id": user_id(ours.account)}
        elif other is not None:
            replied = {
                "id": other.item_id,
                "text": other.text,
                "author_id": user_id(f"citizen:{other.author}"),
            }
        post["referenced_tweets"] = [{"type": "replied_to", "id": item.reply_to}]
        if replied is not None:
            post["in_reply_to_user_id"] = replied["author_id"]
        return post, replied

    @route("GET", "/2/users/{user_id}/mentions")
    async def mentions(self, request: web.Request) -> web.Response:
        account, state = self._caller(request)
        if account is None:
            return self._unauthorized(state)
        if (replaced := await read_fault(request, self, _NETWORK, account)) is not None:
            return replaced
        state = request.app[RATES].hit(
            f"x:{account}:mentions", limit=_MENTIONS_LIMIT[0], window=_MENTIONS_LIMIT[1]
        )
        if state.exceeded:
            return self.rate_limited(state)
        if request.match_info["user_id"] != user_id(account):
            return self._respond(
                _problem(403, "Forbidden", "You can only read your own mentions here."), 403, state
            )
        query = request.query
        try:
            size = int(query.get("max_results", "10"))
        except ValueError:
            size = 0
        if not 5 <= size <= 100:
            return self._invalid("max_results must be between 5 and 100.", "max_results", size, state)
        since = query.get("since_id")
        if since is not None and not since.isdigit():
            return self._invalid(
                f"The `since_id` query parameter value [{since}] is not valid", "since_id", since, state
            )
        store = request.app[STORE]
        firsts: dict[str, IncomingItem] = {}
        for item in store.incoming(_NETWORK, account):
            firsts.setdefault(item.item_id, item)  # a post is listed once, however often notified
        items = sorted(
            (i for i in firsts.values() if since is None or int(i.item_id) > int(since)),
            key=lambda i: int(i.item_id),
            reverse=True,
        )
        token = query.get("pagination_token") or "0"
        offset = int(token) if token.isdigit() else 0
        page = items[offset : offset + size]
        shown_posts = [self._mention(store, item) for item in page]
        fields = set(query.get("tweet.fields", "").split(","))
        expansions = set(query.get("expansions", "").split(","))
        optional = {"created_at", "conversation_id", "in_reply_to_user_id", "author_id", "referenced_tweets"}
        data = [
            {k: v for k, v in post.items() if k not in optional or k in fields} for post, _ in shown_posts
        ]
        meta: dict[str, Any] = {"result_count": len(data)}
        if data:
            meta |= {"newest_id": data[0]["id"], "oldest_id": data[-1]["id"]}
        if offset + size < len(items):
            meta["next_token"] = str(offset + size)
        body: dict[str, Any] = {"meta": meta}
        if data:
            body["data"] = data
        includes: dict[str, Any] = {}
        if "author_id" in expansions and page:
            includes["users"] = [
                {"id": user_id(f"citizen:{item.author}"), "name": item.author, "username": item.author}
                for item in page
            ]
        if "referenced_tweets.id" in expansions:
            tweets = [replied for _, replied in shown_posts if replied is not None]
            if tweets:
                includes["tweets"] = tweets
        if includes:
            body["includes"] = includes
        return self._respond(body, 200, state)

    @route("GET", "/2/tweets/{post_id}")
    async def read(self, request: web.Request) -> web.Response:
        account, state = self._caller(request)
        if account is None:
            return self._unauthorized(state)
        if (replaced := await read_fault(request, self, _NETWORK, account, on="read_engagement")) is not None:
            return replaced
        state = request.app[RATES].hit(f"x:{account}:read", limit=_READ_LIMIT[0], window=_READ_LIMIT[1])
        if state.exceeded:
            return self.rate_limited(state)
        post_id = request.match_info["post_id"]
        post = request.app[STORE].by_remote_id(_NETWORK, post_id)
        if post is None:
            error = {
                "value": post_id,
                "detail": f"Could not find tweet with id: [{post_id}].",
                "title": "Not Found Error",
                "resource_type": "tweet",
                "parameter": "id",
                "resource_id": post_id,
                "type": "https://api.x.com/2/problems/resource-not-found",
            }
            # X answers lookups of missing posts with 200 and an `errors` array.
            return self._respond({"errors": [error]}, 200, state)
        data = shown(post) | {"author_id": user_id(post.account)}
        if post.reply_to:
            data["in_reply_to_tweet_id"] = post.reply_to
        if "public_metrics" in request.query.get("tweet.fields", "").split(","):
            figures = figures_of(post)
            data["public_metrics"] = {
                "retweet_count": figures["shares"],
                "reply_count": figures["replies"],
                "like_count": figures["likes"],
                "quote_count": 0,
                "bookmark_count": 0,
                "impression_count": figures["views"],
            }
        return self._respond({"data": data}, 200, state)

    @route("GET", "/2/users/me")
    async def me(self, request: web.Request) -> web.Response:
        account, state = self._caller(request)
        if account is None:
            return self._unauthorized(state)
        return self._respond(
            {"data": {"id": user_id(account), "name": account, "username": account}}, 200, state
        )

    # Media uploads.
    async def _media_caller(
        self, request: web.Request
    ) -> tuple[Posting | None, RateState, web.Response | None]:
        """The upload and its media window, or the answer that refuses it."""
        account, state = self._caller(request)
        if account is None:
            return None, state, self._unauthorized(state)
        posting = await Posting.start(request, self, _NETWORK, account, modes=UPLOAD_MODES)
        if isinstance(posting, web.Response):
            return None, state, posting
        state, throttled = posting.window(f"{account}:media", _MEDIA_LIMIT)
        return (None, state, throttled) if throttled is not None else (posting, state, None)

    def _media_body(self, media_id: str, upload: _Upload, size: int) -> dict[str, Any]:
        _types, _cap, prefix = _CATEGORIES[upload.category]
        data: dict[str, Any] = {
            "id": media_id,
            "media_key": f"{prefix}_{media_id}",
            "size": size,
            "expires_after_secs": _MEDIA_EXPIRY,
        }
        if upload.category != "tweet_image" and upload.ready_at is not None:
            state = upload.state()
            info: dict[str, Any] = {"state": state}
            if state in ("pending", "in_progress"):
                info |= {"check_after_secs": _PROCESSING_SECONDS, "progress_percent": 50}
            elif state == "failed":
                info |= {"error": {"code": 1, "name": "InvalidMedia", "message": upload.failure}}
            else:
                info["progress_percent"] = 100
            data["processing_info"] = info
        return {"data": data}

    def _check_media(
        self, category: str, media_type: str, size: int, state: RateState
    ) -> web.Response | None:
        if category not in _CATEGORIES:
            return self._invalid(
                f"media_category {category!r} is not supported.", "media_category", category, state
            )
        types, cap, _prefix = _CATEGORIES[category]
        if media_type not in types:
            message = f"media_type {media_type!r} is not allowed for media_category {category}."
            return self._invalid(message, "media_type", media_type, state)
        if size > cap:
            return self._invalid(f"File size exceeds {cap} bytes.", "total_bytes", size, state)
        return None

    def _mint_media_id(self, request: web.Request) -> str:
        return str(request.app[MINT].next_id("x-media", shift=22, epoch_ms=_TWITTER_EPOCH_MS))

    @route("POST", "/2/media/upload")
    async def upload(self, request: web.Request) -> web.Response:
        """One-shot image upload: multipart `media`, `media_category` tweet_image, `media_type`."""
        posting, state, refused = await self._media_caller(request)
        if posting is None:
            return refused or self._unauthorized(state)
        account = posting.account
        if request.content_type != "multipart/form-data":
            return self._respond(
                _problem(400, "Invalid Request", "Send the image as multipart/form-data."), 400, state
            )
        fields, files = await _multipart(request, 5 * _MB)
        if "media" not in files:
            return self._invalid("The `media` field is required.", "media", None, state)
        data, size, part_type = files["media"]
        category = fields.get("media_category", "tweet_image")
        media_type = fields.get("media_type") or part_type
        if category != "tweet_image":
            message = (
                "Only images can be uploaded in one request; use the chunked upload for GIFs and videos."
            )
            return self._invalid(message, "media_category", category, state)
        if (refused := self._check_media(category, media_type, size, state)) is not None:
            return refused
        media_id = self._mint_media_id(request)
        upload = _Upload(account, media_type, category, size, ready_at=time.time())
        self._uploads[media_id] = upload
        posting.add_media(media_id=media_id, data=data, content_type=media_type)
        return self._respond(self._media_body(media_id, upload, size), 200, state)

    @route("POST", "/2/media/upload/initialize")
    async def initialize(self, request: web.Request) -> web.Response:
        posting, state, refused = await self._media_caller(request)
        if posting is None:
            return refused or self._unauthorized(state)
        account = posting.account
        params = await read_params(request) if request.content_type == "application/json" else None
        if params is None:
            return self._respond(
                _problem(400, "Invalid Request", "Request body must be a JSON object."), 400, state
            )
        total = params.get("total_bytes")
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            return self._invalid("total_bytes must be a non-negative integer.", "total_bytes", total, state)
        media_type, category = str(params.get("media_type") or ""), str(params.get("media_category") or "")
        if (refused := self._check_media(category, media_type, total, state)) is not None:
            return refused
        media_id = self._mint_media_id(request)
        upload = _Upload(account, media_type, category, total)
        self._uploads[media_id] = upload
        return self._respond(self._media_body(media_id, upload, total), 200, state)

    def _session(self, media_id: str, account: str, state: RateState) -> _Upload | web.Response:
        upload = self._uploads.get(media_id)
        if upload is None or upload.account != account:
            return self._invalid(f"Media id {media_id} is not a valid upload.", "id", media_id, state)
        return upload

    @route("POST", "/2/media/upload/{media_id}/append")
    async def append(self, request: web.Request) -> web.Response:
        posting, state, refused = await self._media_caller(request)
        if posting is None:
            return refused or self._unauthorized(state)
        account = posting.account
        media_id = request.match_info["media_id"]
        upload = self._session(media_id, account, state)
        if isinstance(upload, web.Response):
            return upload
        if request.content_type != "multipart/form-data":
            return self._respond(
                _problem(400, "Invalid Request", "Send the segment as multipart/form-data."), 400, state
            )
        fields, files = await _multipart(request, upload.total_bytes)
        try:
            index = int(fields.get("segment_index", ""))
        except ValueError:
            index = -1
        if not 0 <= index <= 999:
            return self._invalid("segment_index must be between 0 and 999.", "segment_index", index, state)
        if "media" not in files or upload.ready_at is not None:
            return self._invalid("The `media` field is required before FINALIZE.", "media", None, state)
        upload.segments[index] = files["media"][0]
        return self._respond({"data": {"expires_at": int(time.time()) + _MEDIA_EXPIRY}}, 200, state)

    @route("POST", "/2/media/upload/{media_id}/finalize")
    async def finalize(self, request: web.Request) -> web.Response:
        posting, state, refused = await self._media_caller(request)
        if posting is None:
            return refused or self._unauthorized(state)
        account = posting.account
        media_id = request.match_info["media_id"]
        upload = self._session(media_id, account, state)
        if isinstance(upload, web.Response):
            return upload
        data = b"".join(upload.segments[index] for index in sorted(upload.segments))
        if len(data) != upload.total_bytes:
            message = (
                f"Segments add up to {len(data)} bytes, not the total_bytes {upload.total_bytes} declared."
            )
            return self._invalid(message, "total_bytes", upload.total_bytes, state)
        if upload.ready_at is None:
            upload.ready_at = time.time() + (0 if upload.category == "tweet_image" else _PROCESSING_SECONDS)
            upload.failure = _processing_failure(upload, data)
            posting.add_media(media_id=media_id, data=data, content_type=upload.media_type)
        return self._respond(self._media_body(media_id, upload, len(data)), 200, state)

    @route("GET", "/2/media/upload")
    async def status(self, request: web.Request) -> web.Response:
        account, state = self._caller(request)
        if account is None:
            return self._unauthorized(state)
        state = request.app[RATES].hit(f"x:{account}:media", limit=_MEDIA_LIMIT[0], window=_MEDIA_LIMIT[1])
        if state.exceeded:
            return self.rate_limited(state)
        if request.query.get("command", "STATUS") != "STATUS":
            return self._invalid("command must be STATUS.", "command", request.query.get("command"), state)
        media_id = request.query.get("media_id", "")
        upload = self._session(media_id, account, state)
        if isinstance(upload, web.Response):
            return upload
        upload.polled = upload.ready_at is not None
        return self._respond(self._media_body(media_id, upload, upload.total_bytes), 200, state)

    @route("POST", "/2/media/metadata")
    async def metadata(self, request: web.Request) -> web.Response:
        posting, state, refused = await self._media_caller(request)
        if posting is None:
            return refused or self._unauthorized(state)
        account = posting.account
        params = await read_params(request) if request.content_type == "application/json" else None
        if params is None:
            return self._respond(
                _problem(400, "Invalid Request", "Request body must be a JSON object."), 400, state
            )
        media_id = str(params.get("id") or "")
        metadata = params.get("metadata")
        alt = metadata.get("alt_text") if isinstance(metadata, dict) else None
        text = alt.get("text") if isinstance(alt, dict) else None
        if not isinstance(text, str):
            return self._invalid("metadata.alt_text.text is required.", "metadata", metadata, state)
        if len(text) > _MAX_ALT:
            message = f"Alt text must be at most {_MAX_ALT} characters ({len(text)} given)."
            return self._invalid(message, "metadata.alt_text.text", len(text), state)
        store = request.app[STORE]
        if store.attachable(_NETWORK, account, [media_id]) is None:
            return self._invalid(f"Media id {media_id} is not a valid upload.", "id", media_id, state)
        store.set_media_alt(_NETWORK, media_id, text)
        body = {"data": {"id": media_id, "associated_metadata": {"alt_text": {"text": text}}}}
        return self._respond(body, 200, state)

    def _attachments(
        self, request: web.Request, account: str, media: object, state: RateState
    ) -> list[MediaItem] | web.Response:
        """The uploads a post's `media.media_ids` names, ready to attach, or X's refusal."""
        ids = media.get("media_ids") if isinstance(media, dict) else None
        if not isinstance(ids, list) or not 1 <= len(ids) <= 4 or not all(isinstance(i, str) for i in ids):
            return self._invalid("media.media_ids must list 1 to 4 media ids.", "media.media_ids", ids, state)
        items = request.app[STORE].attachable(_NETWORK, account, ids)
        uploads = [self._uploads.get(media_id) for media_id in ids]
        if items is None or any(u is not None and u.state() != "succeeded" for u in uploads):
            return self._invalid(_INVALID_MEDIA_IDS, "media.media_ids", ids, state)
        if len(items) > 1 and any(item.content_type not in _CATEGORIES["tweet_image"][0] for item in items):
            message = "A post can carry up to 4 images, or 1 GIF, or 1 video."
            return self._invalid(message, "media.media_ids", ids, state)
        return items


def add_routes(app: web.Application) -> None:
    add_api(app, XApi())
