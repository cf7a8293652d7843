"""Telegram Bot API emulator: `sendMessage` and `sendPhoto` to channels, and `getMe`.

Follows these documentation sections (core.telegram.org/bots/api):
- "Making requests": `POST https://api.telegram.org/bot<token>/<METHOD_NAME>` with JSON or
  form parameters; the answer is `{"ok": true, "result": …}`, or `{"ok": false, "error_code",
  "description"}` with `parameters.retry_after` when flooding (`ResponseParameters`).
- "sendMessage" (`chat_id` as `@channelusername` or an integer id, `text` of 1–4,096
  characters after entity parsing, `entities`, `reply_parameters`) and "sendPhoto" (`photo` as
  an HTTP URL, `caption` ≤ 1,024 characters) → the sent `Message` (`message_id`, `date`,
  `chat` with `type: "channel"`, `text` or `caption`).
- Errors as the Bot API words them: 401 "Unauthorized" (bad or revoked token), 400 "Bad Request:
  chat not found", "Bad Request: message is too long", "Bad Request: message text is empty",
  403 "Forbidden: bot is not a member of the channel chat", 429 "Too Many Requests: retry after
  N"; the Bots FAQ's limits (about 20 messages a minute in one channel).

There is no method to read a channel's history: bots only receive updates. The sandbox keeps
what each channel received for its inspection API, not for the adapter.

Sandbox bots: token `sbx-telegram-<channel>` is a bot that administers `@<channel>`; any other
channel answers 403, an unknown `@name` 400 chat not found.
"""

from __future__ import annotations

import re
import time
import zlib
from typing import Any

from aiohttp import web

from .common import RATES, RateState, check_token, read_params
from .faults import FAULTS, after_create, before_create
from .store import STORE

__all__ = ["TelegramApi", "add_routes"]

_NETWORK = "telegram"
_CHANNEL_LIMIT = (20, 60)
_MAX_TEXT = 4096
_MAX_CAPTION = 1024
_CHANNEL = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}")


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _failure(code: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=code)


class TelegramApi:
    """The Telegram emulator's handlers; also its fault dialect."""

    rate_limit = _CHANNEL_LIMIT

    # Dialect: how the Bot API answers each fault mode.
    def server_error(self) -> web.Response:
        return _failure(502, "Bad Gateway")

    def rate_limited(self, state: RateState) -> web.Response:
        wait = max(int(state.reset_at - time.time()), 1)
        return _failure(429, f"Too Many Requests: retry after {wait}", retry_after=wait)

    def expired_token(self) -> web.Response:
        return _failure(401, "Unauthorized")

    def blocked(self) -> web.Response:
        return _failure(403, "Forbidden: bot was kicked from the channel chat")

    def invalid_content(self) -> web.Response:
        return _failure(400, "Bad Request: message is too long")

    async def call(self, request: web.Request) -> web.Response:
        caller = check_token(request.match_info["token"], _NETWORK)
        if caller.account is None:
            return _failure(401, "Unauthorized")
        method = request.match_info["method"]
        if method == "getMe":
            bot = {
                "id": zlib.crc32(caller.account.encode()),
                "is_bot": True,
                "username": f"{caller.account}_bot",
            }
            return web.json_response({"ok": True, "result": bot})
        if method not in ("sendMessage", "sendPhoto"):
            return _failure(404, "Not Found")
        params = await read_params(request)
        if params is None:
            return _failure(400, "Bad Request: can't parse JSON object")
        chat = str(params.get("chat_id") or "")
        if not _CHANNEL.fullmatch(chat):
            return _failure(400, "Bad Request: chat not found")
        channel = chat[1:]
        if channel != caller.account:
            return _failure(403, "Forbidden: bot is not a member of the channel chat")
        fault = request.app[FAULTS].take(_NETWORK, channel)
        if (replaced := await before_create(request, fault, self)) is not None:
            return replaced
        limit, window = _CHANNEL_LIMIT
        state = request.app[RATES].hit(f"telegram:{channel}", limit=limit, window=window)
        if state.exceeded:
            return self.rate_limited(state)
        if method == "sendPhoto":
            text, photo = str(params.get("caption") or ""), params.get("photo")
            if not isinstance(photo, str) or not photo.startswith(("http://", "https://")):
                return _failure(400, "Bad Request: wrong remote file identifier specified")
            if _utf16(text) > _MAX_CAPTION:
                return _failure(400, "Bad Request: message caption is too long")
        else:
            text, photo = str(params.get("text") or ""), None
            if not text.strip():
                return _failure(400, "Bad Request: message text is empty")
            if _utf16(text) > _MAX_TEXT:
                return _failure(400, "Bad Request: message is too long")
        store = request.app[STORE]
        message_id = len(store.posts(network=_NETWORK, account=channel)) + 1
        reply = params.get("reply_parameters")
        reply_to = reply.get("message_id") if isinstance(reply, dict) else None
        store.add(
            network=_NETWORK,
            account=channel,
            remote_id=f"{channel}/{message_id}",
            text=text,
            body=params,
            reply_to=f"{channel}/{reply_to}" if reply_to else None,
            meta={"message_id": message_id, "photo": photo},
        )
        await after_create(request, fault)
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {
                "id": -1001000000000 - zlib.crc32(channel.encode()),
                "type": "channel",
                "title": channel,
                "username": channel,
            },
            "sender_chat": {"type": "channel", "username": channel},
        }
        if photo:
            message |= {
                "caption": text,
                "photo": [{"file_id": f"sbx-{message_id}", "width": 1280, "height": 720}],
            }
        else:
            message["text"] = text
        return web.json_response({"ok": True, "result": message})


def add_routes(app: web.Application) -> None:
    api = TelegramApi()
    app.router.add_route("*", "/bot{token}/{method}", api.call)
