"""Slowing down password guessing at the dashboard's sign-in, without handing anyone a lock-out.

Failed sign-ins are counted over a sliding window per username from one client address, and per
username from anywhere. From one address, past a few failures, the name is refused (429 with
`Retry-After`) until the oldest failure leaves the window, without checking the password, so that
guesser learns nothing more. The count from anywhere never refuses: it only slows every attempt on
that name by a growing delay (capped at a few seconds, awaited without holding other requests), so
guessing spread over many addresses stays slow while the real user, from an address that has not
failed, still signs in. Refusing on that count would let anyone lock a moderator out. Counting by
address alone would let one person lock out everyone behind the same proxy.

Counts live in the hub's memory: a restart forgets them, which costs an attacker a restart of the
hub, not a bypass. A successful sign-in clears its name's count from that address.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import Callable

__all__ = ["LoginThrottle"]

_TRACKED_KEYS = 100_000  # beyond this many names and addresses, forget those with no recent failure


class LoginThrottle:
    def __init__(
        self,
        *,
        per_address: int = 5,
        free_per_user: int = 20,
        max_delay: float = 3.0,
        window: float = 15 * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_address = per_address
        self._free_per_user = free_per_user
        self._max_delay = max_delay
        self._window = window
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def wait(self, username: str, address: str) -> float:
        """Seconds before this name from this address may try again (0: now)."""
        now = self._clock()
        failures = self._recent(("address", f"{username}\n{address}"), now)
        return failures[0] + self._window - now if len(failures) >= self._per_address else 0.0

    def delay(self, username: str) -> float:
        """Seconds to slow this attempt by: 0 for the first `free_per_user` failures of the name from
        anywhere, then doubling every 10 more, up to `max_delay`."""
        extra = len(self._recent(("user", username), self._clock())) - self._free_per_user
        return 0.0 if extra < 0 else min(self._max_delay, 0.25 * 2 ** (extra // 10))

    async def slow_down(self, username: str) -> None:
        """Await this attempt's delay (other requests go on meanwhile)."""
        if (seconds := self.delay(username)) > 0:
            await asyncio.sleep(seconds)

    def failed(self, username: str, address: str) -> None:
        now = self._clock()
        if len(self._failures) > _TRACKED_KEYS:
            self._forget_old(now)
        for key in (("address", f"{username}\n{address}"), ("user", username)):
            self._recent(key, now).append(now)

    def succeeded(self, username: str, address: str) -> None:
        # The count from anywhere stays: the real user signing in must not reset a guesser's delay.
        self._failures.pop(("address", f"{username}\n{address}"), None)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        failures = self._failures[key]
        while failures and failures[0] <= now - self._window:
            failures.popleft()
        return failures

    def _forget_old(self, now: float) -> None:
        for key in [key for key in self._failures if not self._recent(key, now)]:
            del self._failures[key]
