"""Telegram Bot API emulator: `sendMessage`, `sendPhoto`, `sendVideo` and `sendMediaGroup` to
channels, and `getMe`.

Follows these documentation sections (core.telegram.org/bots/api):
- "Making requests": `POST https://api.telegram.org/bot<token>/<METHOD_NAME>` with JSON or
  form parameters, multipart/form-data to upload files (objects such as `caption_entities`,
  `reply_parameters` or `media` are then JSON-serialized fields); the answer is `{"ok": true,
  "result": …}`, or `{"ok": false, "error_code", "description"}` with `parameters.retry_after`
  when flooding (`ResponseParameters`).
- "Sending files": a file uploaded as a multipart part, or an HTTP URL Telegram fetches; photos
  up to 10 MB, other files up to 50 MB.
- "sendMessage" (`chat_id` as `@channelusername` or an integer id, `text` of 1–4,096
  characters after entity parsing, `entities`, `reply_parameters`), "sendPhoto" and "sendVideo"
  (`photo` / `video` as an uploaded file or an HTTP URL, `caption` ≤ 1,024 characters,
  `caption_entities`) → the sent `Message` (`message_id`, `date`, `chat` with `type: "channel"`,
  `text` or `caption`, `photo` sizes or `video`).
- "sendMediaGroup" (`media`: a JSON array of 2–10 InputMediaPhoto / InputMediaVideo whose `media`
  is an HTTP URL or `attach://<file_attach_name>` naming a multipart part) → an array of the
  sent Messages, consecutive ids sharing a `media_group_id`.
- Errors as the Bot API words them: 401 "Unauthorized" (bad or revoked token), 400 "Bad Request:
  chat not found", "Bad Request: message is too long", "Bad Request: message text is empty",
  "Bad Request: message caption is too long", "Bad Request: file is too big", 413 "Request Entity
  Too Large" (a request over 50 MB), 403 "Forbidden: bot is not a member of the channel chat",
  429 "Too Many Requests: retry after N"; the Bots FAQ's limits (about 20 messages a minute in
  one channel).

A bot also answers people in their private chats with it (issue #15): `sendMessage` with the
person's numeric `chat_id` and `reply_parameters.message_id` (the message answered). A chat that
never wrote to the bot is 400 "Bad Request: chat not found"; a message answered that is not there
(deleted) is 400 "Bad Request: message to be replied not found" unless
`reply_parameters.allow_sending_without_reply`; a person who blocked the bot (the `blocked` fault
here) is 403 "Forbidden: bot was blocked by the user"; the bot's own limit is about 30 messages a
second.
What people write reaches the bot by webhook (webhooks.py), remembered in the sandbox's audience.

There is no method to read a channel's history: bots only receive updates. The sandbox keeps
what each channel received for its inspection API, not for the adapter: an album is one post
(its caption, every attached file's fingerprint in `media`) that took several message ids.

Sandbox bots: token `sbx-telegram-<channel>` is a bot that administers `@<channel>`; any other
channel answers 403, an unknown `@name` 400 chat not found.
"""

from __future__ import annotations

import json
import re
import time
import zlib
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, web

from .audience import AUDIENCE
from .common import MINT, RateState, check_token, read_params
from .posting import Posting
from .routes import add_api, route
from .store import STORE, Store

__all__ = ["TelegramApi", "add_routes"]

_NETWORK = "telegram"
_CHANNEL_LIMIT = (20, 60)
_BOT_LIMIT = (30, 1)  # Bots FAQ: about 30 messages a second for a bot overall
_MAX_TEXT = 4096
_MAX_CAPTION = 1024
_CHANNEL = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}")
_MAX_PHOTO = 10 * 1024 * 1024
_MAX_REQUEST = 50 * 1024 * 1024
_ALBUM = (2, 10)
_JSON_FIELDS = ("entities", "caption_entities", "reply_parameters", "media")
_METHODS = ("sendMessage", "sendPhoto", "sendVideo", "sendMediaGroup")
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")


@dataclass(frozen=True)
class _File:
    data: bytes
    content_type: str


