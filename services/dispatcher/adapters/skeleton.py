"""The skeleton every adapter is built on: its token, its requests, its errors and its read-back.

An adapter subclasses `Adapter` and writes only what is particular to its network:
- `_publish(account, variant)`: the calls that publish one variant (the dispatcher's arguments
  arrive as one `Outgoing`; an empty one is refused here, and so is a thread sent to a network
  that takes a single part, before anything is sent);
- `_error(reply, secrets)`: the network's error body in plain words, with its kind (the
  default quotes the body and lets the HTTP status alone decide);
- `_hints(reply)`: what its rate-limit headers say (none by default);
- `_seen(account, token, since)` and `_url(account, seen)` where it can read the page back:
  `find` then matches the thread among what the page shows (Bluesky, which reads its records
  back by key, overrides `find` itself).

`_request` sends one call with the adapter's session and timeout, hands the rate hints to the
dispatcher's buckets, and raises `_error` for an answer that is not a success.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import aiohttp

from shared.networks.facts import Capability

from .base import DeliveryError, Media, PageAccount, Publication, RateHint, RateObserver
from .readback import Seen, match_thread
from .transport import DEFAULT_TIMEOUT, Reply, redact, report, send, status_error

__all__ = ["SOCIAL_WITH_ADVOCATES", "Adapter", "Outgoing"]

# What X, Mastodon, Bluesky and LinkedIn each do: publish with images and video, read a post back,
# read comments and answer them, read a post's figures, and post as an advocate (issue #16). Each of
# those adapters names this set as its own declaration, which the completeness test compares with
# the network's registered capabilities: a capability registered for one of them fails it until the
# adapter declares it.
SOCIAL_WITH_ADVOCATES: frozenset[Capability] = frozenset(
    {
        "publish",
        "images",
        "video",
        "read_back",
        "read_comments",
        "reply",
        "read_engagement",
        "personal_accounts",
    }
)

Facets = Sequence[Sequence[dict[str, object]] | None]


@dataclass(frozen=True)
class Outgoing:
    """One variant on its way to a page, as the dispatcher hands it over (see `NetworkAdapter.publish`)."""

    parts: Sequence[str]
    idempotency_key: str
    link: str | None = None
    facets: Facets | None = None
    media: Sequence[Media] = ()
    content_warning: str | None = None
    done: Sequence[str] = ()
    title: str | None = None
    tags: Sequence[str] = ()

    def facets_of(self, index: int) -> Sequence[dict[str, object]] | None:
        """Part `index`'s facets, if any were given for it."""
        return self.facets[index] if self.facets is not None and index < len(self.facets) else None


class Adapter:
    """The parts of an adapter every network shares; see the module's docstring."""

    network: str
    label: str  # the network as people call it, in every message: "X", "LinkedIn"…
    can_read_back: bool = True
    capabilities: ClassVar[frozenset[Capability]]
    token_noun: ClassVar[str] = "token"  # what the page's credential is called: "bot token"…
    single_part: ClassVar[str | None] = None  # what the one part is ("caption"…), where threads are refused
    threads_read_back: ClassVar[bool] = False  # whether `find` matches every part or the first only
    # Whether `find_reply` finds an answer to a private message: only where the private chat is made
    # of the network's ordinary items (Mastodon's `direct` statuses), not a separate messaging API.
    private_replies_read_back: ClassVar[bool] = False

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        observer: RateObserver | None = None,
    ) -> None:
        self._session = session
        self._timeout = timeout
        self._observer = observer

    def _token(self, account: PageAccount) -> str:
        token = account.credentials.get("token")
        if not token:
            raise DeliveryError(
                f"no {self.label} {self.token_noun} is stored for this page: connect it",
                network_code=None,
                kind="auth",
            )
        return token

    async def publish(
        self,
        account: PageAccount,
        parts: Sequence[str],
        *,
        idempotency_key: str,
        link: str | None = None,
        facets: Facets | None = None,
        media: Sequence[Media] = (),
        content_warning: str | None = None,
        done: Sequence[str] = (),
        title: str | None = None,
        tags: Sequence[str] = (),
    ) -> Publication:
        variant = Outgoing(parts, idempotency_key, link, facets, media, content_warning, done, title, tags)
        if not parts:
            raise DeliveryError(
                "nothing to publish: the variant has no parts", network_code=None, kind="permanent"
            )
        if self.single_part is not None and len(parts) != 1:
            raise DeliveryError(
                f"{self.label} takes a single {self.single_part}, this variant has {len(parts)} parts",
                network_code=None,
                kind="permanent",
            )
        return await self._publish(account, variant)

    async def _publish(self, account: PageAccount, variant: Outgoing) -> Publication:
        raise NotImplementedError

    async def find(
        self, account: PageAccount, parts: Sequence[str], *, idempotency_key: str, since: float
    ) -> Publication | None:
        if not self.can_read_back:
            raise NotImplementedError(f"{self.label} cannot read the page back")
        seen = await self._seen(account, self._token(account), since)
        found = match_thread(parts if self.threads_read_back else parts[:1], seen, since)
        if not found:
            return None
        first = found[0]
        return Publication(first.id, self._url(account, first), tuple(s.id for s in found), first.created_at)

    async def _seen(self, account: PageAccount, token: str, since: float) -> list[Seen]:
        """The page's recent posts, from `since` (less the clock slack) on."""
        raise NotImplementedError

    def _url(self, account: PageAccount, seen: Seen) -> str:
        """The public address of a post read back from the page."""
        return seen.url

    def _hints(self, reply: Reply) -> list[RateHint]:
        return []

    def _error(self, reply: Reply, secrets: Sequence[str]) -> DeliveryError:
        said = redact(reply.body[:200].decode("utf-8", "replace").strip() or f"HTTP {reply.status}", secrets)
        return status_error(self.label, reply.status, said, str(reply.status))

    async def _bearer_get(
        self,
        account: PageAccount,
        token: str,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        check: bool = True,
        hints: bool = True,
    ) -> Reply:
        """A read of `path` under the page's base URL with its bearer token (Mastodon, X, YouTube)."""
        return await self._request(
            account,
            "GET",
            f"{account.base_url.rstrip('/')}{path}",
            secrets=[token],
            read_only=True,
            check=check,
            hints=hints,
            headers={"Authorization": f"Bearer {token}"},
            params=params,
        )

    async def _request(
        self,
        account: PageAccount,
        method: str,
        url: str,
        *,
        secrets: Sequence[str],
        read_only: bool = False,
        check: bool = True,
        hints: bool = True,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        raw: bytes | None = None,
        multipart: tuple[bytes, str] | None = None,
    ) -> Reply:
        """One call to the network; with `check`, an answer that is not a success raises `_error`.

        `hints=False` for a call whose rate-limit headers count another endpoint's limit (X's reads),
        which must not drain the posting buckets.
        """
        reply = await send(
            self._session,
            method,
            url,
            label=self.label,
            client_timeout=self._timeout,
            read_only=read_only,
            headers=headers,
            json_body=json_body,
            form=form,
            params=params,
            raw=raw,
            multipart=multipart,
        )
        if hints:
            report(self._observer, account, self._hints(reply))
        if check and not reply.ok:
            raise self._error(reply, secrets)
        return reply
