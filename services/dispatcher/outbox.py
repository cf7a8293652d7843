"""From ledger to bus: the messages a status change produces, and the relay that publishes them.

A change and its announcements are written in one transaction (`Ledger.apply`); the relay then
publishes the outbox in order, each message with its `Nats-Msg-Id` (the row's key and version),
and deletes what the bus acknowledged. A crash between the two republishes, and JetStream drops
the copy within its de-duplication window.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime

import nats.errors
import structlog
from nats.aio.client import Client as NATS

from services.dispatcher.store import DeliveryRow, Ledger
from shared import bus
from shared.ids import utc_now
from shared.schemas import (
    DeliveryDeadLettered,
    DeliveryUpdated,
    ErrorReport,
    PageNeedsReauth,
    PageThrottled,
    PublishedPart,
    alerts_subject,
    deliveries_subject,
    encode,
)

__all__ = ["OutboxRelay", "dead_letter", "delivery_update", "iso", "needs_reauth", "page_throttled"]

log = structlog.get_logger("relais.dispatcher.outbox")
_BATCH = 256


def iso(moment: float) -> str:
    """A Unix time as the messages carry times (UTC ISO-8601, like `utc_now`)."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def unix_time(moment: str) -> float:
    """A message's time (UTC ISO-8601, `Z` or an offset) as a Unix time: `iso`'s inverse."""
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()


def _error(error: Mapping[str, object] | None) -> ErrorReport | None:
    if not error:
        return None
    code = error.get("network_code")
    return ErrorReport(
        message=str(error.get("message")), network_code=str(code) if code is not None else None
    )


def part_links(remote_id: str | None, url: str | None, part_ids: Sequence[str]) -> list[PublishedPart]:
    """Every part's id and URL. The first part is the delivery itself, so its URL is the
    delivery's, whatever the network's URL looks like (Facebook's `/{page}/posts/{post}` for id
    `{page}_{post}`, LinkedIn's `/feed/update/{urn}/`, Instagram's shortcode permalink). On every
    network that threads (X, Mastodon, Bluesky), a post's public URL ends with the post's own id
    (its last path segment for a Bluesky `at://` URI), so each later part's URL is the first one's
    with the id swapped; where it does not, a later part's URL is unknown (None), never a guess."""
    if not remote_id:
        return []
    first = remote_id.rsplit("/", 1)[-1]
    links = []
    for part_id in part_ids or [remote_id]:
        own = part_id.rsplit("/", 1)[-1]
        if part_id == remote_id:
            links.append(PublishedPart(part_id, url or None))
        elif url and url.endswith(first):
            links.append(PublishedPart(part_id, url[: -len(first)] + own))
        else:
            links.append(PublishedPart(part_id, None))
    return links


def delivery_update(
    row: DeliveryRow,
    status: str,
    *,
    remote_id: str | None = None,
    url: str | None = None,
    error: Mapping[str, object] | None = None,
    part_ids: Sequence[str] = (),
    throttled_until: float | None = None,
    published_at: float | None = None,
    occurred_at: str | None = None,
) -> tuple[str, str, bytes]:
    """`DeliveryUpdated` for this row's next version: (subject, msg id, data). `published_at` is the
    network's date of a publication (Unix time), where it gave one; `occurred_at` defaults to now."""
    update = DeliveryUpdated(
        post_id=row.post_id,
        agency=row.agency,
        occurred_at=occurred_at or utc_now(),
        network=row.network,
        page=row.page,
        status=status,
        remote_id=remote_id,
        url=url,
        error=_error(error),
        parts=part_links(remote_id, url, part_ids) if status == "published" else [],
        throttled_until=iso(throttled_until) if throttled_until is not None else None,
        published_at=iso(published_at) if published_at is not None and status == "published" else None,
        reply=row.reply_to is not None,
    )
    return (
        deliveries_subject(row.agency, row.post_id, status),
        f"{row.key}.v{row.version + 1}",
        encode(update),
    )


def dead_letter(
    row: DeliveryRow, status: str, attempts: int, error: Mapping[str, object] | None
) -> tuple[str, str, bytes]:
    message = DeliveryDeadLettered(
        post_id=row.post_id,
        agency=row.agency,
        occurred_at=utc_now(),
        network=row.network,
        page=row.page,
        status=status,
        attempts=attempts,
        error=_error(error),
    )
    subject = alerts_subject(row.agency, row.post_id, "dead_letter")
    return subject, f"{row.key}.v{row.version + 1}.dead_letter", encode(message)


