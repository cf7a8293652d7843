"""A shard starting with a new layout (`shards.py`): what it gained, it takes over without posting twice.

The targets a shard gains may have deliveries their previous owner finished, started, or was
killed in the middle of. Before this shard consumes anything:

1. its approvals consumer is deleted, so that it is made anew and reads every approval of the
   stream again (the targets it gained are in approvals it skipped);
2. every `published` announcement of the bus (DELIVERIES, kept as long as DECISIONS) for a target
   it now owns is recorded as published: never attempted, nor read back, again; the ages of its
   figures that no ENGAGEMENT announcement carries yet are planned here (`Ledger.take_over`), so
   each age is read once, by whichever shard owned the page when it fell due;
3. the new layout is written with the DECISIONS sequence at that moment: a replayed approval up to
   it that is not already recorded becomes `unconfirmed` (`Ledger.enqueue`), and is reconciled by
   reading the page back before any attempt, once a call its previous owner had in flight can no
   longer land (the HTTP timeout from now). Unfinished deliveries of targets it lost are `moved`.

The consumer is deleted before the layout is written: a crash between the two replays again, and
never loses the replay. The first start of a single dispatcher (no layout recorded) is today's start.
It runs only once no shard of another layout is alive: `fence.py` holds every new shard back until then.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import TypeVar

import msgspec
import nats.errors
import nats.js.errors
import structlog
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.dispatcher.outbox import unix_time
from services.dispatcher.service import CONSUMER, consumers, delivery_key
from services.dispatcher.settings import Settings
from services.dispatcher.shards import Shard
from services.dispatcher.store import Ledger, Published
from shared.retention import STREAM_RETENTION
from shared.schemas import DeliveryUpdated, EngagementMeasured, decode

__all__ = ["published_on_bus", "take_over"]

log = structlog.get_logger("relais.dispatcher.handover")

PUBLISHED = "deliveries.*.*.published"
FIGURES = "engagement.*.*.*"

Announcement = TypeVar("Announcement", DeliveryUpdated, EngagementMeasured)


async def take_over(js: JetStreamContext, ledger: Ledger, settings: Settings) -> None:
    shard = settings.shard
    stored = ledger.layout()
    if stored == shard.layout:
        return
    decisions_seq, published = 0, []
    if stored is not None or shard.sharded:
        decisions_seq = (await js.stream_info(CONSUMER.stream)).state.last_seq
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_consumer(CONSUMER.stream, consumers(shard)[0].durable)
        published = await published_on_bus(js, shard)
    reconcile_at = time.time() + settings.http_timeout
    away, back = ledger.take_over(
        shard.layout, shard.owns, decisions_seq=decisions_seq, reconcile_at=reconcile_at, published=published
    )
    log.warning(
        "shard.layout_changed",
        before=stored,
        after=shard.layout,
        replay_up_to=decisions_seq,
        known_published=len(published),
        moved_away=away,
        taken_back=back,
    )


async def published_on_bus(js: JetStreamContext, shard: Shard) -> list[Published]:
    """Every delivery to this shard's targets the bus has announced `published`, with the ages of
    its figures the bus already carries (ENGAGEMENT) and when those ages count from."""
    read = await _figures_on_bus(js, shard)
    oldest_read = time.time() - STREAM_RETENTION["ENGAGEMENT"].max_age_seconds
    found: dict[str, Published] = {}
    async for msg in _every_message(js, "DELIVERIES", PUBLISHED):
        update = _decoded(msg, DeliveryUpdated)
        if update is None or not shard.owns(update.network, update.page):
            continue
        since = unix_time(update.published_at or update.occurred_at)
        target = (update.post_id, update.network, update.page)
        key = delivery_key(*target)
        found[key] = Published(
            key,
            update.post_id,
            update.agency,
            update.network,
            update.page,
            update.remote_id,
            update.url,
            [part.remote_id for part in update.parts],
            # Older than the figures the bus keeps, its reads cannot be told from reads never taken:
            # none is taken (they would all be weeks late anyway). An answer's are never read.
            reads_from=None if update.reply or since < oldest_read else since,
            already_read=frozenset(read.get(target, ())),
        )
    return list(found.values())


async def _figures_on_bus(js: JetStreamContext, shard: Shard) -> dict[tuple[str, str, str], set[str]]:
    """(post, network, page) -> the ages whose figures the bus carries, for this shard's targets."""
    read: dict[tuple[str, str, str], set[str]] = {}
    async for msg in _every_message(js, "ENGAGEMENT", FIGURES):
        figures = _decoded(msg, EngagementMeasured)
        if figures is not None and shard.owns(figures.network, figures.page):
            read.setdefault((figures.post_id, figures.network, figures.page), set()).add(figures.age)
    return read


async def _every_message(
    js: JetStreamContext, stream: str, subject: str, batch: int = 1000
) -> AsyncIterator[Msg]:
    """Every message of the stream on the subject, read once with an ephemeral consumer (no acks) up
    to what the stream held when it was made."""
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.NONE,
        filter_subject=subject,
        inactive_threshold=60.0,
    )
    sub = await js.pull_subscribe(subject, stream=stream, config=config)
    try:
        while True:
            try:
                msgs = await sub.fetch(batch, timeout=2)
            except (nats.errors.TimeoutError, TimeoutError):
                return  # nothing (more) there
            for msg in msgs:
                yield msg
            if msgs[-1].metadata.num_pending == 0:
                return
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


def _decoded(msg: Msg, kind: type[Announcement]) -> Announcement | None:
    try:
        return decode(msg.data, kind)
    except msgspec.DecodeError:  # as if it were not there: the delivery read back, the age read again
        log.error("shard.unreadable_announcement", subject=msg.subject)
        return None
