"""Rate limits: token buckets per page and per app (network), fed by what the networks say.

Each network starts from its documented limits (registered with the network); every answer's
rate-limit headers then correct the bucket (`observe`): fewer tokens when the network counts fewer
remaining calls, none until the reset when it says zero, and a 429 blocks the page (or the whole
app) until the reset the network named (`block`). `reserve` never waits: it answers how long a
delivery must wait, so the dispatcher postpones that delivery and goes on with other pages.

Where a network counts in units (YouTube's 10,000 a day, `Network.quota`), every call takes its cost
(an upload, a reply, a hide, a read) from one app-wide daily `DailyQuota`, and no call takes the day's
quota below its kind's floor: replies cannot spend the last uploads' units, nor reads the last replies'.
The day ends at midnight in the network's zone (Pacific time for YouTube), as the network's does;
a `quotaExceeded` blocks the quota until then (`block` with scope "app"). The quota is the project's,
and every dispatcher shard spends it alone: each of N shards keeps 1/N of it (its units and its
floors), so that together they never ask the network for more than the day has. The same goes for
every other app-wide count: each shard's app bucket and read budget hold 1/N of the network's (at
least one call), and an app-wide "remaining" the network answers is 1/N of it for each shard. A page
belongs to one shard, so its own bucket stays whole.

Pure logic with an injected clock; Unix time because networks give resets as Unix times.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.dispatcher.adapters.base import RateHint
from shared.networks import NETWORKS
from shared.networks.facts import QuotaCall, RateLimits, UnitQuota

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_QUOTAS",
    "DEFAULT_READ_BUDGETS",
    "Bucket",
    "DailyQuota",
    "NetworkLimits",
    "RateLimiter",
]

NetworkLimits = RateLimits
"""Calls allowed per window, for one page and for the whole app (None: no such limit)."""

# Each network's documented limits, registered with the network (shared/networks/registry.py).
DEFAULT_LIMITS: Mapping[str, NetworkLimits] = {name: entry.rate_limits for name, entry in NETWORKS.items()}
# The app-wide budget of the inbox's reads, where they spend what posts need too (YouTube's quota).
DEFAULT_READ_BUDGETS: Mapping[str, tuple[int, float]] = {
    name: entry.read_budget for name, entry in NETWORKS.items() if entry.read_budget is not None
}
# The app-wide quotas in units, where a network counts that way (YouTube).
DEFAULT_QUOTAS: Mapping[str, UnitQuota] = {
    name: entry.quota for name, entry in NETWORKS.items() if entry.quota is not None
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

    def observe(self, hint: RateHint, now: float, share: int = 1) -> None:
        """What the network says is left; `share`: how many shards the count is divided between."""
        self._refill(now)
        if hint.remaining is not None:
            self.tokens = min(self.tokens, float(hint.remaining) / share)
            if hint.remaining <= 0 and hint.reset_at is not None:
                self.blocked_until = max(self.blocked_until, hint.reset_at)

    def block(self, until: float) -> None:
        self.blocked_until = max(self.blocked_until, until)
        self.tokens = min(self.tokens, 0.0)


class DailyQuota:
    """One network's units for the day: each call takes its cost unless that would leave less than its
    kind's floor; everything comes back at midnight in the quota's zone."""

    def __init__(self, quota: UnitQuota, now: float) -> None:
        self.quota = quota
        self._zone = ZoneInfo(quota.resets_in)
        self.used = 0
        self.resets_at = self._next_midnight(now)
        self.blocked_until = 0.0

    def _next_midnight(self, now: float) -> float:
        local = datetime.fromtimestamp(now, self._zone)
        midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight.timestamp()

    def _roll(self, now: float) -> None:
        if now >= self.resets_at:
            self.used = 0
            self.resets_at = self._next_midnight(now)

    def remaining(self, now: float) -> int:
        self._roll(now)
        return self.quota.units - self.used

    def wait(self, kind: QuotaCall, now: float) -> float:
        """Seconds until a call of `kind` may take its cost (0: now)."""
        self._roll(now)
        if now < self.blocked_until:
            return self.blocked_until - now
        fits = self.remaining(now) - self.quota.costs[kind] >= self.quota.floors[kind]
        return 0.0 if fits else self.resets_at - now

    def take(self, kind: QuotaCall) -> None:
        self.used += self.quota.costs[kind]

    def block(self, until: float) -> None:
        self.blocked_until = max(self.blocked_until, until)


def _share(quota: UnitQuota, shards: int) -> UnitQuota:
    """One shard's part of an app-wide quota: its units and floors divided by the shard count, each
    floor still keeping at least one call of every kind it protects (those with a lower floor)."""
    if shards <= 1:
        return quota
    floors: dict[QuotaCall, int] = {}
    for kind in sorted(quota.floors, key=lambda k: quota.floors[k]):
        kept = [
            floors[lower] + quota.costs[lower] for lower in floors if quota.floors[lower] < quota.floors[kind]
        ]
        floors[kind] = max([quota.floors[kind] // shards, *kept])
    return replace(quota, units=quota.units // shards, floors=floors)


def _split(limit: tuple[int, float], shards: int) -> tuple[int, float]:
    """One shard's part of an app-wide count of calls per window (at least one call)."""
    calls, window = limit
    return max(1, calls // shards), window


class RateLimiter:
    def __init__(
        self,
        limits: Mapping[str, NetworkLimits] = DEFAULT_LIMITS,
        *,
        read_budgets: Mapping[str, tuple[int, float]] = DEFAULT_READ_BUDGETS,
        quotas: Mapping[str, UnitQuota] = DEFAULT_QUOTAS,
        shards: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._shards = max(1, shards)
        self._limits = limits
        self._read_budgets = {name: _split(budget, self._shards) for name, budget in read_budgets.items()}
        self._quota_specs = {name: _share(quota, shards) for name, quota in quotas.items()}
        self._clock = clock
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._reads: dict[str, Bucket] = {}
        self._quotas: dict[str, DailyQuota] = {}

    def _bucket(self, network: str, key: str, scope: str) -> Bucket | None:
        bucket = self._buckets.get((network, key))
        if bucket is not None:  # including one `block` made for a limit the network was not known to have
            return bucket
        limits = self._limits.get(network)
        spec = (limits.page if scope == "page" else limits.app) if limits else None
        if spec is None:
            return None
        if scope == "app":
            spec = _split(spec, self._shards)
        bucket = self._buckets[(network, key)] = Bucket(spec[0], spec[1], self._clock())
        return bucket

    def quota(self, network: str) -> DailyQuota | None:
        """The network's daily quota in units (None where it counts calls, not units)."""
        spec = self._quota_specs.get(network)
        if spec is None:
            return None
        quota = self._quotas.get(network)
        if quota is None:
            quota = self._quotas[network] = DailyQuota(spec, self._clock())
        return quota

    def _pair(self, network: str, page: str) -> list[Bucket]:
        found = (self._bucket(network, f"page:{page}", "page"), self._bucket(network, "app", "app"))
        return [bucket for bucket in found if bucket is not None]

    def reserve(self, network: str, page: str, kind: QuotaCall = "post") -> float:
        """Take what a publication or a reply (`kind`) spends: a token from the page's and the app's
        buckets and its cost from the network's quota in units; or say how long to wait (nothing
        taken). A hide spends only the quota: elsewhere it goes around the publications' buckets."""
        now = self._clock()
        buckets = self._pair(network, page) if kind in ("post", "reply") else []
        quota = self.quota(network)
        wait = max([*(bucket.wait(now) for bucket in buckets), quota.wait(kind, now) if quota else 0.0, 0.0])
        if wait <= 0:
            for bucket in buckets:
                bucket.take()
            if quota is not None:
                quota.take(kind)
        return wait

    def reserve_read(self, network: str) -> float:
        """Take one read from the network's app-wide read budget and its cost from the network's quota
        in units, or say how long until both allow it (nothing taken); 0 where the network's reads have
        neither."""
        now = self._clock()
        budget = self._read_budgets.get(network)
        bucket = self._reads.get(network)
        if bucket is None and budget is not None:
            bucket = self._reads[network] = Bucket(budget[0], budget[1], now)
        quota = self.quota(network)
        wait = max(bucket.wait(now) if bucket else 0.0, quota.wait("read", now) if quota else 0.0)
        if wait <= 0:
            if bucket is not None:
                bucket.take()
            if quota is not None:
                quota.take("read")
        return wait

    def blocked(self, network: str, page: str) -> float:
        """Seconds until the network accepts calls for this page again (0: now), after a 429 or an
        answer that said nothing is left; takes nothing (the inbox's reads: `inbox.py`)."""
        now = self._clock()
        quota = self.quota(network)
        blocks = [bucket.blocked_until for bucket in self._pair(network, page)]
        return max([0.0, *(until - now for until in blocks), quota.blocked_until - now if quota else 0.0])

    def observe(self, network: str, page: str, hint: RateHint) -> None:
        bucket = self._bucket(network, f"page:{page}" if hint.scope == "page" else "app", hint.scope)
        if bucket is not None:
            bucket.observe(hint, self._clock(), 1 if hint.scope == "page" else self._shards)

    def block(self, network: str, page: str, scope: str, seconds: float) -> None:
        """The network refused for a while: nothing goes to this page (or app) before then. Where the
        app counts in units, an app-wide refusal (YouTube's `quotaExceeded`) holds the whole quota."""
        quota = self.quota(network)
        if quota is not None and scope == "app":
            quota.block(self._clock() + seconds)
            return
        bucket = self._bucket(network, f"page:{page}" if scope == "page" else "app", scope)
        if bucket is None:  # a limit we did not know about: remember it from now on
            key = (network, f"page:{page}" if scope == "page" else "app")
            bucket = self._buckets[key] = Bucket(1, max(seconds, 1.0), self._clock())
        bucket.block(self._clock() + seconds)
