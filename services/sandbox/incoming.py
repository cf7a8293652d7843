"""Incoming traffic on demand: what people send the fake accounts, for the inbox (issue #15).

- `POST /_sandbox/incoming` with `{"network", "account", "count"?, "texts"?, "reply_to"?, "author"?,
  "duplicates"?, "again"?}` makes `count` people (default: one per text, else 1) write to the
  account: each item is a new status (post, comment…) of the network, notified to the account; with
  `reply_to` (a status id the network knows: one of the account's posts or an earlier item) each
  answers that status, otherwise each mentions the account. `duplicates` notifies the first N
  items a second time, and `again: true` notifies every item the account already had once more,
  with new notification ids: a network repeating itself (a federation redelivery, a re-listing).
  Answers 201 `{"items": [...]}`, each with its `notification_id` and `item_id`.
- `POST /_sandbox/incoming/purge` with `{"network", "account", "notification_ids"}` deletes those
  notifications (as a person dismissing them would): a reader's cursor may name one that is gone.

Sandbox-only, like the inspection and fault routes (`/_sandbox/…`): only networks whose emulator
reads comments (`Emulator.incoming_ids`) take them; anything else is a 400 with the reason.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .emulators import EMULATORS
from .store import STORE, IncomingItem, format_instant

__all__ = ["add_routes"]

_MAX_COUNT = 1000


async def _body(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        data = await request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return _refused("send a JSON object")
    network, account = data.get("network"), data.get("account")
    emulator = EMULATORS.get(network) if isinstance(network, str) else None
    if emulator is None or emulator.incoming_ids is None:
        readers = sorted(name for name, e in EMULATORS.items() if e.incoming_ids is not None)
        return _refused(f"network must be one whose emulator reads comments: {readers}")
    if not isinstance(account, str) or not account:
        return _refused("account is required")
    return data


def _refused(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


def _whole(data: dict[str, Any], name: str, default: int) -> int | None:
    value = data.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= _MAX_COUNT:
        return None
    return value


async def _generate(request: web.Request) -> web.Response:
    data = await _body(request)
    if isinstance(data, web.Response):
        return data
    network, account = str(data["network"]), str(data["account"])
    texts = data.get("texts", [])
    if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
        return _refused("texts must be a list of strings")
    count = _whole(data, "count", len(texts) or 1)
    duplicates = _whole(data, "duplicates", 0)
    if count is None or duplicates is None or duplicates > count:
        return _refused(f"count and duplicates must be whole numbers, duplicates ≤ count ≤ {_MAX_COUNT}")
    author, reply_to = data.get("author", ""), data.get("reply_to")
    if not isinstance(author, str):
        return _refused("author must be a string")
    store = request.app[STORE]
    if reply_to is not None:
        reply_to = str(reply_to)
        if store.by_remote_id(network, reply_to) is None and store.incoming_item(network, reply_to) is None:
            return _refused(f"reply_to names no status the {network} emulator knows")
    mint = EMULATORS[network].incoming_ids
    assert mint is not None  # checked by _body
    now = format_instant(datetime.now(UTC))
    items: list[IncomingItem] = []
    for number in range(count):
        who = author or f"citizen{number + 1}"
        notification_id, item_id = mint(request.app, who)
        text = texts[number % len(texts)] if texts else f"Question {number + 1}"
        items.append(IncomingItem(notification_id, network, account, item_id, who, text, reply_to, now))
    repeated = items[:duplicates]
    if data.get("again") is True:
        repeated = [*store.incoming(network, account), *repeated]
    for item in repeated:  # the same item, notified again under a new id
        items.append(replace(item, notification_id=mint(request.app, item.author)[0]))
    store.add_incoming(items)
    return web.json_response({"items": [item.public() for item in items]}, status=201)


async def _purge(request: web.Request) -> web.Response:
    data = await _body(request)
    if isinstance(data, web.Response):
        return data
    ids = data.get("notification_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        return _refused("notification_ids must be a non-empty list of strings")
    purged = request.app[STORE].purge_incoming(str(data["network"]), str(data["account"]), ids)
    return web.json_response({"purged": purged})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/_sandbox/incoming", _generate)
    app.router.add_post("/_sandbox/incoming/purge", _purge)
