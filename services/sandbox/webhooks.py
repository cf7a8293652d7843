"""The networks' webhooks, sent on demand: the sandbox pushes what a person would have written to a
page, the way Meta and Telegram push it, to the hub's public endpoints (services/hub/webhooks.py).

- `POST /_sandbox/webhooks/meta` `{"kind": "comment" | "reply" | "message" | "instagram_comment",
  "page_id", "text", "post_id"?, "parent_id"?, "author"?: {"id", "name"}, "count"?: n, "copies"?: n,
  "signature"?: "valid" | "missing" | "wrong", "callback"?}` builds one notification (Meta's
  "Webhooks for Pages" `feed` change, a Messenger `messaging` event, or an Instagram `comments`
  change: then `page_id` is the account's id and `post_id` the media's) with `count` items, signs it
  as Meta does (`X-Hub-Signature-256`, HMAC-SHA256 of the body under the sandbox's app secret) and
  delivers it `copies` times (duplicates, as Meta sends at least once).
- `POST /_sandbox/webhooks/telegram` `{"page", "chat_id"?, "text", "reply_to"?, "copies"?,
  "secret"?: "valid" | "missing" | "wrong", "callback"?}` delivers one `Update` with the page's
  secret token (setWebhook's `secret_token`), `copies` times with the same `update_id`.
- `POST /_sandbox/webhooks/meta/subscribe` `{"verify_token"?, "callback"?}` runs Meta's handshake.

Each delivery is retried, as the networks do, while the answer is not 2xx (or the call fails):
up to `attempts` (default 5) at 0.1 s, 0.2 s, 0.4 s… (Meta's retries spread over 36 hours,
compressed). The answer tells every attempt's status and the items' ids. The callback is the hub's
address from `RELAIS_SANDBOX_WEBHOOK_URL` unless the request names another.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import aiohttp
from aiohttp import web

from .audience import AUDIENCE, Written
from .common import MINT

__all__ = [
    "SANDBOX_META_APP_SECRET",
    "SANDBOX_META_VERIFY_TOKEN",
    "WEBHOOK_URL",
    "add_routes",
    "sandbox_telegram_secret",
]

# The sandbox's Meta app and its bots: `relais` configures the hub with the same values for `make
# run` (relais/system.py), as it writes the sandbox's network credentials.
SANDBOX_META_APP_SECRET = "sbx-meta-app-secret"
SANDBOX_META_VERIFY_TOKEN = "sbx-meta-verify-token"

WEBHOOK_URL = web.AppKey("webhook_url", str)
MAX_ATTEMPTS = 10
FIRST_RETRY_DELAY = 0.1


def sandbox_telegram_secret(page: str) -> str:
    """The secret token the sandbox's bot of `page` sends (letters, digits, `_` and `-`, as
    setWebhook requires)."""
    return f"sbx-telegram-{page}"


def meta_signature(body: bytes, secret: str = SANDBOX_META_APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _text(body: dict[str, Any], name: str, default: str | None = None) -> str:
    value = body.get(name, default)
    if not isinstance(value, str) or (default is None and not value):
        raise _Refused(f"{name} must be a non-empty string")
    return value


def _number(body: dict[str, Any], name: str, default: int, most: int) -> int:
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= most:
        raise _Refused(f"{name} must be an integer from 1 to {most}")
    return value


def _callback(request: web.Request, body: dict[str, Any], path: str) -> str:
    base = body.get("callback") or request.app[WEBHOOK_URL]
    if not isinstance(base, str) or not base.startswith(("http://", "https://")):
        raise _Refused("no callback: give one, or start the sandbox with RELAIS_SANDBOX_WEBHOOK_URL")
    return base.rstrip("/") + path


async def _deliver(
    url: str, body: bytes, headers: dict[str, str], attempts: int, copies: int
) -> list[list[int | str]]:
    """Each copy delivered until a 2xx answer or `attempts` tries; each attempt's status (or why the
    call failed)."""
    tries: list[list[int | str]] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        for _ in range(copies):
            statuses: list[int | str] = []
            for attempt in range(attempts):
                if attempt:
                    await asyncio.sleep(FIRST_RETRY_DELAY * 2 ** (attempt - 1))
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        statuses.append(response.status)
                        if 200 <= response.status < 300:
                            break
                except (aiohttp.ClientError, TimeoutError) as exc:
                    statuses.append(type(exc).__name__)
            tries.append(statuses)
    return tries


def _meta_items(request: web.Request, body: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    kind = _text(body, "kind", "comment")
    if kind not in ("comment", "reply", "message", "instagram_comment"):
        raise _Refused("kind must be comment, reply, message or instagram_comment")
    page_id = _text(body, "page_id")
    text = _text(body, "text")
    count = _number(body, "count", 1, 1000)
    author = body.get("author") or {
        "id": str(request.app[MINT].next_id("fb-user", shift=0)),
        "name": "Camille",
    }
    if not isinstance(author, dict):
        raise _Refused("author must be {id, name}")
    now = int(time.time())
    ids: list[str] = []
    if kind == "instagram_comment":
        return _instagram(request, body, page_id, text, count, author, now)
    if kind == "message":
        events = []
        for _ in range(count):
            mid = f"m_{secrets.token_urlsafe(18)}"
            ids.append(mid)
            psid = str(author.get("id", ""))
            _remember(request, "facebook", page_id, mid, "message", psid, None, author, text)
            events.append(
                {
                    "sender": {"id": str(author.get("id", ""))},
                    "recipient": {"id": page_id},
                    "timestamp": now * 1000,
                    "message": {"mid": mid, "text": text},
                }
            )
        entry: dict[str, Any] = {"id": page_id, "time": now * 1000, "messaging": events}
    else:
        post_id = _text(body, "post_id", f"{page_id}_{request.app[MINT].next_id('fb-post', shift=0)}")
        parent = _text(body, "parent_id") if kind == "reply" else post_id
        changes = []
        for _ in range(count):
            comment_id = f"{post_id.rpartition('_')[2]}_{request.app[MINT].next_id('fb-comment', shift=0)}"
            ids.append(comment_id)
            answered = parent if kind == "reply" else None
            _remember(request, "facebook", page_id, comment_id, "comment", post_id, answered, author, text)
            value = {
                "from": {"id": str(author.get("id", "")), "name": str(author.get("name", ""))},
                "item": "comment",
                "verb": "add",
                "comment_id": comment_id,
                "post_id": post_id,
                "parent_id": parent,
                "message": text,
                "created_time": now,
            }
            changes.append({"field": "feed", "value": value})
        entry = {"id": page_id, "time": now, "changes": changes}
    return {"object": "page", "entry": [entry]}, ids


def _instagram(
    request: web.Request, body: dict[str, Any], account_id: str, text: str, count: int, author: Any, now: int
) -> tuple[dict[str, Any], list[str]]:
    """Instagram's `comments` changes ("Instagram webhooks"): `page_id` is the account's id,
    `post_id` the media's, `parent_id` the comment a reply answers."""
    media = _text(body, "post_id", str(request.app[MINT].next_id("ig-media", shift=0)))
    parent = body.get("parent_id")
    ids: list[str] = []
    changes = []
    for _ in range(count):
        comment_id = str(request.app[MINT].next_id("ig-comment", shift=0))
        ids.append(comment_id)
        answered = parent if isinstance(parent, str) and parent else None
        _remember(request, "instagram", account_id, comment_id, "comment", media, answered, author, text)
        value: dict[str, Any] = {
            "from": {"id": str(author.get("id", "")), "username": str(author.get("name", ""))},
            "media": {"id": media, "media_product_type": "FEED"},
            "id": comment_id,
            "text": text,
        }
        if isinstance(parent, str) and parent:
            value["parent_id"] = parent
        changes.append({"field": "comments", "value": value})
    return {"object": "instagram", "entry": [{"id": account_id, "time": now, "changes": changes}]}, ids