@dataclass(frozen=True)
class _Item:
    """One photo or video of a message: uploaded bytes, or a URL Telegram would fetch."""

    kind: str  # "photo" or "video"
    file: _File | None
    url: str | None


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

    @route("*", "/bot{token}/{method}")
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
        if method not in _METHODS:
            return _failure(404, "Not Found")
        read = await _read_call(request)
        if isinstance(read, web.Response):
            return read
        params, files = read
        chat = str(params.get("chat_id") or "")
        if chat.lstrip("-").isdigit():
            return await self._private(request, caller.account, chat, method, params)
        if not _CHANNEL.fullmatch(chat):
            return _failure(400, "Bad Request: chat not found")
        channel = chat[1:]
        if channel != caller.account:
            return _failure(403, "Forbidden: bot is not a member of the channel chat")
        posting = await Posting.start(request, self, _NETWORK, channel)
        if isinstance(posting, web.Response):
            return posting
        _state, throttled = posting.window(channel, _CHANNEL_LIMIT)
        if throttled is not None:
            return throttled
        content = _content(method, params, files)
        if isinstance(content, web.Response):
            return content
        text, items = content
        store = request.app[STORE]
        first = _next_message_id(store, channel)
        reply = params.get("reply_parameters")
        reply_to = reply.get("message_id") if isinstance(reply, dict) else None
        ids = [first + offset for offset in range(max(len(items), 1))]
        attached = [
            posting.add_media(
                media_id=f"sbx-{channel}-{message_id}",
                data=item.file.data,
                content_type=item.file.content_type,
            ).public()
            for message_id, item in zip(ids, items, strict=False)
            if item.file is not None
        ]
        posting.add(
            remote_id=f"{channel}/{first}",
            text=text,
            body=params,
            reply_to=f"{channel}/{reply_to}" if reply_to else None,
            meta={
                "message_id": first,
                "message_ids": ids,
                "photo": next((item.url for item in items if item.kind == "photo" and item.url), None),
                "media": attached,
            },
        )
        await posting.created()
        messages = [
            _message(channel, message_id, text if number == 0 else "", items[number : number + 1])
            for number, message_id in enumerate(ids)
        ]
        if method == "sendMediaGroup":
            for message in messages:
                message["media_group_id"] = str(first)
            return web.json_response({"ok": True, "result": messages})
        return web.json_response({"ok": True, "result": messages[0]})

    async def _private(
        self, request: web.Request, account: str, chat: str, method: str, params: dict[str, Any]
    ) -> web.Response:
        """The bot answers a person in their private chat with it ("sendMessage" with
        `reply_parameters.message_id`): only a chat that wrote to the bot exists for it, and the
        message answered must still be there (unless `allow_sending_without_reply`)."""
        audience = request.app[AUDIENCE]
        if audience.last_message(_NETWORK, account, chat) is None:
            return _failure(400, "Bad Request: chat not found")
        if method != "sendMessage":
            return _failure(400, "Bad Request: only sendMessage is emulated in private chats")
        posting = await Posting.start(request, _PRIVATE_CHAT, _NETWORK, account)
        if isinstance(posting, web.Response):
            return posting
        _state, throttled = posting.window(f"{account}:bot", _BOT_LIMIT)
        if throttled is not None:
            return throttled
        content = _content(method, params, {})
        if isinstance(content, web.Response):
            return content
        text, _items = content
        reply = params.get("reply_parameters")
        replied = reply.get("message_id") if isinstance(reply, dict) else None
        if replied is not None:
            answered = audience.get(_NETWORK, f"{chat}:{replied}")
            known = answered is not None and answered.account == account
            if not known and not (isinstance(reply, dict) and reply.get("allow_sending_without_reply")):
                return _failure(400, "Bad Request: message to be replied not found")
        message_id = request.app[MINT].next_id("tg-message", shift=0) % 10**9
        posting.add(
            remote_id=f"{chat}:{message_id}",
            text=text,
            body=params,
            reply_to=f"{chat}:{replied}" if replied is not None else None,
            meta={"answers": chat, "message_id": message_id},
        )
        await posting.created()
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": {"id": zlib.crc32(account.encode()), "is_bot": True, "username": f"{account}_bot"},
            "date": int(time.time()),
            "chat": {"id": int(chat), "type": "private"},
            "text": text,
        }
        if replied is not None:
            message["reply_to_message"] = {"message_id": replied, "chat": {"id": int(chat)}}
        return web.json_response({"ok": True, "result": message})


class _PrivateChat(TelegramApi):
    """The fault dialect of a person's private chat: a blocked bot is one the person blocked."""

    def blocked(self) -> web.Response:
        return _failure(403, "Forbidden: bot was blocked by the user")


_PRIVATE_CHAT = _PrivateChat()


def _next_message_id(store: Store, channel: str) -> int:
    """Message ids count up per channel; an album takes one per item (private chats count apart)."""
    taken = [
        max(post.meta.get("message_ids") or [post.meta.get("message_id", 0)])
        for post in store.posts(network=_NETWORK, account=channel)
        if not post.meta.get("answers")
    ]
    return max(taken, default=0) + 1


