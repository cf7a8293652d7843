"""A shard starting with a new layout (`shards.py`): what it gained, it takes over without posting twice.

The targets a shard gains may have deliveries their previous owner finished, started, or was
killed in the middle of. Before this shard consumes anything:

1. its approvals consumer is deleted, so that it is made anew and reads every approval of the
   stream again (the targets it gained are in approvals it skipped);
2. every `published` announcement of the bus (DELIVERIES, kept as long as DECISIONS) for a target
   it now owns is recorded as published: never attempted, nor read back, again;
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

import msgspec
import nats.errors
import nats.js.errors
import structlog
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.dispatcher.service import CONSUMER, consumers, delivery_key
from services.dispatcher.settings import Settings
from services.dispatcher.shards import Shard
from services.dispatcher.store import Ledger, Published
from shared.schemas import DeliveryUpdated, decode

__all__ = ["published_on_bus", "take_over"]

log = structlog.get_logger("relais.dispatcher.handover")

PUBLISHED = "deliveries.*.*.published"


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


async def published_on_bus(js: JetStreamContext, shard: Shard, batch: int = 1000) -> list[Published]:
    """Every delivery to this shard's targets the bus has announced `published`, read once with an
    ephemeral consumer (no acks) up to what the stream held when it was made."""
    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.NONE,
        filter_subject=PUBLISHED,
        inactive_threshold=60.0,
    )
    sub = await js.pull_subscribe(PUBLISHED, stream="DELIVERIES", config=config)
    found: dict[str, Published] = {}
    try:
        while True:
            try:
                msgs = await sub.fetch(batch, timeout=2)
            except (nats.errors.TimeoutError, TimeoutError):
                break  # nothing (more) announced
            for msg in msgs:
                try:
                    update = decode(msg.data, DeliveryUpdated)
                except msgspec.DecodeError:  # unreadable: its delivery is read back instead, as if unknown
                    log.error("shard.unreadable_announcement", subject=msg.subject)
                    continue
                if shard.owns(update.network, update.page):
                    key = delivery_key(update.post_id, update.network, update.page)
                    parts = [part.remote_id for part in update.parts]
                    found[key] = Published(
                        key,
                        update.post_id,
                        update.agency,
                        update.network,
                        update.page,
                        update.remote_id,
                        update.url,
                        parts,
                    )
            if msgs[-1].metadata.num_pending == 0:
                break
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    return list(found.values())
