"""The contract for what people send the pages (issue #15): the adapters that read comments, answer
them, hide them and read a post's figures implement these protocols beside `base.NetworkAdapter`
(the completeness test holds each capability to its methods).

Reading is always safe to repeat; an answer is published like a post (`base.Publication`, the same
`DeliveryError` and `UnknownOutcome`), and reconciled with `find_reply` before it is sent again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .base import PageAccount, Publication

__all__ = [
    "CommentHider",
    "CommentReader",
    "CursorExpired",
    "Engagement",
    "EngagementReader",
    "InboxBatch",
    "Incoming",
    "Replier",
    "ReplyTarget",
]


@dataclass(frozen=True)
class Incoming:
    """One item a network's read API shows for a page (issue #15): a comment, a reply, a mention or a
    private message. `text` is as the network gave it, unmasked: the inbox reader masks it before
    anything leaves the dispatcher."""

    item_id: str  # the network's own id: the item's key
    kind: str  # one of shared.schemas.INBOX_KINDS
    text: str
    root_id: str  # the thread's first item (our post, or the first message of a chat)
    parent_id: str | None = None
    author_name: str = ""
    author_id: str = ""
    created_at: float | None = None  # Unix time, as the network dated it
    remote_post_id: str | None = None  # our published post's network id, when the item answers one
    url: str | None = None


@dataclass(frozen=True)
class InboxBatch:
    """What one `read_comments` call found, oldest first, and the cursor to read on from next time."""

    items: tuple[Incoming, ...]
    cursor: str | None


@dataclass(frozen=True)
class ReplyTarget:
    """The item a reply answers, as the adapter needs it (from `shared.schemas.ReplyTo`)."""

    item_id: str  # the network's id of the item answered
    root_id: str  # the thread's first item
    kind: str  # the answered item's kind: `message` is answered in the private chat


@dataclass(frozen=True)
class Engagement:
    """A published post's figures as its network gives them (`read_engagement`); None where the
    network does not give that figure (never 0 in its place)."""

    likes: int | None = None
    shares: int | None = None
    replies: int | None = None
    views: int | None = None


class CursorExpired(Exception):
    """The network no longer knows the cursor (it expired, or the item it named was deleted): the
    reader starts again from the newest items, and the store's key drops what it already has."""


class CommentReader(Protocol):
    """What an adapter with the `read_comments` capability adds (the completeness test holds it)."""

    network: str

    async def read_comments(self, account: PageAccount, cursor: str | None) -> InboxBatch:
        """The items people sent the page since `cursor` (None: the newest the network shows),
        oldest first, with the next cursor. Raises `CursorExpired` when the network no longer knows
        the cursor, `DeliveryError` when the page cannot be read, `NotImplementedError` where the
        network has no `read_comments` capability."""
        ...


class Replier(Protocol):
    """What an adapter with the `reply` capability adds (the completeness test holds it)."""

    network: str

    async def reply(
        self, account: PageAccount, text: str, target: ReplyTarget, *, idempotency_key: str
    ) -> Publication:
        """Answer `target` on the page with `text` (one part: the formatter refused longer replies),
        through the network's reply API. Raises `DeliveryError` as `publish` does (a private chat the
        network no longer lets the page answer, such as Messenger past its 24-hour window, is
        `permanent` with those words), `UnknownOutcome` when the call may have landed."""
        ...

    async def find_reply(
        self, account: PageAccount, text: str, target: ReplyTarget, *, since: float
    ) -> Publication | None:
        """The reply as the network shows it among `target`'s answers, created at or after `since`,
        or None: the dispatcher reconciles an interrupted reply with it before sending again. Raises
        `NotImplementedError` where the network cannot read the page's answers back (Messenger's Send
        API, Telegram's Bot API): an interrupted reply there stays unconfirmed for a person to check,
        never sent again on its own."""
        ...


class CommentHider(Protocol):
    """What an adapter with the `hide_comments` capability adds (the completeness test holds it)."""

    network: str

    async def hide_comment(self, account: PageAccount, item_id: str) -> None:
        """Hide the item from the public with the network's moderation API (Facebook's `is_hidden`,
        Instagram's `hide`, YouTube's `comments.setModerationStatus`). Hiding a hidden item is not an
        error. Raises `DeliveryError` as `publish` does (an item deleted meanwhile is `permanent`)."""
        ...


class EngagementReader(Protocol):
    """What an adapter with the `read_engagement` capability adds (the completeness test holds it)."""

    network: str

    async def read_engagement(self, account: PageAccount, remote_id: str) -> Engagement:
        """The figures of the page's published post `remote_id` (a delivery's first part) now.
        Raises `DeliveryError` when the page cannot be read (a post deleted on the network is
        `permanent`)."""
        ...
