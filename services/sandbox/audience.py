"""What people wrote to the pages of the networks that push it (Facebook comments and Messenger,
Instagram comments, Telegram messages to a bot): the items a page's answers are checked against.

These networks have no read API the dispatcher polls: their items reach the hub by webhook
(webhooks.py records each item it pushes here). Their reply endpoints then answer as the networks
do: a reply to a comment the page does not have (or that was deleted) is refused, Messenger counts
its 24-hour window from the person's last message, a bot answers only chats that wrote to it.

Sandbox-only routes, for tests and the demo (no webhook needed):
- `POST /_sandbox/audience` `{"network", "account", "kind": "comment" | "message", "texts"? |
  "count"?, "root"?, "parent"?, "author"?: {"id", "name"}, "at"?}` writes items as `people.py`
  reads them: `root` is the post or media commented (Facebook `{page}_{post}`, Instagram's media id)
  or the chat (Messenger's PSID, Telegram's chat id), minted when absent; `parent` the comment a
  reply answers; `at` the Unix time they were written (default now: an older one closes Messenger's
  window). Answers 201 `{"items": [{"id", "root_id"}]}`, ids shaped as the network's webhooks give them.
- `DELETE /_sandbox/audience/{network}/{item_id}`: the person deleted the item (200, or 404).
- `GET /_sandbox/audience/{network}/{account}`: what the public sees of the account's items (not
  deleted, not hidden by the page with the network's moderation API), oldest first:
  `{"items": [{"id", "kind", "root_id", "parent_id", "text"}]}`.

A comment the page hid (`set_hidden`) stays: its author and the page still reach it (the Comment node
answers with its hidden flag, a reply to it is still accepted), but it leaves every public listing,
the comment replies edges included (the stricter reading: the Graph shows them to the page too).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from .common import MINT, IdMint
from .people import Writing, refused

__all__ = ["AUDIENCE", "Audience", "Written", "add_routes", "item_id_for"]

_KINDS = {"facebook": ("comment", "message"), "instagram": ("comment",), "telegram": ("message",)}


@dataclass(frozen=True)
class Written:
    """One item a person wrote to a page: a comment (or a reply to one) or a private message."""

    network: str
    account: str  # the page (Facebook page id, Instagram account id, Telegram bot's page)
    item_id: str
    kind: str  # "comment" or "message"
    root_id: str  # the post or media commented, or the chat
    parent_id: str | None  # the comment a reply answers
    author_id: str
    author_name: str
    text: str
    created: float  # Unix time
    deleted: bool = False
    hidden: bool = False  # hidden by the page (Facebook `is_hidden`, Instagram `hide`)


class Audience:
    """The items people wrote, in memory (like the YouTube and LinkedIn emulators' comments)."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], Written] = {}

    def add(self, item: Written) -> Written:
        self._items[(item.network, item.item_id)] = item
        return item

    def get(self, network: str, item_id: str) -> Written | None:
        """The item, unless unknown or deleted."""
        item = self._items.get((network, item_id))
        return None if item is None or item.deleted else item

    def delete(self, network: str, item_id: str) -> bool:
        item = self._items.get((network, item_id))
        if item is None:
            return False
        self._items[(network, item_id)] = replace(item, deleted=True)
        return True

    def set_hidden(self, network: str, item_id: str, hidden: bool) -> bool:
        """Hide the item from the public (or show it again); False when it is unknown or deleted.
        Hiding a hidden item changes nothing and is not an error (the networks answer success again)."""
        item = self.get(network, item_id)
        if item is None:
            return False
        self._items[(network, item_id)] = replace(item, hidden=hidden)
        return True

    def answers(self, network: str, parent_id: str) -> list[Written]:
        """The people's replies to a comment that the public sees, oldest first."""
        found = [i for i in self._items.values() if i.network == network and i.parent_id == parent_id]
        return [i for i in sorted(found, key=lambda i: i.created) if not i.deleted and not i.hidden]

    def public(self, network: str, account: str) -> list[Written]:
        """The account's items the public sees (neither deleted nor hidden), oldest first."""
        found = [i for i in self._items.values() if (i.network, i.account) == (network, account)]
        return [i for i in sorted(found, key=lambda i: i.created) if not i.deleted and not i.hidden]

    def last_message(self, network: str, account: str, chat: str) -> float | None:
        """When the person of `chat` last wrote privately to `account`, if ever."""
        return max(
            (
                i.created
                for i in self._items.values()
                if (i.network, i.account, i.root_id, i.kind) == (network, account, chat, "message")
            ),
            default=None,
        )


AUDIENCE = web.AppKey("sandbox_audience", Audience)


def item_id_for(mint: IdMint, network: str, kind: str, root: str) -> str:
    """A fresh item id, shaped as the network gives it (see webhooks.py and the hub's parsers)."""
    if network == "facebook" and kind == "message":
        return f"m_{secrets.token_urlsafe(18)}"
    if network == "facebook":
        return f"{root.rpartition('_')[2]}_{mint.next_id('fb-comment', shift=0)}"
    if network == "telegram":
        return f"{root}:{mint.next_id('tg-message', shift=0) % 10**9}"
    return str(mint.next_id("ig-comment", shift=0))


def _root(mint: IdMint, network: str, kind: str, account: str) -> str:
    if network == "facebook" and kind == "comment":
        return f"{account}_{mint.next_id('fb-post', shift=0)}"
    if network == "telegram":
        return str(mint.next_id("tg-chat", shift=0) % 10**10)
    return str(mint.next_id(f"{network}-root", shift=0))


async def _write(request: web.Request) -> web.Response:
    writing = await Writing.read(request)
    if isinstance(writing, web.Response):
        return writing
    data: dict[str, Any] = writing.data
    network, kind = data.get("network"), data.get("kind", "comment")
    if network not in _KINDS or kind not in _KINDS[str(network)]:
        return refused(f"network and kind must be one of {_KINDS}")
    mint, book = request.app[MINT], request.app[AUDIENCE]
    root, parent, author = data.get("root"), data.get("parent"), data.get("author") or {}
    at = data.get("at", time.time())
    if not isinstance(at, int | float) or isinstance(at, bool):
        return refused("at must be a Unix time")
    if not isinstance(author, dict) or not (root is None or isinstance(root, str | int)):
        return refused("author must be {id, name}; root a string")
    if parent is not None:
        answered = book.get(str(network), str(parent))
        if answered is None or answered.account != writing.account or answered.kind != "comment":
            return refused("parent names no comment of this account")
        root = answered.root_id
    root = str(root) if root is not None else _root(mint, str(network), str(kind), writing.account)
    author_id = str(author.get("id") or (root if kind == "message" else mint.next_id("person", shift=0)))
    written = []
    for number in range(writing.count):
        item = book.add(
            Written(
                network=str(network),
                account=writing.account,
                item_id=item_id_for(mint, str(network), str(kind), root),
                kind=str(kind),
                root_id=root,
                parent_id=str(parent) if parent is not None else None,
                author_id=author_id,
                author_name=str(author.get("name") or "Camille"),
                text=writing.text(number),
                created=float(at),
            )
        )
        written.append({"id": item.item_id, "root_id": item.root_id})
    return web.json_response({"items": written}, status=201)


async def _delete(request: web.Request) -> web.Response:
    deleted = request.app[AUDIENCE].delete(request.match_info["network"], request.match_info["item_id"])
    return web.json_response({"deleted": deleted}, status=200 if deleted else 404)


async def _public(request: web.Request) -> web.Response:
    items = request.app[AUDIENCE].public(request.match_info["network"], request.match_info["account"])
    listing = [
        {"id": i.item_id, "kind": i.kind, "root_id": i.root_id, "parent_id": i.parent_id, "text": i.text}
        for i in items
    ]
    return web.json_response({"items": listing})


def add_routes(app: web.Application) -> None:
    app[AUDIENCE] = Audience()
    app.router.add_post("/_sandbox/audience", _write)
    app.router.add_get("/_sandbox/audience/{network}/{account}", _public)
    app.router.add_delete("/_sandbox/audience/{network}/{item_id}", _delete)