def needs_reauth(row: DeliveryRow, error: Mapping[str, object]) -> tuple[str, str, bytes]:
    message = PageNeedsReauth(
        post_id=row.post_id,
        agency=row.agency,
        occurred_at=utc_now(),
        network=row.network,
        page=row.page,
        error=_error(error) or ErrorReport(message="token refused"),
    )
    subject = alerts_subject(row.agency, row.post_id, "needs_reauth")
    return subject, f"{row.key}.v{row.version + 1}.needs_reauth", encode(message)


def page_throttled(
    row: DeliveryRow, since: float, until: float, error: Mapping[str, object] | None
) -> tuple[str, str, bytes]:
    """The alert for a page throttled longer than the threshold; one id per page and wait."""
    message = PageThrottled(
        post_id=row.post_id,
        agency=row.agency,
        occurred_at=utc_now(),
        network=row.network,
        page=row.page,
        since=iso(since),
        until=iso(until),
        error=_error(error),
    )
    subject = alerts_subject(row.agency, row.post_id, "throttled")
    return subject, f"{row.network}.{row.page}.throttled.{since:.3f}", encode(message)


class OutboxRelay:
    """`forget` deletes published rows (by default on the caller's connection; the dispatcher
    passes its ledger writer's, so that no write waits on the event loop)."""

    def __init__(
        self, ledger: Ledger, nc: NATS, forget: Callable[[list[int]], Awaitable[None]] | None = None
    ) -> None:
        self._ledger = ledger
        self._nc = nc
        self._forget = forget
        self.wake = asyncio.Event()

    async def _publish(self, batch: list[tuple[int, str, str, bytes]], handed_over: asyncio.Event) -> bool:
        """Publish a batch pipelined (acknowledged in about the time of one message) and forget it;
        True when the bus stored every message (or already had it: the same `Nats-Msg-Id`)."""
        items = [(subject, data, {"Nats-Msg-Id": msg_id}) for _, subject, msg_id, data in batch]
        try:
            answers = await bus.publish_pipelined(self._nc, items, ack_wait=5.0, handed_over=handed_over)
        except (nats.errors.Error, TimeoutError) as exc:
            log.warning("outbox.publish_failed", error=type(exc).__name__, pending=len(batch))
            return False
        finally:
            handed_over.set()
        failed = [a for a in answers if isinstance(a, BaseException) or "error" in a or "seq" not in a]
        if failed:
            log.warning(
                "outbox.publish_failed", error=str(failed[0])[:200], failed=len(failed), pending=len(batch)
            )
            return False
        ids = [row_id for row_id, *_ in batch]
        if self._forget is None:
            self._ledger.sent(ids)
        else:
            await self._forget(ids)
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop`, then once more so that a clean shutdown leaves nothing behind.

        Two batches are on their way at a time: the bus fsyncs every message before acknowledging
        it, and results committed meanwhile would otherwise wait for all of the previous batch's
        acknowledgements (30–70 ms for a hundred messages in the fan-out benchmark). A batch is
        written to the connection only after the one before it, so the bus receives them in order.
        After a failure the relay waits for both, then starts again from the oldest message that
        was not forgotten (those the bus already had are dropped as copies by their id)."""
        after = 0  # the last id handed to the bus
        sending: deque[asyncio.Task[bool]] = deque()
        while True:
            while sending and sending[0].done():
                if not sending.popleft().result():
                    await asyncio.gather(*sending)  # whatever they did, all is sent again
                    sending.clear()
                    if stop.is_set():
                        return
                    await asyncio.sleep(0.5)
            if not sending:
                # Everything handed over is forgotten: the outbox holds only what is left to send
                # (and its ids may start lower again: a row id is reused once the highest is deleted).
                after = 0
            self.wake.clear()
            batch = self._ledger.outbox(_BATCH, after) if len(sending) < 2 else []
            if batch:
                after = batch[-1][0]
                handed_over = asyncio.Event()
                sending.append(asyncio.create_task(self._publish(batch, handed_over)))
                await handed_over.wait()
                continue
            if stop.is_set() and not sending:
                return
            waiting = [asyncio.ensure_future(self.wake.wait()), *([sending[0]] if sending else [])]
            await asyncio.wait(waiting, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            waiting[0].cancel()
