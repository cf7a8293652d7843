"""What the video tests of Facebook, LinkedIn and Bluesky share: videos, and an upload cut short.

A uniquely named module, as adapter_kit.py: both test folders have a conftest.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from services.dispatcher.adapters.base import Media, Publication


def mp4(size: int, seed: bytes = b"forum") -> bytes:
    """`size` bytes that start as an MP4 does (an `ftyp` box): a video the emulators process."""
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    filler = hashlib.sha256(seed).digest() * (size // 32 + 1)
    return (head + filler)[:size]


def video(size: int = 1_300_000, *, data: bytes | None = None, alt: str | None = None) -> Media:
    return Media("video", data=mp4(size) if data is None else data, mime_type="video/mp4", alt=alt, id="v1")


UNDECODABLE = Media("video", data=b"RIFF\x00\x00\x00\x00AVI not an mp4" * 100, mime_type="video/mp4", id="v2")
"""A file the emulators' processing fails (no `ftyp` box): the processing failure mode."""


def sha256(data: bytes | None) -> str:
    return hashlib.sha256(data or b"").hexdigest()


async def cut_during(
    publish: Callable[[aiohttp.ClientSession], Awaitable[Publication]], marker: str, nth: int = 2
) -> list[str]:
    """Run `publish` with a session of its own and cancel it, as a SIGKILL of the dispatcher would
    stop it, when its `nth` request whose URL or method contains `marker` starts; the requests sent."""
    sent: list[str] = []
    reached = asyncio.Event()
    tracing = aiohttp.TraceConfig()

    async def record(
        session: aiohttp.ClientSession, context: Any, params: aiohttp.TraceRequestStartParams
    ) -> None:
        sent.append(f"{params.method} {params.url}")
        if sum(marker in line for line in sent) >= nth:
            reached.set()
            await asyncio.sleep(3600)  # held here until cancelled: this request never completes

    tracing.on_request_start.append(record)
    async with aiohttp.ClientSession(trace_configs=[tracing]) as session:
        task = asyncio.ensure_future(publish(session))
        await asyncio.wait_for(reached.wait(), 20)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        else:
            raise AssertionError("the upload finished before it could be cut")
    return sent