def _remember(
    request: web.Request,
    network: str,
    account: str,
    item_id: str,
    kind: str,
    root: str,
    parent: str | None,
    author: Any,
    text: str,
) -> None:
    """Keep what a person wrote, as the network does: the page's answers are checked against it."""
    request.app[AUDIENCE].add(
        Written(
            network=network,
            account=account,
            item_id=item_id,
            kind=kind,
            root_id=root,
            parent_id=parent,
            author_id=str(author.get("id", "")),
            author_name=str(author.get("name", "")),
            text=text,
            created=time.time(),
        )
    )


async def send_meta(request: web.Request) -> web.Response:
    try:
        body = await _json(request)
        notification, ids = _meta_items(request, body)
        mode = _text(body, "signature", "valid")
        if mode not in ("valid", "missing", "wrong"):
            raise _Refused("signature must be valid, missing or wrong")
        url = _callback(request, body, "/webhooks/meta")
        attempts = _number(body, "attempts", 5, MAX_ATTEMPTS)
        copies = _number(body, "copies", 1, 10)
    except _Refused as exc:
        return _error(exc)
    raw = json.dumps(notification).encode()
    headers = {"Content-Type": "application/json"}
    if mode != "missing":
        secret = SANDBOX_META_APP_SECRET if mode == "valid" else "not-the-app-secret"
        headers["X-Hub-Signature-256"] = meta_signature(raw, secret)
    tries = await _deliver(url, raw, headers, attempts, copies)
    return web.json_response({"ids": ids, "deliveries": tries, "payload": notification})


