"""Sharded fan-out benchmark: one national post to 250 pages × 5 networks through three dispatchers.

Run with `python -m bench.bench_fanout_shards` (or `python -m bench`). It starts NATS, the sandbox
(rate limits off), the federation and three dispatcher shards (`RELAIS_DISPATCHER_SHARD=i/3`) as
real processes, publishes one approval with 1,250 variants and, once a quarter of the second
shard's share is published, SIGKILLs that shard and starts it again: its calls in flight are
reconciled (read back) after the HTTP timeout (5 s here), the others' deliveries go on. It prints

    fanout_shards shards=3 deliveries=1250 per_s=… duplicates=0 killed=1 others_done_s=… all_done_s=…

(`per_s`: deliveries over the time from the approval to the last one published, the kill and the
restart included; `others_done_s`: when the two other shards had published their whole share) and
exits non-zero on any duplicate or missing delivery, counted on what the sandbox received.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import nats
from nats.aio.msg import Msg

from bench.bench_fanout import CONCURRENCY, NETWORKS, PAGES, wait_registry
from services.dispatcher.shards import Shard
from shared.schemas import DeliveryUpdated, decode
from tests.dispatcher.fleet import DeliveryFleet, Page, make_pages

SHARDS = 3
VICTIM = 2
POST = "bench-shards"


async def fan_out(
    fleet: DeliveryFleet, pages: list[Page], texts: dict[str, list[str]]
) -> tuple[float, float]:
    """Publish the approval, kill and restart the victim shard mid-run; seconds from the approval
    until the other shards' share, and then every delivery, was announced published."""
    owner = {p.page: Shard.parse(f"1/{SHARDS}").owner(p.network, p.page) for p in pages}
    victims = {page for page, shard in owner.items() if shard == VICTIM}
    nc = await nats.connect(fleet.nats_url)
    done: dict[str, float] = {}

    async def on_published(msg: Msg) -> None:
        done.setdefault(decode(msg.data, DeliveryUpdated).page, time.perf_counter())

    await nc.subscribe(f"deliveries.*.{POST}.published", cb=on_published)
    started = time.perf_counter()
    try:
        await asyncio.to_thread(fleet.approve, POST, "national", pages, texts)
        deadline = started + 300
        while len(victims & set(done)) < len(victims) / 4:
            if time.perf_counter() > deadline:
                raise RuntimeError("the victim shard published nothing")
            await asyncio.sleep(0.01)
        fleet.kill(f"dispatcher-{VICTIM}")  # SIGKILL, with calls in flight
        restart = asyncio.create_task(asyncio.to_thread(fleet.start, f"dispatcher-{VICTIM}"))
        while len(done) < len(pages):
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{len(pages) - len(done)} deliveries never published")
            await asyncio.sleep(0.05)
        await restart
    finally:
        await nc.close()
    others = max(moment for page, moment in done.items() if page not in victims)
    return others - started, max(done.values()) - started


def main() -> int:
    pages = make_pages(PAGES, NETWORKS, agencies=50)
    texts = {p.page: [f"Campagne nationale en shards, page {p.page} #emploi"] for p in pages}
    with tempfile.TemporaryDirectory(prefix="relais-bench-") as workdir:
        fleet = DeliveryFleet(
            Path(workdir),
            pages,
            shards=SHARDS,
            RELAIS_DISPATCHER_CONCURRENCY=str(CONCURRENCY),
            RELAIS_DISPATCHER_HTTP_TIMEOUT="5",
        )
        fleet.set_sandbox_env(RELAIS_SANDBOX_RATE_LIMITS="off")
        try:
            fleet.start()
            asyncio.run(wait_registry(fleet.nats_url, len(pages)))
            time.sleep(1.0)  # every shard's watcher has caught up with the bucket
            others_s, all_s = asyncio.run(fan_out(fleet, pages, texts))
            received = Counter((p["network"], p["account"], p["text"]) for p in fleet.received())
        finally:
            fleet.stop()
    wanted = {(p.network, p.handle, texts[p.page][0]) for p in pages}
    duplicates = sum(n - 1 for key, n in received.items() if key in wanted and n > 1)
    missing = len(wanted - set(received))
    print(
        f"fanout_shards shards={SHARDS} deliveries={len(pages)} per_s={len(pages) / all_s:.0f} "
        f"duplicates={duplicates} killed=1 others_done_s={others_s:.1f} all_done_s={all_s:.1f}",
        flush=True,
    )
    if duplicates or missing:
        print(f"fanout_shards FAILED: {duplicates} duplicates, {missing} missing", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
