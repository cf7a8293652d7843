"""Waiting for what a test cannot be told about: poll a check until it holds, or fail saying what
never happened. One pair for the whole suite (a blocking one for the process-level tests, an
async one for the tests that run services in their own event loop)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any


def eventually(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Poll `check` until it returns something truthy; fail with its last value otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")


async def until(
    check: Callable[[], Any | Awaitable[Any]], within: float = 20.0, what: str = "the condition"
) -> Any:
    """Await until `check` (plain or async) returns something truthy, and return it; fail after
    `within` seconds naming `what` and the last value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        last = check()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not hold within {within}s; last value: {last!r}")
        await asyncio.sleep(0.05)
