"""Rate limits: token buckets per page and per app (network), fed by what the networks say.

Each network starts from its documented limits (registered with the network); every answer's
rate-limit headers then correct the bucket (`observe`): fewer tokens when the network counts fewer
remaining calls, none until the reset when it says zero, and a 429 blocks the page (or the whole
app) until the reset the network named (`block`). `reserve` never waits: it answers how long a
delivery must wait, so the dispatcher postpones that delivery and goes on with other pages.

Pure logic with an injected clock; Unix time because networks give resets as Unix times.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from services.dispatcher.adapters.base import RateHint
from shared.networks import NETWORKS
from shared.networks.facts import RateLimits

__all__ = ["DEFAULT_LIMITS", "DEFAULT_READ_BUDGETS", "Bucket", "NetworkLimits", "RateLimiter"]

NetworkLimits = RateLimits
"""Calls allowed per window, for one page and for the whole app (None: no such limit)."""

# Each network's documented limits, registered with the network (shared/networks/registry.py).
DEFAULT_LIMITS: Mapping[str, NetworkLimits] = {name: entry.rate_limits for name, entry in NETWORKS.items()}
# The app-wide budget of the inbox's reads, where they spend what posts need too (YouTube's quota).
DEFAULT_READ_BUDGETS: Mapping[str, tuple[int, float]] = {
    name: entry.read_budget for name, entry in NETWORKS.items() if entry.read_budget is not None
}


class Bucket:
    """A token bucket: `capacity` tokens, refilled at `capacity / window` per second."""

    def __init__(self, capacity: int, window: float, now: float) -> None:
        self.capacity = float(capacity)
        self.rate = capacity / window
        self.tokens = float(capacity)
        self.updated = now
        self.blocked_until = 0.0

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now

    def wait(self, now: float) -> float:
        """Seconds until one token is there (0: now)."""
        self._refill(now)
        if now < self.blocked_until:
            return self.blocked_until - now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1

    def observe(self, hint: RateHint, now: float) -> None:
        self._refill(now)
        if hint.remaining is not None:
            self.tokens = min(self.tokens, float(hint.remaining))
            if hint.remaining <= 0 and hint.reset_at is not None:
                self.blocked_until = max(self.blocked_until, hint.reset_at)

    def block(self, until: float) -> None:
        self.blocked_until = max(self.blocked_until, until)
        self.tokens = min(self.tokens, 0.0)


class RateLimiter:
    def __init__(
        self,
        limits: Mapping[str, NetworkLimits] = DEFAULT_LIMITS,
        *,
        read_budgets: Mapping[str, tuple[int, float]] = DEFAULT_READ_BUDGETS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._limits = limits
        self._read_budgets = read_budgets
        self._clock = clock
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._reads: dict[str, Bucket] = {}

    def _bucket(self, network: str, key: str, scope: str) -> Bucket | None:
        limits = self._limits.get(network)
        spec = (limits.page if scope == "page" else limits.app) if limits else None
        if spec is None:
            return None
        bucket = self._buckets.get((network, key))
        if bucket is None:
            bucket = self._buckets[(network, key)] = Bucket(spec[0], spec[1], self._clock())
        return bucket

    def _pair(self, network: str, page: str) -> list[Bucket]:
        found = (self._bucket(network, f"page:{page}", "page"), self._bucket(network, "app", "app"))
        return [bucket for bucket in found if bucket is not None]

    def reserve(self, network: str, page: str) -> float:
        """Take a token from the page's and the app's buckets, or say how long to wait (nothing taken)."""
        now = self._clock()
        buckets = self._pair(network, page)
        wait = max((bucket.wait(now) for bucket in buckets), default=0.0)
        if wait <= 0:
            for bucket in buckets:
                bucket.take()
        return wait

    def reserve_read(self, network: str) -> float:
        """Take one read from the network's app-wide read budget, or say how long until there is one
        (nothing taken); 0 where the network's reads have no such budget."""
        budget = self._read_budgets.get(network)
        if budget is None:
            return 0.0
        now = self._clock()
        bucket = self._reads.get(network)
        if bucket is None:
            bucket = self._reads[network] = Bucket(budget[0], budget[1], now)
        wait = bucket.wait(now)
        if wait <= 0:
            bucket.take()
        return wait

    def blocked(self, network: str, page: str) -> float:
        """Seconds until the network accepts calls for this page again (0: now), after a 429 or an
        answer that said nothing is left; takes nothing (the inbox's reads: `inbox.py`)."""
        now = self._clock()
        return max([0.0, *(bucket.blocked_until - now for bucket in self._pair(network, page))])

    def observe(self, network: str, page: str, hint: RateHint) -> None:
        bucket = self._bucket(network, f"page:{page}" if hint.scope == "page" else "app", hint.scope)
        if bucket is not None:
            bucket.observe(hint, self._clock())

    def block(self, network: str, page: str, scope: str, seconds: float) -> None:
        """The network refused for a while: nothing goes to this page (or app) before then."""
        bucket = self._bucket(network, f"page:{page}" if scope == "page" else "app", scope)
        if bucket is None:  # a limit we did not know about: remember it from now on
            key = (network, f"page:{page}" if scope == "page" else "app")
            bucket = self._buckets[key] = Bucket(1, max(seconds, 1.0), self._clock())
        bucket.block(self._clock() + seconds)