def _message(channel: str, message_id: int, text: str, items: list[_Item]) -> dict[str, Any]:
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
    if not items:
        message["text"] = text
        return message
    if text:
        message["caption"] = text
    item = items[0]
    size = len(item.file.data) if item.file is not None else 0
    file = {"file_id": f"sbx-{channel}-{message_id}", "file_unique_id": f"sbx{message_id}", "file_size": size}
    if item.kind == "photo":
        message["photo"] = [{**file, "width": 1280, "height": 720}]
    else:
        message["video"] = {**file, "width": 1280, "height": 720, "duration": 1}
    return message


async def _read_call(request: web.Request) -> tuple[dict[str, Any], dict[str, _File]] | web.Response:
    """The call's parameters (JSON-serialized objects decoded) and its uploaded files."""
    files: dict[str, _File] = {}
    if request.content_type == "multipart/form-data":
        form: dict[str, Any] = {}
        total, reader = 0, await request.multipart()
        # Read the parts' streams: uploads may exceed aiohttp's default request size.
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or not part.name:
                continue
            data = bytearray()
            while chunk := await part.read_chunk(64 * 1024):
                total += len(chunk)
                if total <= _MAX_REQUEST:
                    data += chunk
            if part.filename is None:
                form[part.name] = data.decode(errors="replace")
            else:
                content_type = part.headers.get("Content-Type", "application/octet-stream")
                files[part.name] = _File(bytes(data), content_type)
        if total > _MAX_REQUEST:
            return _failure(413, "Request Entity Too Large")
        params: dict[str, Any] | None = form
    else:
        params = await read_params(request)
    if params is None:
        return _failure(400, "Bad Request: can't parse JSON object")
    for name in _JSON_FIELDS:
        if isinstance(params.get(name), str):
            try:
                params[name] = json.loads(params[name])
            except json.JSONDecodeError:
                return _failure(400, f"Bad Request: can't parse {name} JSON object")
    return params, files


def _item(kind: str, value: object, files: dict[str, _File], *, attach: bool) -> _Item | web.Response:
    """One photo or video given as an uploaded part, an `attach://` name, or an HTTP URL."""
    if isinstance(value, _File):
        file = value
    elif isinstance(value, str) and attach and value.startswith("attach://") and value[9:] in files:
        file = files[value[9:]]
    elif isinstance(value, str) and value.startswith(("http://", "https://")):
        return _Item(kind, None, value)
    else:
        return _failure(400, "Bad Request: wrong remote file identifier specified")
    if kind == "photo":
        if len(file.data) > _MAX_PHOTO:
            return _failure(400, "Bad Request: file is too big")
        if not file.data.startswith(_IMAGE_MAGIC) and file.data[8:12] != b"WEBP":
            return _failure(400, "Bad Request: IMAGE_PROCESS_FAILED")
    return _Item(kind, file, None)


def _content(
    method: str, params: dict[str, Any], files: dict[str, _File]
) -> tuple[str, list[_Item]] | web.Response:
    """The message's text (or caption) and its photos or videos, or the Bot API's refusal."""
    if method == "sendMessage":
        text = str(params.get("text") or "")
        if not text.strip():
            return _failure(400, "Bad Request: message text is empty")
        if _utf16(text) > _MAX_TEXT:
            return _failure(400, "Bad Request: message is too long")
        return text, []
    if method in ("sendPhoto", "sendVideo"):
        kind = "photo" if method == "sendPhoto" else "video"
        caption = str(params.get("caption") or "")
        item = _item(kind, files.get(kind, params.get(kind)), files, attach=False)
        entries: list[tuple[str, _Item | web.Response]] = [(caption, item)]
    else:
        album = params.get("media")
        low, high = _ALBUM
        if not isinstance(album, list) or not low <= len(album) <= high:
            return _failure(400, "Bad Request: wrong number of media in the album: must be 2-10")
        entries = []
        for entry in album:
            if not isinstance(entry, dict) or entry.get("type") not in ("photo", "video"):
                return _failure(400, "Bad Request: unsupported media type in the album")
            item = _item(str(entry["type"]), entry.get("media"), files, attach=True)
            entries.append((str(entry.get("caption") or ""), item))
    items = []
    for _caption, each in entries:
        if isinstance(each, web.Response):
            return each
        items.append(each)
    caption = entries[0][0]
    if _utf16(caption) > _MAX_CAPTION:
        return _failure(400, "Bad Request: message caption is too long")
    return caption, items


def add_routes(app: web.Application) -> None:
    add_api(app, TelegramApi())
