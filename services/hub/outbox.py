"""The hub's outbox: bus messages committed to SQLite in the same transaction as the state change
they announce (a decision, a released approval, a dead-letter action), then published.

A stop between the commit and the acknowledgement leaves the row pending: the next pass (right
after each commit, every second, and at start) publishes it again, with the same `Nats-Msg-Id` and,
where the row has one, the same `Nats-Expected-Last-Subject-Sequence`, so JetStream stores it once
(error 10071, "wrong last sequence", means it is already there). What the hub publishes is therefore
always what its SQLite says was decided, and never a second, different decision.
"""

from __future__ import annotations

import asyncio
import contextlib

import nats.errors
import nats.js.errors
import sqlite_utils
import structlog

from services.hub.store import Outgoing, outbox_pending, outbox_sent
from shared import bus

__all__ = ["Outbox"]

log = structlog.get_logger("relais.hub.outbox")


class Outbox:
    def __init__(self, link: bus.BusLink, db: sqlite_utils.Database) -> None:
        self._link = link
        self._db = db
        self._lock = asyncio.Lock()  # one pass at a time keeps the rows in order

    async def flush(self) -> bool:
        """Publish every pending row in commit order; False if some are left (bus unreachable)."""
        async with self._lock:
            while rows := outbox_pending(self._db):
                for row_id, post_id, agency, message in rows:
                    try:
                        await self._publish(message)
                    except (nats.errors.Error, nats.js.errors.Error, TimeoutError, OSError) as exc:
                        log.warning(
                            "outbox.unsent",
                            post_id=post_id,
                            agency=agency,
                            subject=message.subject,
                            error=type(exc).__name__,
                        )
                        return False
                    outbox_sent(self._db, row_id)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Publish what a previous run or a failed pass left, every second until `stop`."""
        while not stop.is_set():
            await self.flush()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    async def _publish(self, message: Outgoing) -> None:
        nc = self._link.nc
        if nc is None or not nc.is_connected:
            raise nats.errors.ConnectionClosedError
        headers = {"Nats-Msg-Id": message.msg_id}
        if message.expected_last_sequence is not None:
            headers["Nats-Expected-Last-Subject-Sequence"] = str(message.expected_last_sequence)
        try:
            await nc.jetstream().publish(message.subject, message.data, headers=headers, timeout=5)
        except nats.js.errors.APIError as exc:
            if exc.err_code != bus.ALREADY_STORED:
                raise
            log.info("outbox.already_stored", subject=message.subject, msg_id=message.msg_id)
