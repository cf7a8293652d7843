"""X API v2 emulator: `POST /2/tweets`, `GET /2/tweets/{id}`, `GET /2/users/me`.

Follows these documentation sections (docs.x.com):
- X API › Posts › "Create or Edit Post" (`POST /2/tweets`): JSON body `text` and
  `reply.in_reply_to_tweet_id`, `Authorization: Bearer`, answer 201 `{"data": {"id", "text"}}`.
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
  newest first.
- twitter-text configuration v3 for the 280 weighted-character limit. The sandbox approximates it
  (weights per code-point range, 2 per emoji cluster, 23 per URL); `shared/networks` is the exact
  implementation the formatter uses.
"""

from __future__ import annotations

import hashlib
import time
import unicodedata
from typing import Any

import regex
from aiohttp import web

from .common import MINT, RATES, RateState, bearer_token, check_token, read_params
from .faults import FAULTS, after_create, before_create
from .store import STORE

__all__ = ["XApi", "add_routes", "weighted_length"]

_NETWORK = "x"
_TWITTER_EPOCH_MS = 1288834974657
_POST_LIMIT = (100, 15 * 60)
_READ_LIMIT = (900, 15 * 60)
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
_DUPLICATE = "You are not allowed to create a Tweet with duplicate content."
_HIDDEN_PARENT = "You attempted to reply to a Tweet that is deleted or not visible to you."


def _code_point_weight(char: str) -> int:
    point = ord(char)
    return 1 if any(low <= point <= high for low, high in _WEIGHT_ONE_RANGES) else 2


def _plain_weight(text: str) -> int:
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


def user_id(account: str) -> str:
    """A stable numeric user id for a sandbox account."""
    return str(int.from_bytes(hashlib.sha256(account.encode()).digest()[:7], "big"))


def _problem(status: int, title: str, detail: str, *, kind: str = "about:blank") -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": kind, "status": status}


class XApi:
    """The X emulator's handlers; also its fault dialect."""

    rate_limit = _POST_LIMIT

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

    async def create(self, request: web.Request) -> web.Response:
        account, state = self._caller(request)
        if account is None:
            return self._unauthorized(state)
        fault = request.app[FAULTS].take(_NETWORK, account)
        if (replaced := await before_create(request, fault, self)) is not None:
            return replaced
        state = request.app[RATES].hit(f"x:{account}:post", limit=_POST_LIMIT[0], window=_POST_LIMIT[1])
        if state.exceeded:
            return self.rate_limited(state)
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
            if request.app[STORE].by_remote_id(_NETWORK, parent) is None:
                return self._respond(_problem(403, "Forbidden", _HIDDEN_PARENT), 403, state)
            reply_to = parent
        store = request.app[STORE]
        if store.with_text(_NETWORK, account, text) is not None:
            return self._respond(_problem(403, "Forbidden", _DUPLICATE), 403, state)
        post_id = str(request.app[MINT].next_id("x", shift=22, epoch_ms=_TWITTER_EPOCH_MS))
        store.add(
            network=_NETWORK, account=account, remote_id=post_id, text=text, body=params, reply_to=reply_to
        )
        app = request.app[RATES].hit("x:app:post", limit=_APP_LIMIT[0], window=_APP_LIMIT[1])
        await after_create(request, fault)
        headers = {
            **self._headers(state),
            "x-app-limit-24hour-limit": str(app.limit),
            "x-app-limit-24hour-remaining": str(app.remaining),
            "x-app-limit-24hour-reset": str(int(app.reset_at)),
        }
        return web.json_response({"data": {"id": post_id, "text": text}}, status=201, headers=headers)

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
            item: dict[str, Any] = {
                "id": post.remote_id,
                "text": post.text,
                "created_at": post.received_at[:23] + "Z",
            }
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

    async def read(self, request: web.Request) -> web.Response:
        account, state = self._caller(request)
        if account is None:
            return self._unauthorized(state)
        state = request.app[RATES].hit(f"x:{account}:read", limit=_READ_LIMIT[0], window=_READ_LIMIT[1])
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
        data = {"id": post.remote_id, "text": post.text, "author_id": user_id(post.account)}
        if post.reply_to:
            data["in_reply_to_tweet_id"] = post.reply_to
        return self._respond({"data": data}, 200, state)

    async def me(self, request: web.Request) -> web.Response:
        account, state = self._caller(request)
        if account is None:
            return self._unauthorized(state)
        return self._respond(
            {"data": {"id": user_id(account), "name": account, "username": account}}, 200, state
        )


def add_routes(app: web.Application) -> None:
    api = XApi()
    app.router.add_post("/2/tweets", api.create)
    app.router.add_get("/2/tweets/{post_id}", api.read)
    app.router.add_get("/2/users/me", api.me)
    app.router.add_get("/2/users/{user_id}/tweets", api.timeline)
