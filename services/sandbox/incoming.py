"""Incoming traffic on demand for networks that notify the account (Mastodon, Bluesky, X), for the inbox.

- `POST /_sandbox/incoming` with `{"network", "account", "texts"? | "count"?, "reply_to"?, "author"?,
  "duplicates"?, "at"?, "private"?}` makes `count` people (default: one per text, else 1) write to
  the account, as `people.Writing` reads it: each item is a new status (post…) of the network,
  notified to the account; with `reply_to` (a status id the network knows: one of the account's
  posts or an earlier item) each answers that status, otherwise each mentions the account.
  `duplicates` notifies the first N items a second time, under new notification ids: a network
  repeating itself (a federation redelivery). `at`, one Unix time per item (up to now), is when each
  was written: the network's `created_at` (default: now), for a replay of past traffic. `private:
  true` makes them private messages (Mastodon's `direct` statuses; only the emulators of networks
  that notify private messages take it). Answers 201 `{"items": [...]}`, each with its
  `notification_id` and `item_id`.
- `POST /_sandbox/incoming/again` with `{"network", "account"}` notifies every item the account had
  once more (new notification ids, the same items): a re-listing. 201 `{"items": [...]}`.
- `POST /_sandbox/incoming/purge` with `{"network", "account", "notification_ids"}` deletes those
  notifications (as a person dismissing them would): a reader's cursor may name one that is gone.

Sandbox-only, like the inspection and fault routes (`/_sandbox/…`): only networks whose emulator
has notifications (`Emulator.incoming_ids`) take them (YouTube and LinkedIn have their own comment
writers); anything else is a 400 with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .clock import is_past_time
from .emulators import EMULATORS
from .people import MAX_WRITTEN, Writing, refused
from .store import STORE, IncomingItem, format_instant

__all__ = ["add_routes"]

Mint = Callable[[web.Application, str], tuple[str, str]]


def _network(data: dict[str, Any]) -> tuple[str, Mint] | web.Response:
    """The network named, with how its emulator mints ids, or the refusal."""
    network = data.get("network")
    emulator = EMULATORS.get(network) if isinstance(network, str) else None
    if emulator is None or emulator.incoming_ids is None:
        readers = sorted(name for name, e in EMULATORS.items() if e.incoming_ids is not None)
        return refused(f"network must be one whose emulator notifies what people write: {readers}")
    return str(network), emulator.incoming_ids


async def _object(request: web.Request) -> dict[str, Any] | web.Response:
    """The JSON object of a request naming an account (the routes that write nothing new)."""
    try:
        data = await request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("account"), str) or not data["account"]:
        return refused("send a JSON object with the account written to")
    return data


async def _generate(request: web.Request) -> web.Response:
    writing = await Writing.read(request)
    if isinstance(writing, web.Response):
        return writing
    named = _network(writing.data)
    if isinstance(named, web.Response):
        return named
    network, mint = named
    duplicates, author = writing.data.get("duplicates", 0), writing.data.get("author", "")
    if (
        not isinstance(duplicates, int)
        or isinstance(duplicates, bool)
        or not 0 <= duplicates <= writing.count
    ):
        return refused(f"duplicates must be a whole number from 0 to count (at most {MAX_WRITTEN})")
    if not isinstance(author, str):
        return refused("author must be a string")
    private = writing.data.get("private", False)
    if not isinstance(private, bool):
        return refused("private must be true or false")
    if private and not EMULATORS[network].private_notified:
        notifying = sorted(name for name, e in EMULATORS.items() if e.private_notified)
        return refused(f"private: only {notifying} notify private messages; {network} has its own API")
    dates = _dates(writing.data.get("at"), writing.count)
    if isinstance(dates, web.Response):
        return dates
    store = request.app[STORE]
    reply_to = writing.data.get("reply_to")
    if reply_to is not None:
        reply_to = str(reply_to)
        if store.by_remote_id(network, reply_to) is None and store.incoming_item(network, reply_to) is None:
            return refused(f"reply_to names no status the {network} emulator knows")
    now = format_instant(datetime.now(UTC))
    items: list[IncomingItem] = []
    for number in range(writing.count):
        who = author or f"citizen{number + 1}"
        notification_id, item_id = mint(request.app, who)
        items.append(
            IncomingItem(
                notification_id,
                network,
                writing.account,
                item_id,
                who,
                writing.text(number),
                reply_to,
                dates[number] if dates else now,
                private,
            )
        )
    items += [_notified_again(request.app, mint, item) for item in items[:duplicates]]
    store.add_incoming(items)
    return web.json_response({"items": [item.public() for item in items]}, status=201)


def _dates(at: object, count: int) -> Sequence[str] | web.Response | None:
    """The items' dates (`at`: one Unix time per item, none after now), stored-instant text; None
    when not given."""
    if at is None:
        return None
    now = time.time()
    if not isinstance(at, list) or len(at) != count or not all(is_past_time(moment, now) for moment in at):
        return refused("at must be a list of Unix times up to now, one per item")
    return [format_instant(datetime.fromtimestamp(moment, UTC)) for moment in at]


def _notified_again(app: web.Application, mint: Mint, item: IncomingItem) -> IncomingItem:
    """The same item, notified again under a new id."""
    return replace(item, notification_id=mint(app, item.author)[0])


async def _again(request: web.Request) -> web.Response:
    data = await _object(request)
    if isinstance(data, web.Response):
        return data
    named = _network(data)
    if isinstance(named, web.Response):
        return named
    network, mint = named
    store = request.app[STORE]
    items = [_notified_again(request.app, mint, item) for item in store.incoming(network, data["account"])]
    store.add_incoming(items)
    return web.json_response({"items": [item.public() for item in items]}, status=201)


async def _purge(request: web.Request) -> web.Response:
    data = await _object(request)
    if isinstance(data, web.Response):
        return data
    named = _network(data)
    if isinstance(named, web.Response):
        return named
    ids = data.get("notification_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        return refused("notification_ids must be a non-empty list of strings")
    purged = request.app[STORE].purge_incoming(named[0], data["account"], ids)
    return web.json_response({"purged": purged})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/_sandbox/incoming", _generate)
    app.router.add_post("/_sandbox/incoming/again", _again)
    app.router.add_post("/_sandbox/incoming/purge", _purge)
