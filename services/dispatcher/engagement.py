"""Engagement read-back: each published delivery's figures, read at 1 h, 24 h and 7 d (issue #15 item 6).

- The reads are planned in the ledger by the transaction that makes a delivery `published`
  (`m013_engagement`'s trigger), for the networks whose adapter reads figures (`read_engagement`):
  due at the publication (its last call) plus each of `ENGAGEMENT_AGES`, times
  `RELAIS_ENGAGEMENT_TIME_SCALE`. Each start writes that plan (`plan_engagement`) before anything
  can be published.
- A read due spends what the inbox's reads spend (`inbox.py`): nothing while the page's (or the
  app's) limit is blocked by a 429 or an answer that said nothing is left, one read from the
  network's app-wide read budget and its cost from the quota in units where reads share the posts'
  quota (YouTube: never below the floor kept for replies and uploads), and no read starts
  while half the call slots are taken by deliveries: reads never starve publishing.
- The figures and their `EngagementMeasured` announcements are written in one transaction; the
  outbox relay publishes them (`Nats-Msg-Id` = `engagement_msg_id`): a crash between the write and
  the bus publishes each once, after the restart, and never reads again.
- A rate limit waits for the reset the network named, for that page's reads (or the app's) only: a
  read's 429 never holds a publication (where a network counts reads with posts, Mastodon, its
  answers' rate-limit headers bring the posts' buckets down, as the network counts); another
  transient failure backs off (up to `RELAIS_DISPATCHER_MAX_ATTEMPTS` failures, then that read is
  given up, logged); a permanent one (the post was deleted) stops every read of the delivery,
  logged; a refused token waits for a person.
- A dispatcher back from an outage takes the reads it missed once, in one call for all of a
  delivery's ages due by then, each with the real `measured_at` (never the planned time).
- A shard reads only the deliveries of pages it owns; reads of a page another shard owns since a
  layout change end `moved` here. The new owner plans, at its take-over (`handover.py`), each age
  the bus carries no figures of yet, from the publication the bus announced: each age is read once,
  by whichever shard owns the page when it falls due.

Each log line names the post, its agency, page and network; never a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

import structlog

from services.dispatcher.adapters.base import DeliveryError
from services.dispatcher.adapters.conversations import Engagement, EngagementReader
from services.dispatcher.attempt import backoff
from services.dispatcher.outbox import iso
from services.dispatcher.reads import PageReader, first_of
from services.dispatcher.store import EngagementRead, Ledger
from shared.ids import utc_now
from shared.networks import NETWORKS
from shared.schemas import (
    ENGAGEMENT_AGES,
    EngagementMeasured,
    encode,
    engagement_msg_id,
    engagement_subject,
)

__all__ = ["EngagementScheduler", "engagement_plan", "measured"]

log = structlog.get_logger("relais.dispatcher.engagement")

# The loop looks again at most this long after its last look, and at the soonest this soon.
_IDLE_LOOK, _SHORTEST_PAUSE = 1.0, 0.01
# Rows looked at per pass to find the deliveries due (each delivery has at most three).
_DUE_ROWS_PER_SLOT = 3


def engagement_plan(time_scale: float) -> dict[str, dict[str, float]]:
    """Network -> age -> seconds after publication, for every network whose adapter reads figures."""
    return {
        network: {age: seconds * time_scale for age, seconds in ENGAGEMENT_AGES.items()}
        for network, entry in NETWORKS.items()
        if "read_engagement" in entry.capabilities  # as its adapter declares (test_networks_complete)
    }


def measured(read: EngagementRead, figures: Engagement, measured_at: str) -> tuple[str, str, bytes]:
    """The announcement of one age's figures (subject, msg id, data)."""
    message = EngagementMeasured(
        post_id=read.post_id,
        agency=read.agency,
        occurred_at=utc_now(),
        network=read.network,
        page=read.page,
        remote_id=read.remote_id,
        age=read.age,
        measured_at=measured_at,
        likes=figures.likes,
        shares=figures.shares,
        replies=figures.replies,
        views=figures.views,
    )
    return (
        engagement_subject(read.agency, read.post_id, read.age),
        engagement_msg_id(read.post_id, read.page, read.age),
        encode(message),
    )


