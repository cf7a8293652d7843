"""The contract between the dispatcher and its per-network adapters.

An adapter publishes one variant (one or more parts) to one page and answers with a
`Publication`, or raises:
- `DeliveryError` when the network answered and the outcome is known (`kind` says what to do:
  `permanent` — fix the post; `transient` — retry, after `retry_after` seconds when given;
  `auth` — the page needs a person to reconnect it);
- `UnknownOutcome` when the request may have reached the network but no answer came back
  (timeout or connection lost after sending): retrying blindly could post twice.

Both carry `part_ids`: the parts of a thread already published before the failure, so that the
dispatcher never posts them again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import aiohttp

__all__ = [
    "DeliveryError",
    "ErrorKind",
    "NetworkAdapter",
    "PageAccount",
    "Publication",
    "UnknownOutcome",
    "adapter_for",
]

ErrorKind = Literal["permanent", "transient", "auth"]
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


@dataclass(frozen=True)
class Publication:
    """Where a variant now lives: the first part's id and public URL, and every part's id."""

    remote_id: str
    url: str
    part_ids: tuple[str, ...] = ()


class DeliveryError(Exception):
    """The network answered and refused (or cannot take) the post.

    `message` is plain words a person can act on, `network_code` the network's own code as a
    string ("190", "InvalidToken", "429"…), `kind` one of permanent, transient or auth,
    `retry_after` the seconds the network asked us to wait, if it said.
    """

    def __init__(
        self,
        message: str,
        *,
        network_code: str | None,
        kind: str,
        retry_after: float | None = None,
        part_ids: tuple[str, ...] = (),
    ) -> None:
        if kind not in _KINDS:
            raise ValueError(f"kind must be one of {sorted(_KINDS)}, not {kind!r}")
        super().__init__(message)
        self.message = message
        self.network_code = network_code
        self.kind = kind
        self.retry_after = retry_after
        self.part_ids = part_ids

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

    async def publish(
        self,
        account: PageAccount,
        parts: Sequence[str],
        *,
        idempotency_key: str,
        link: str | None = None,
        facets: Sequence[Sequence[dict[str, object]] | None] | None = None,
    ) -> Publication: ...


def adapter_for(network: str, session: aiohttp.ClientSession) -> NetworkAdapter:
    """The adapter for `network`, sending through `session`.

    Build one adapter per network and session and keep it: the Bluesky adapter caches each
    account's session (a PDS allows only a few logins per account and day).
    """
    # Imported here because every adapter module imports this one.
    from .bluesky import BlueskyAdapter
    from .facebook import FacebookAdapter
    from .linkedin import LinkedInAdapter
    from .mastodon import MastodonAdapter
    from .x import XAdapter

    adapters: dict[
        str, type[XAdapter | MastodonAdapter | BlueskyAdapter | LinkedInAdapter | FacebookAdapter]
    ] = {
        "x": XAdapter,
        "mastodon": MastodonAdapter,
        "bluesky": BlueskyAdapter,
        "linkedin": LinkedInAdapter,
        "facebook": FacebookAdapter,
    }
    if network not in adapters:
        raise ValueError(f"no adapter for network {network!r}; known: {', '.join(sorted(adapters))}")
    return adapters[network](session)
