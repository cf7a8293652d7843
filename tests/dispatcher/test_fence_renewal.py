"""Renewing the lease (services/dispatcher/fence.py) with one real nats-server: a renewal that timed
out while the bus was away may still be stored once the connection is back (nats-py sends what it
buffered), at a revision the dispatcher never heard of. The lease is still its own: the next
renewal adopts that revision instead of stopping the dispatcher. An entry that is gone (expired, or
removed) still stops it.

Seen in a `relais run` whose NATS was stopped for ten seconds: the dispatcher left with
`dispatcher.fence_lost` ("the lease expired or was removed") the moment the bus came back.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats

from services.dispatcher.fence import BUCKET, Fence
from services.dispatcher.settings import Settings

TTL = 6  # renewed every second


async def held_fence(nats_url: str, tmp_path: Path) -> tuple[Fence, nats.NATS]:
    settings = Settings.from_env(
        {
            "RELAIS_DATA_DIR": str(tmp_path),
            "RELAIS_NATS_URL": nats_url,
            "RELAIS_DISPATCHER_FENCE_TTL": str(TTL),
        }
    )
    nc = await nats.connect(nats_url)
    fence = Fence(settings)
    assert await fence.acquire(nc.jetstream(), asyncio.Event())
    return fence, nc


async def keep_for(fence: Fence, seconds: float) -> None:
    stop = asyncio.Event()
    keeping = asyncio.create_task(fence.keep(stop))
    await asyncio.wait([keeping], timeout=seconds)
    stop.set()
    await keeping


async def test_a_renewal_stored_after_its_timeout_leaves_the_lease_held(
    nats_url: str, tmp_path: Path
) -> None:
    fence, nc = await held_fence(nats_url, tmp_path)
    try:
        js = nc.jetstream()
        kv = await js.key_value(BUCKET)
        entry = await kv.get(fence.instance)
        assert entry.value is not None and entry.revision is not None
        # The late copy of a renewal: our own entry, written again at the revision we hold.
        await js.publish(
            f"$KV.{BUCKET}.{fence.instance}",
            entry.value,
            headers={"Nats-Expected-Last-Subject-Sequence": str(entry.revision)},
            msg_ttl=TTL,
        )
        await keep_for(fence, 2.5)
        assert not fence.lost and fence.held
        renewed = await kv.get(fence.instance)
        assert renewed.revision is not None and renewed.revision > entry.revision + 1
    finally:
        fence.lock.release()
        await nc.close()


async def test_a_lease_removed_meanwhile_still_stops_the_dispatcher(nats_url: str, tmp_path: Path) -> None:
    fence, nc = await held_fence(nats_url, tmp_path)
    try:
        kv = await nc.jetstream().key_value(BUCKET)
        await kv.purge(fence.instance)
        await keep_for(fence, 2.5)
        assert fence.lost and not fence.held
    finally:
        fence.lock.release()
        await nc.close()