class EngagementScheduler(PageReader):
    """Takes the reads due, a delivery at a time; see the module's docstring."""

    async def run(self, stop: asyncio.Event) -> None:
        while not self._pages.loaded.is_set():  # a page not yet mirrored is not a page gone
            if stop.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._pages.loaded.wait(), 1.0)
        try:
            while not stop.is_set():
                now = time.time()
                self._start_due(now)
                self._finished.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(first_of(stop, self._finished), self._pause(now))
        finally:
            if self._reading:  # a read in flight finishes (its figures are stored, or read again)
                await asyncio.gather(*self._reading.values(), return_exceptions=True)

    def _pause(self, now: float) -> float:
        if len(self._reading) >= self._slots or self._busy():
            return _IDLE_LOOK
        upcoming = self._ledger.next_engagement_due()
        if upcoming is None or upcoming <= now:  # none, or being read now: its end wakes the loop
            return _IDLE_LOOK
        return min(max(upcoming - now, _SHORTEST_PAUSE), _IDLE_LOOK)

    def _start_due(self, now: float) -> None:
        free = self._slots - len(self._reading)
        if free <= 0 or self._busy():  # deliveries first: a fan-out's calls take the slots
            return
        keys: list[str] = []
        for read in self._ledger.engagement_due(now, (free + len(self._reading)) * _DUE_ROWS_PER_SLOT):
            if read.key not in self._reading and read.key not in keys:
                keys.append(read.key)
        for key in keys[:free]:
            reads = self._ledger.engagement_due_of(key, now)
            if reads:
                self._reading[key] = asyncio.create_task(self._read(reads))

    async def _read(self, reads: list[EngagementRead]) -> None:
        try:
            await self._read_once(reads)
        except Exception as exc:  # a bug must not stop the other deliveries' reads
            log.exception("engagement.read_crashed", **_where(reads[0]), error=type(exc).__name__)
            await self._postpone(reads, reads[0].failures + 1)
        finally:
            self._reading.pop(reads[0].key, None)
            self._finished.set()

    async def _read_once(self, reads: list[EngagementRead]) -> None:
        first = reads[0]
        where = _where(first)
        if not self._settings.shard.owns(first.network, first.page):
            await self._write(lambda ledger: ledger.end_engagement(first.key, "moved"))
            log.info("engagement.moved", **where)
            return
        account = self._account(first.page)
        if account is None:  # the page left the registry (or is not mirrored yet): a failure
            await self._failed(
                reads, DeliveryError("the page is not in the registry", network_code=None, kind="transient")
            )
            return
        now = time.time()
        if self._ledger.page_state(first.page) is not None:  # waits for a person to reconnect it
            await self._write(
                lambda ledger: ledger.postpone_engagement(reads, now + self._policy.cap, first.failures)
            )
            return
        wait = (
            self._limiter.blocked(first.network, first.page)
            or self._holds.wait(first.network, first.page, now)
            or self._limiter.reserve_read(first.network)
        )
        if wait > 0:  # the network said to wait (a 429, nothing left), or its read budget is spent
            await self._write(lambda ledger: ledger.postpone_engagement(reads, now + wait, first.failures))
            return
        reader: EngagementReader = self._adapter(first.network)  # type: ignore[assignment]
        try:
            figures = await reader.read_engagement(account, first.remote_id)
        except DeliveryError as exc:
            await self._failed(reads, exc)
            return
        measured_at = iso(time.time())
        announce = [measured(read, figures, measured_at) for read in reads]
        values = {
            "likes": figures.likes,
            "shares": figures.shares,
            "replies": figures.replies,
            "views": figures.views,
        }
        await self._write(lambda ledger: ledger.store_engagement(reads, values, measured_at, announce))
        self._wake_relay()
        for read in reads:
            log.info("engagement.measured", **where, age=read.age, measured_at=measured_at, **values)

    async def _failed(self, reads: list[EngagementRead], exc: DeliveryError) -> None:
        first = reads[0]
        where = _where(first)
        now = time.time()
        if exc.throttled:
            seconds = exc.retry_after if exc.retry_after is not None else self._policy.cap
            self._holds.hold(first.network, first.page, exc.scope, now + seconds)
            await self._write(lambda ledger: ledger.postpone_engagement(reads, now + seconds, first.failures))
            log.warning(
                "engagement.throttled",
                **where,
                seconds=round(seconds, 1),
                until=iso(now + seconds),  # no read of the page (or the app) before then
                code=exc.network_code,
            )
            return
        if exc.kind == "permanent":  # the post is gone: no later age can be read either
            await self._write(lambda ledger: ledger.end_engagement(first.key, "stopped"))
            log.warning("engagement.read_stopped", **where, code=exc.network_code, error=exc.message)
            return
        failures = first.failures + 1
        if failures >= self._settings.max_attempts:
            ages = [read.age for read in reads]
            await self._write(lambda ledger: ledger.end_engagement(first.key, "failed", ages))
            log.warning(
                "engagement.read_given_up", **where, ages=ages, code=exc.network_code, error=exc.message
            )
            return
        delay = backoff(failures, self._policy, self._rng)
        if exc.kind != "transient":  # a person must act (a token, a scope): not worth trying often
            delay = max(delay, self._policy.cap)
        await self._postpone(reads, failures, delay)
        log.warning(
            "engagement.read_failed",
            **where,
            kind=exc.kind,
            code=exc.network_code,
            error=exc.message,
            retry_in=round(delay, 1),
        )

    async def _postpone(
        self, reads: Sequence[EngagementRead], failures: int, delay: float | None = None
    ) -> None:
        if delay is None:
            delay = backoff(failures, self._policy, self._rng)
        due_at = time.time() + delay
        await self._write(lambda ledger: ledger.postpone_engagement(reads, due_at, failures))

    async def _write(self, write: Callable[[Ledger], None]) -> None:
        if self._writer is not None:
            await self._writer.run(write)
        else:
            write(self._ledger)


def _where(read: EngagementRead) -> dict[str, str]:
    return {"post_id": read.post_id, "agency": read.agency, "page": read.page, "network": read.network}
