"""What the dispatcher's readers beside the delivery loop share: the dispatcher's parts they use
(`ReaderWiring`: the inbox reader, the engagement scheduler and the hider take the same ones), their
slots (`PageReader`), the rate limits networks put on reads (`ReadHolds`), and their wait."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass

from services.dispatcher.adapters.base import NetworkAdapter, PageAccount
from services.dispatcher.attempt import RetryPolicy
from services.dispatcher.limits import RateLimiter
from services.dispatcher.settings import Settings
from services.dispatcher.store import Ledger, LedgerWriter
from shared.pages_mirror import PagesMirror

__all__ = ["PageReader", "ReadHolds", "ReaderWiring", "first_of"]

# Reads at once: they share the HTTP session's connections with the deliveries.
_MIN_READS, _READS_SHARE = 2, 4


@dataclass(frozen=True)
class ReaderWiring:
    """The dispatcher's parts a reader uses: its ledger (and the writer thread, when there is one),
    the page registry's mirror, each network's adapter and each page's account, the rate limiter and
    retry policy of the deliveries, the outbox relay's wake-up, and whether deliveries are busy."""

    settings: Settings
    ledger: Ledger
    pages: PagesMirror
    adapter: Callable[[str], NetworkAdapter]
    account: Callable[[str], PageAccount | None]
    limiter: RateLimiter
    policy: RetryPolicy
    wake_relay: Callable[[], None]
    busy: Callable[[], bool] = lambda: False
    writer: LedgerWriter | None = None


class PageReader:
    """What the inbox reader and the engagement scheduler have in common: the dispatcher's parts,
    a quarter of its call slots (at least two), the reads in flight and the holds of rate limits."""

    def __init__(self, wiring: ReaderWiring, rng: random.Random | None = None) -> None:
        self._settings = wiring.settings
        self._ledger = wiring.ledger
        self._pages = wiring.pages
        self._adapter = wiring.adapter
        self._account = wiring.account
        self._limiter = wiring.limiter
        self._policy = wiring.policy
        self._wake_relay = wiring.wake_relay
        self._busy = wiring.busy
        self._writer = wiring.writer
        self._rng = rng or random.Random()
        self._reading: dict[str, asyncio.Task[None]] = {}
        self._holds = ReadHolds()  # a read's 429 holds this page's (or the app's) reads, no publication
        self._finished = asyncio.Event()  # a read ended: its slot is free
        self._slots = max(_MIN_READS, wiring.settings.concurrency // _READS_SHARE)


class ReadHolds:
    """Reads a network refused with a rate limit, held until the reset it named: a page's (`page`
    scope) or the whole app's. Only reads: a read's 429 holds no publication (X limits reads apart
    from posts, per endpoint; where a network counts every call together, Mastodon, its answers'
    rate-limit headers bring the posts' buckets down, as it says)."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}  # `network/page` or `network/*` -> Unix time

    def hold(self, network: str, page: str, scope: str, until: float) -> None:
        key = f"{network}/{page if scope == 'page' else '*'}"
        self._until[key] = max(self._until.get(key, 0.0), until)

    def wait(self, network: str, page: str, now: float) -> float:
        """Seconds until the network takes this page's reads again (0: now)."""
        until = max(self._until.get(f"{network}/{page}", 0.0), self._until.get(f"{network}/*", 0.0))
        return max(until - now, 0.0)


async def first_of(*events: asyncio.Event) -> None:
    """Until one of the events is set."""
    waits = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
