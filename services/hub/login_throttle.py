"""Slowing down password guessing at the dashboard's sign-in.

Failed sign-ins are counted over a sliding window per username from one client address (a few),
and per username from anywhere (many more, against guessing spread over addresses). Past a
limit, the name is refused until the oldest failure leaves the window, without checking the
password, so a guesser learns nothing more. Counting by address alone would let one person lock
out everyone behind the same proxy. Counts live in the hub's memory: a
restart forgets them, which costs an attacker a restart of the hub, not a bypass. A successful
sign-in clears its username's count.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from collections.abc import Callable

__all__ = ["LoginThrottle"]


class LoginThrottle:
    def __init__(
        self,
        *,
        per_address: int = 5,
        per_user: int = 50,
        window: float = 15 * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = {"address": per_address, "user": per_user}
        self._window = window
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def wait(self, username: str, address: str) -> float:
        """Seconds before this name from this address may try again (0: now)."""
        now = self._clock()
        waits = [0.0]
        for key in self._keys(username, address):
            failures = self._recent(key, now)
            if len(failures) >= self._limits[key[0]]:
                waits.append(failures[0] + self._window - now)
        return max(waits)

    def failed(self, username: str, address: str) -> None:
        now = self._clock()
        for key in self._keys(username, address):
            self._recent(key, now).append(now)

    def succeeded(self, username: str, address: str) -> None:
        for key in self._keys(username, address):
            self._failures.pop(key, None)

    @staticmethod
    def _keys(username: str, address: str) -> tuple[tuple[str, str], ...]:
        return ("address", f"{username}\n{address}"), ("user", username)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        failures = self._failures[key]
        while failures and failures[0] <= now - self._window:
            failures.popleft()
        return failures
