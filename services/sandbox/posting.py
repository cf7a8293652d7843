"""The one path every emulator's posting handler takes: its fault, its rate windows, its storage.

A posting handler (one that creates a post or takes an upload) starts with `Posting.start`: it
takes the fault armed for the account and, when the fault replaces the answer, answers in the
network's dialect. `window` counts the call in a rate window and refuses it in the dialect when
the window is full; `add` and `add_media` store what the network received, under its network and
account; `created` then plays the faults that act once the post exists (a late answer, a dropped
connection). What stays in each emulator is the network's own: validation, ids, the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from .common import RATES, RateState
from .faults import FAULTS, MODES, Dialect, Fault, after_create, before_create
from .store import STORE, MediaItem, Post

__all__ = ["BEFORE_CREATE_MODES", "UPLOAD_MODES", "Posting"]

UPLOAD_MODES = frozenset({"server_error", "expired_token", "rate_limit", "timeout"})
"""Faults an upload shares with posting where the network's uploads fail like its posts (X,
Mastodon); the others stay armed for the post itself."""
BEFORE_CREATE_MODES = MODES - {"timeout_after_create", "disconnect_after_create"}
"""Faults an upload meets where only the post can be created and then lost (Facebook, LinkedIn)."""


@dataclass
class Posting:
    """One posting request of `account` on `network`, answered in `dialect`."""

    request: web.Request
    network: str
    account: str
    dialect: Dialect
    fault: Fault | None

    @classmethod
    async def start(
        cls,
        request: web.Request,
        dialect: Dialect,
        network: str,
        account: str,
        *,
        modes: frozenset[str] = MODES,
    ) -> Posting | web.Response:
        """The posting, or the answer a fault armed for the account (in `modes`) gives instead."""
        fault = request.app[FAULTS].take(network, account, modes=modes)
        if (replaced := await before_create(request, fault, dialect)) is not None:
            return replaced
        return cls(request, network, account, dialect, fault)

    def window(
        self, key: str, limit: tuple[int, int], *, cost: int = 1
    ) -> tuple[RateState, web.Response | None]:
        """Count the call in the window `{network}:{key}` (`limit`: calls, seconds); the dialect's
        refusal when the window is full."""
        state = self.count(key, limit, cost=cost)
        return state, self.dialect.rate_limited(state) if state.exceeded else None

    def count(self, key: str, limit: tuple[int, int], *, cost: int = 1) -> RateState:
        """Count the call in the window `{network}:{key}` without refusing it (an app-wide window
        the answer's headers report)."""
        return self.request.app[RATES].hit(
            f"{self.network}:{key}", limit=limit[0], window=limit[1], cost=cost
        )

    def add(
        self,
        *,
        remote_id: str,
        text: str,
        body: dict[str, Any],
        idempotency_key: str | None = None,
        reply_to: str | None = None,
        meta: dict[str, Any] | None = None,
        received_at: datetime | None = None,
    ) -> Post:
        """Store the post as the network received it (at `received_at`, default now)."""
        return self.request.app[STORE].add(
            network=self.network,
            account=self.account,
            remote_id=remote_id,
            text=text,
            body=body,
            idempotency_key=idempotency_key,
            reply_to=reply_to,
            meta=meta,
            received_at=received_at,
        )

    def add_media(
        self, *, media_id: str, data: bytes, content_type: str, alt: str | None = None
    ) -> MediaItem:
        """Store an uploaded file (its fingerprint) under the network and account."""
        return self.request.app[STORE].add_media(
            network=self.network,
            account=self.account,
            media_id=media_id,
            data=data,
            content_type=content_type,
            alt=alt,
        )

    async def created(self) -> None:
        """Play the fault that acts once the post exists, if one was armed."""
        await after_create(self.request, self.fault)
