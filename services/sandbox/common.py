"""What every emulator shares: sandbox tokens, time-ordered ids, rate windows, request bodies.

Sandbox tokens stand in for OAuth: a bearer token `sbx-<network>-<account>` is valid and names the
account; a token starting `sbx-expired-` plays an expired or revoked one; anything else is an
invalid token. Each emulator turns these three cases into its own network's error shape.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web

__all__ = [
    "MINT",
    "RATES",
    "Caller",
    "IdMint",
    "RateState",
    "RateWindows",
    "bearer_token",
    "check_token",
    "iso_millis",
    "read_params",
    "tid_string",
]

_ACCOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# atproto's "base32-sortable" alphabet, used by TIDs (record keys and revisions).
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class Caller:
    """Who a sandbox token names, or why it names nobody."""

    account: str | None
    problem: Literal["missing", "invalid", "expired"] | None = None


def check_token(token: str | None, network: str) -> Caller:
    if not token:
        return Caller(None, "missing")
    if token.startswith("sbx-expired-"):
        return Caller(None, "expired")
    prefix = f"sbx-{network}-"
    if token.startswith(prefix) and _ACCOUNT.fullmatch(token[len(prefix) :]):
        return Caller(token[len(prefix) :])
    return Caller(None, "invalid")


def bearer_token(request: web.Request, *, schemes: tuple[str, ...] = ("bearer",)) -> str | None:
    """The credentials of an `Authorization: Bearer …` header (scheme compared case-insensitively)."""
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() in schemes and credentials.strip():
        return credentials.strip()
    return None


async def read_params(request: web.Request) -> dict[str, Any] | None:
    """The request's JSON object or form fields; None when the body is neither."""
    if request.content_type in _FORM_TYPES:
        form = await request.post()
        return {key: value for key, value in form.items() if isinstance(value, str)}
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def iso_millis(moment: datetime) -> str:
    """`2026-11-21T23:38:58.123Z`, the timestamp shape Mastodon and atproto use."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def tid_string(value: int) -> str:
    """A 64-bit integer as a 13-character atproto TID."""
    chars = []
    for _ in range(13):
        chars.append(_TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


class IdMint:
    """Unique, time-ordered integer ids, shaped like each network's snowflakes.

    Ids start from the clock so that a restarted sandbox keeps minting ids above the ones it
    already stored, and step by one when several are minted within the same tick.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._last: dict[str, int] = {}
        # Like a PDS's clock identifier: the low bits that tell two writers apart.
        self._clock_id = secrets.randbelow(1024)

    def next_id(self, kind: str, *, shift: int, epoch_ms: int = 0, micros: bool = False) -> int:
        now = self._clock()
        tick = int(now * 1_000_000) if micros else int(now * 1000) - epoch_ms
        value = max(tick << shift, self._last.get(kind, 0) + 1)
        self._last[kind] = value
        return value

    def tid(self) -> str:
        """A fresh TID: microseconds since the epoch, then the clock identifier."""
        value = self.next_id("tid", shift=10, micros=True)
        return tid_string((value & ~1023) | self._clock_id)


@dataclass(frozen=True)
class RateState:
    """One rate window as the rate-limit headers describe it."""

    limit: int
    remaining: int
    reset_at: float
    window: int
    exceeded: bool = False


class RateWindows:
    """Fixed windows counted per key (a network's account or app), reset when they end."""

    def __init__(self, clock: Callable[[], float] = time.time, *, enforce: bool = True) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        # Off for benchmarks: calls are still counted (and reported in headers), never refused.
        self.enforce = enforce
        # 429s given per network (the key's first part), for benchmarks that must prove a client
        # never went past a limit (`GET /_sandbox/rates`). Forced faults are not counted here.
        self.refused: dict[str, int] = {}

    def _current(self, key: str, window: int) -> tuple[float, int]:
        now = self._clock()
        start, used = self._windows.get(key, (now, 0))
        if now >= start + window:
            start, used = now, 0
        return start, used

    def hit(self, key: str, *, limit: int, window: int, cost: int = 1) -> RateState:
        start, used = self._current(key, window)
        exceeded = used + cost > limit and self.enforce
        if exceeded:
            network = key.split(":", 1)[0]
            self.refused[network] = self.refused.get(network, 0) + 1
        else:
            used += cost
        self._windows[key] = (start, used)
        return RateState(limit, max(limit - used, 0), start + window, window, exceeded)

    def peek(self, key: str, *, limit: int, window: int) -> RateState:
        start, used = self._current(key, window)
        return RateState(limit, max(limit - used, 0), start + window, window)

    def throttled(self, *, limit: int, seconds: float) -> RateState:
        """The state a forced rate limit reports: nothing left until `seconds` from now."""
        return RateState(limit, 0, self._clock() + seconds, int(seconds), exceeded=True)

    def clear(self) -> None:
        self._windows.clear()
        self.refused.clear()


MINT = web.AppKey("sandbox_mint", IdMint)
RATES = web.AppKey("sandbox_rates", RateWindows)
