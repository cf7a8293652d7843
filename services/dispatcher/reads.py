"""What the dispatcher's readers (the inbox reader, the engagement scheduler) share beside the
delivery loop: the rate limits networks put on reads, and their wait for a free slot."""

from __future__ import annotations

import asyncio

__all__ = ["ReadHolds", "first_of"]


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