async def send_telegram(request: web.Request) -> web.Response:
    try:
        body = await _json(request)
        page = _text(body, "page")
        text = _text(body, "text")
        chat_id = body.get("chat_id", request.app[MINT].next_id("tg-chat", shift=0) % 10**10)
        reply_to = body.get("reply_to")
        if not isinstance(chat_id, int) or not (reply_to is None or isinstance(reply_to, int)):
            raise _Refused("chat_id and reply_to must be integers")
        mode = _text(body, "secret", "valid")
        if mode not in ("valid", "missing", "wrong"):
            raise _Refused("secret must be valid, missing or wrong")
        url = _callback(request, body, f"/webhooks/telegram/{page}")
        attempts = _number(body, "attempts", 5, MAX_ATTEMPTS)
        copies = _number(body, "copies", 1, 10)
    except _Refused as exc:
        return _error(exc)
    message_id = request.app[MINT].next_id("tg-message", shift=0) % 10**9
    message: dict[str, Any] = {
        "message_id": message_id,
        "from": {"id": chat_id, "is_bot": False, "first_name": "Camille"},
        "chat": {"id": chat_id, "first_name": "Camille", "type": "private"},
        "date": int(time.time()),
        "text": text,
    }
    if reply_to is not None:
        message["reply_to_message"] = {
            "message_id": reply_to,
            "chat": {"id": chat_id},
            "date": int(time.time()),
        }
    author = {"id": chat_id, "name": "Camille"}
    item_id = f"{chat_id}:{message_id}"
    _remember(request, "telegram", page, item_id, "message", str(chat_id), None, author, text)
    update = {"update_id": request.app[MINT].next_id("tg-update", shift=0) % 10**9, "message": message}
    raw = json.dumps(update).encode()
    headers = {"Content-Type": "application/json"}
    if mode != "missing":
        token = sandbox_telegram_secret(page) if mode == "valid" else "not-the-secret-token"
        headers["X-Telegram-Bot-Api-Secret-Token"] = token
    tries = await _deliver(url, raw, headers, attempts, copies)
    return web.json_response({"ids": [f"{chat_id}:{message_id}"], "deliveries": tries, "payload": update})


async def subscribe_meta(request: web.Request) -> web.Response:
    """Meta's handshake: GET the callback with a fresh challenge; subscribed if it is echoed."""
    try:
        body = await _json(request)
        token = _text(body, "verify_token", SANDBOX_META_VERIFY_TOKEN)
        url = _callback(request, body, "/webhooks/meta")
    except _Refused as exc:
        return _error(exc)
    challenge = str(secrets.randbelow(10**10))
    query = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": challenge}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.get(url, params=query) as response:
            echoed = await response.text()
            status = response.status
    return web.json_response({"subscribed": status == 200 and echoed == challenge, "status": status})


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json() if request.can_read_body else {}
    except ValueError:
        raise _Refused("send a JSON object") from None
    if not isinstance(body, dict):
        raise _Refused("send a JSON object")
    return body


def _error(exc: _Refused) -> web.Response:
    return web.json_response(
        {"error": {"code": "invalid_request", "message": exc.message, "field": None}}, status=400
    )


def add_routes(app: web.Application, webhook_url: str) -> None:
    app[WEBHOOK_URL] = webhook_url
    app.router.add_post("/_sandbox/webhooks/meta", send_meta)
    app.router.add_post("/_sandbox/webhooks/meta/subscribe", subscribe_meta)
    app.router.add_post("/_sandbox/webhooks/telegram", send_telegram)
