"""The contract between the dispatcher and its per-network adapters.

An adapter publishes one variant (one or more parts) to one page and answers with a
`Publication`, or raises:
- `DeliveryError` when the network answered and the outcome is known (`kind` says what to do:
  `permanent` — fix the post; `transient` — retry, after `retry_after` seconds when given;
  `auth` — the page needs a person to reconnect it);
- `UnknownOutcome` when the request may have reached the network but no answer came back
  (timeout or connection lost after sending): retrying blindly could post twice.

Both carry `part_ids`: the parts of a thread already published before the failure, so that the
dispatcher never posts them again; `publish(done=…)` resumes a thread after those parts.

Adapters of networks with a read API also implement `find`: the reconciliation step that looks
for a delivery on the page before the dispatcher decides to publish again. Where a network has
no read-back (`can_read_back = False`, Telegram channels through the Bot API), an unknown outcome
stays `unconfirmed` for a person to decide.

Every answer's rate-limit headers are reported to the `RateObserver` the adapter was built with,
so the dispatcher's token buckets follow what the network says.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Protocol

from shared.networks.facts import Capability

__all__ = [
    "Caption",
    "CommentReader",
    "CursorExpired",
    "DeliveryError",
    "ErrorKind",
    "InboxBatch",
    "Incoming",
    "Media",
    "NetworkAdapter",
    "PageAccount",
    "Publication",
    "RateHint",
    "RateObserver",
    "Replier",
    "ReplyTarget",
    "Scope",
    "UnknownOutcome",
]

ErrorKind = Literal["permanent", "transient", "auth"]
Scope = Literal["page", "app"]
_KINDS = frozenset({"permanent", "transient", "auth"})


@dataclass(frozen=True)
class PageAccount:
    """One page (an account on one network) and how to reach it."""

    page_id: str
    network: str
    handle: str
    # Kept out of repr: a logged or printed account must never show its token or password.
    credentials: Mapping[str, str] = field(repr=False)
    base_url: str
    # The network ids of the page's recent published deliveries, newest first, where the caller knows
    # them: networks with no "everything people wrote to the page" feed read comments post by post
    # (LinkedIn) and read these posts too. Others ignore it.
    recent_posts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Publication:
    """Where a variant now lives: the first part's id and public URL, and every part's id; and when
    the network dated it (Unix time), where its answer says (None: the dispatcher's clock stands in)."""

    remote_id: str
    url: str
    part_ids: tuple[str, ...] = ()
    published_at: float | None = None


@dataclass(frozen=True)
class Media:
    """One image or video to attach, in the post's order (a thread carries it on its first part).

    The dispatcher gives both: `data`, the bytes fetched from the hub's media store, for networks
    that take uploads (X, Mastodon, Bluesky, Facebook, LinkedIn, Telegram, YouTube), and `url`,
    where networks that fetch media themselves (Instagram, Threads) find it. `id` is Relais' own
    media id, usable as a file name; `alt` the description for people who cannot see it;
    `captions` a video's subtitle files (Bluesky embeds them), none unless given.
    """

    kind: Literal["image", "video", "document"]
    url: str | None = None
    data: bytes | None = field(default=None, repr=False)
    mime_type: str = "application/octet-stream"
    alt: str | None = None
    id: str = ""
    captions: tuple[Caption, ...] = ()


@dataclass(frozen=True)
class Caption:
    """A video's captions in one language: a WebVTT file (`text/vtt`)."""

    lang: str  # a BCP-47 language tag: "fr", "ar"…
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class RateHint:
    """What one answer's rate-limit headers said, for the page (account) or for the whole app."""

    scope: Scope
    limit: int | None = None
    remaining: int | None = None
    reset_at: float | None = None  # Unix time


RateObserver = Callable[["PageAccount", RateHint], None]


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


class DeliveryError(Exception):
    """The network answered and refused (or cannot take) the post.

    `message` is plain words a person can act on, `network_code` the network's own code as a
    string ("190", "InvalidToken", "429"…), `kind` one of permanent, transient or auth,
    `retry_after` the seconds the network asked us to wait, if it said. `throttled` marks a rate
    limit (waiting for the reset is not a failed attempt), with `scope` page or app;
    `maybe_created` marks an answer that does not prove the post was not created (a 500, 502 or
    504 from a gateway): the dispatcher reconciles before trying again.
    """

    def __init__(
        self,
        message: str,
        *,
        network_code: str | None,
        kind: str,
        retry_after: float | None = None,
        part_ids: tuple[str, ...] = (),
        throttled: bool = False,
        scope: Scope = "page",
        maybe_created: bool = False,
    ) -> None:
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {sorted(_KINDS)}, not {kind!r}")
        super().__init__(message)
        self.message = message
        self.network_code = network_code
        self.kind = kind
        self.retry_after = retry_after
        self.part_ids = part_ids
        self.throttled = throttled
        self.scope = scope
        self.maybe_created = maybe_created

    def __repr__(self) -> str:
        return f"DeliveryError({self.message!r}, network_code={self.network_code!r}, kind={self.kind!r})"


class UnknownOutcome(Exception):
    """The request may have been received (timeout or connection reset after sending): never retry blindly."""

    def __init__(self, message: str, *, part_ids: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.part_ids = part_ids


class NetworkAdapter(Protocol):
    network: str
    can_read_back: bool
    # What this adapter implements, held to the network's registered capabilities by the
    # completeness test (read_back: `find` answers; read_comments, reply: their methods).
    capabilities: ClassVar[frozenset[Capability]]

    async def publish(
        self,
        account: PageAccount,
        parts: Sequence[str],
        *,
        idempotency_key: str,
        link: str | None = None,
        facets: Sequence[Sequence[dict[str, object]] | None] | None = None,
        media: Sequence[Media] = (),
        content_warning: str | None = None,
        done: Sequence[str] = (),
        title: str | None = None,
        tags: Sequence[str] = (),
    ) -> Publication:
        """Publish `parts` (skipping the first `len(done)`, already published as `done`).

        `media` go with the first part; `content_warning` is Mastodon's spoiler text (no other
        network has one: they ignore it); `title` and `tags` are a presentation's or video's, as
        the network's rules rendered them (SlideShare, YouTube; the others ignore them).
        """
        ...

    async def find(
        self, account: PageAccount, parts: Sequence[str], *, idempotency_key: str, since: float
    ) -> Publication | None:
        """The delivery as the page shows it, created at or after `since` (Unix time).

        Returns the longest published prefix of the thread (`part_ids` may be shorter than
        `parts`), or None when nothing is there. Raises `DeliveryError` when the page cannot be
        read, `NotImplementedError` where the network has no read-back.
        """
        ...


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
