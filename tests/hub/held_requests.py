"""Requests that arrive together, deterministically: each is sent over its own TCP connection
except the last byte of its body, so the server has parsed every request and each handler waits for
its body; then the last bytes go out in one pass of the event loop, and the handlers all resume at
once. A race that needs "at the same time" does not depend on luck or the machine's load."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit


@dataclass(frozen=True)
class Attempt:
    """One request of a race, and who sends it (`label` names it in assertions)."""

    label: str
    method: str
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def json_attempt(label: str, path: str, body: Any, token: str) -> Attempt:
    return Attempt(
        label,
        "POST",
        path,
        json.dumps(body).encode(),
        {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


def form_attempt(label: str, path: str, form: dict[str, str], cookie: str, csrf: str) -> Attempt:
    """A dashboard form as its script posts it (JSON answer), with the session's cookie and token."""
    return Attempt(
        label,
        "POST",
        path,
        urlencode({"csrf": csrf, **form}).encode(),
        {
            "Cookie": cookie,
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        },
    )


async def race(base_url: str, attempts: list[Attempt], settle: float = 0.5) -> list[tuple[int, Any]]:
    """Send every attempt but its last byte, wait `settle` seconds, then finish them all together;
    returns (status, decoded JSON body) per attempt, in order."""
    url = urlsplit(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    streams = [await asyncio.open_connection(host, port) for _ in attempts]
    for attempt, (_, writer) in zip(attempts, streams, strict=True):
        assert attempt.body, "a held request needs a body"
        lines = [f"{attempt.method} {attempt.path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
        lines += [f"Content-Length: {len(attempt.body)}"]
        lines += [f"{name}: {value}" for name, value in attempt.headers.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + attempt.body[:-1])
        await writer.drain()
    await asyncio.sleep(settle)
    for attempt, (_, writer) in zip(attempts, streams, strict=True):
        writer.write(attempt.body[-1:])  # no await in between: they leave together
    return list(await asyncio.gather(*(_answer(reader, writer) for reader, writer in streams)))


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[int, Any]:
    try:
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), timeout=30)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode(errors="replace")
