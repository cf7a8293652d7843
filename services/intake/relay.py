"""OutboxRelay: sends the agency's stored posts to the bus, in acceptance order, each exactly once
(then its refusals to audit, its inbox assignments: services/intake/inbox_relay.py, and its advocates'
events: services/intake/advocacy_relay.py)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path

import nats.errors
import sqlite_utils
import structlog
from nats.aio.client import Client as NATS

from services.intake.advocacy_relay import relay_advocacy
from services.intake.hide_requests import relay_hide_requests
from services.intake.inbox_relay import relay_assignments
from services.intake.media_relay import store_media
from services.intake.security import mark_denials_relayed, unrelayed_denials
from services.intake.store import mark_relayed, mark_waiting_for_hub, set_post_status, unrelayed_posts
from shared import bus
from shared.retention import LONGEST_EXACTLY_ONCE_OUTAGE
from shared.schemas import PostReceived, posts_subject, security_subject

log = structlog.get_logger("relais.intake.relay")

# Past the promised outage the hub's POSTS stream may have forgotten the post's message, and with it
# what refuses a resend (`Nats-Expected-Last-Subject-Sequence: 0`): sending could publish it twice.
TOO_OLD_TO_SEND = (
    f"not sent to the hub within {LONGEST_EXACTLY_ONCE_OUTAGE.days} days of its acceptance, the longest "
    "outage that is still exactly-once: sending it now could publish it a second time"
)


class OutboxRelay:
    """Wakes on each new post (or every `interval` seconds) and drains the outbox while the bus is up.

    A post is marked relayed only after JetStream acknowledged it; a crash in between resends it,
    which the stream drops as already stored.
    """

    def __init__(
        self,
        db: sqlite_utils.Database,
        link: bus.BusLink,
        interval: float = 0.2,
        batch: int = 512,
        *,
        media_dir: Path,
    ) -> None:
        self._db = db
        self._link = link
        self._media_dir = media_dir  # where POST /v1/media keeps the files posts name
        self._interval = interval
        self._batch = batch
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            if self._link.nc is None or not self._link.connected:
                if waiting := mark_waiting_for_hub(self._db):
                    log.info("outbox.waiting_for_hub", posts=waiting)
                continue
            await self.drain()

    async def drain(self) -> int:
        """Send every unrelayed post, a batch at a time, pipelined on the one connection.

        One connection keeps the agency's order in the stream; waiting for each acknowledgement
        before the next publish would cost a round trip and a hub fsync per post.
        """
        nc = self._link.nc
        assert nc is not None
        sent = 0
        while batch := unrelayed_posts(self._db, limit=self._batch):
            if not (batch := self._expire_too_old(batch)):
                continue
            ready = await self._with_media_stored(nc, batch)
            try:
                items = [(posts_subject(p.agency, p.post_id), p, p.post_id) for p in ready]
                outcomes = await bus.publish_once_many(nc, items) if items else []
            except (nats.errors.Error, OSError) as exc:  # the link dropped while sending
                log.warning("outbox.relay_failed", agency=batch[0].agency, error=repr(exc))
                mark_waiting_for_hub(self._db)
                return sent
            relayed = []
            for post, outcome in zip(ready, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    log.warning(
                        "outbox.relay_failed", post_id=post.post_id, agency=post.agency, error=repr(outcome)
                    )
                    break  # keep the order: everything after the first failure is sent again later
                relayed.append(post.post_id)
                log.info("post.relayed", post_id=post.post_id, agency=post.agency, duplicate=not outcome)
            mark_relayed(self._db, relayed)
            sent += len(relayed)
            if len(relayed) < len(batch):
                mark_waiting_for_hub(self._db)
                return sent
        await self._relay_denials(nc)
        await relay_assignments(nc, self._db)
        await relay_hide_requests(nc, self._db)
        await relay_advocacy(nc, self._db)
        return sent

    def _expire_too_old(self, batch: list[PostReceived]) -> list[PostReceived]:
        """The posts of `batch` still young enough to send; the others end `expired`, with the reason."""
        oldest = datetime.now(UTC) - LONGEST_EXACTLY_ONCE_OUTAGE
        young = []
        for post in batch:
            if datetime.fromisoformat(post.occurred_at) >= oldest:
                young.append(post)
                continue
            set_post_status(self._db, post.post_id, "expired", TOO_OLD_TO_SEND)
            log.warning(
                "post.expired_unsent", post_id=post.post_id, agency=post.agency, accepted=post.occurred_at
            )
        return young

    async def _with_media_stored(self, nc: NATS, batch: list[PostReceived]) -> list[PostReceived]:
        """The posts of `batch`, up to the first whose media could not all be put in the object store."""
        for index, post in enumerate(batch):
            if post.media and not await store_media(nc, self._db, self._media_dir, post):
                return batch[:index]
        return batch

    async def _relay_denials(self, nc: NATS) -> None:
        while denials := unrelayed_denials(self._db):
            items = [(security_subject(d.agency, event_id), d, event_id) for event_id, d in denials]
            outcomes = await bus.publish_once_many(nc, items)
            done = [
                i for (i, _), o in zip(denials, outcomes, strict=True) if not isinstance(o, BaseException)
            ]
            mark_denials_relayed(self._db, done)
            if len(done) < len(denials):
                return
