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

Reading and answering what people send the pages (the inbox) has its own contract, `conversations.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal, Protocol

from shared.networks.facts import Capability

__all__ = [
    "Caption",
    "DeliveryError",
    "ErrorKind",
    "Media",
    "NetworkAdapter",
    "PageAccount",
    "Publication",
    "RateHint",
    "RateObserver",
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
    private_replies_read_back: ClassVar[bool]  # `find_reply` finds answers to private messages too
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
