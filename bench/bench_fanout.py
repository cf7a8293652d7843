"""Fan-out benchmark: one national post to 250 pages × 5 networks through the real dispatcher.

Run with `python bench/bench_fanout.py` (or `python -m bench`). It starts NATS, the sandbox (rate
limits off), the federation with a generated 1,250-page registry and the dispatcher as real
processes, publishes one approval with 1,250 variants, and times each delivery from the
approval to its `DeliveryUpdated(published)` on the bus. In the same run a plain aiohttp client
makes the same number of deliveries, with the same concurrency, to the same sandbox's posting
endpoints, just before and just after the fan-out: the mean is the ceiling the dispatcher is
compared with. A plain delivery is what the network's API asks of any client: one POST, and for
Bluesky the account's session first (`createSession`: an app password is not a bearer token), as
the dispatcher's first post to an account does. It prints one line per run,

    fanout pages=250 deliveries=1250 per_s=… p50_ms=… p99_ms=… duplicates=0 ceiling_per_s=…
        ceiling_ms=… ceiling_ratio=…

(on one line) for three runs in a row (`RELAIS_BENCH_RUNS`), and exits non-zero on any duplicate or
missing delivery, or if a run is below 0.7 of its ceiling or its p99 is 1 s or more. `ceiling_ms` is
how long the plain client takes for as many deliveries: the p99 cannot be much below it, so it tells
whether the 1 s target is within this machine's reach at all.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `tests` and `shared` live at the root

import aiohttp  # noqa: E402
import nats  # noqa: E402
from nats.aio.msg import Msg  # noqa: E402

from shared import bus  # noqa: E402
from shared.schemas import PAGES_BUCKET, DeliveryUpdated, decisions_subject, decode  # noqa: E402
from tests.dispatcher.fleet import DeliveryFleet, Page, make_pages  # noqa: E402

PAGES = 250
NETWORKS = ("x", "mastodon", "bluesky", "linkedin", "facebook")
CONCURRENCY = 128
TARGET_RATIO = 0.7  # issue #13: three runs in a row at 0.7 of the ceiling or better, p99 under 1 s
TARGET_P99_MS = 1000
RUNS = int(os.environ.get("RELAIS_BENCH_RUNS", "3"))


async def wait_registry(url: str, count: int) -> None:
    """Until the federation has published every page (the dispatcher watches the same bucket)."""
    nc = await nats.connect(url)
    try:
        for _ in range(600):
            try:
                kv = await nc.jetstream().key_value(PAGES_BUCKET)
                if (await kv.status()).values >= count:
                    return
            except Exception:  # the bucket may not exist yet
                pass
            await asyncio.sleep(0.1)
        raise RuntimeError("the registry was not published in time")
    finally:
        await nc.close()


async def fan_out(fleet: DeliveryFleet, pages: list[Page], texts: dict[str, list[str]]) -> dict[str, float]:
    """Publish the approval; seconds from then to each page's published announcement."""
    nc = await nats.connect(fleet.nats_url)
    done: dict[str, float] = {}
    finished = asyncio.Event()

    async def on_published(msg: Msg) -> None:
        update = decode(msg.data, DeliveryUpdated)
        done.setdefault(update.page, time.perf_counter())
        if len(done) == len(pages):
            finished.set()

    await nc.subscribe("deliveries.*.bench-national.published", cb=on_published)
    js = nc.jetstream()
    approval = fleet.approval("bench-national", "national", pages, texts)
    # The clock starts at the approval, as the hub sends it: the bench's own connection is ready.
    started = time.perf_counter()
    await bus.publish(js, decisions_subject("national", "bench-national", "approved"), approval, "bench")
    try:
        await asyncio.wait_for(finished.wait(), 300)
    finally:
        await nc.close()
    return {page: moment - started for page, moment in done.items()}


Request = tuple[str, dict[str, str], dict[str, object]]


def ceiling_request(network: str, number: int, base: str, run: str) -> tuple[Request | None, Request]:
    """One delivery to the sandbox as a client without any Relais logic makes it: the session to
    open first, if the network needs one (its answer's `accessJwt` is the posting call's bearer),
    and the posting request."""
    account = f"ceil{run}{number:05d}"
    text = f"Plafond {number} : un POST direct #emploi"
    bearer = {"Authorization": f"Bearer sbx-{network}-{account}"}
    if network == "x":
        return None, (f"{base}/2/tweets", bearer, {"text": text})
    if network == "mastodon":
        return None, (f"{base}/api/v1/statuses", {**bearer, "Idempotency-Key": account}, {"status": text})
    if network == "bluesky":
        handle = f"{account}.bsky.social"
        login: dict[str, object] = {"identifier": handle, "password": f"sbx-bluesky-{account}"}
        record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-11-22T00:00:00.000Z"}
        body: dict[str, object] = {"repo": handle, "collection": "app.bsky.feed.post", "record": record}
        session: Request = (f"{base}/xrpc/com.atproto.server.createSession", {}, login)
        return session, (f"{base}/xrpc/com.atproto.repo.createRecord", {}, body)
    if network == "linkedin":
        headers = {**bearer, "LinkedIn-Version": "202601", "X-Restli-Protocol-Version": "2.0.0"}
        body = {
            "author": f"urn:li:organization:{account}",
            "commentary": text,
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED"},
            "lifecycleState": "PUBLISHED",
        }
        return None, (f"{base}/rest/posts", headers, body)
    return None, (f"{base}/v23.0/{account}/feed", bearer, {"message": text})


async def ceiling(base: str, count: int, run: str) -> float:
    """Plain aiohttp deliveries per second to the same sandbox, `CONCURRENCY` in flight."""
    queue: asyncio.Queue[tuple[Request | None, Request]] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(ceiling_request(NETWORKS[n % len(NETWORKS)], n, base, run))
    failures = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal failures
        while not queue.empty():
            login, (url, headers, body) = queue.get_nowait()
            if login is not None:
                async with session.post(login[0], json=login[2]) as response:
                    token = (await response.json())["accessJwt"]
                headers = {**headers, "Authorization": f"Bearer {token}"}
            async with session.post(url, json=body, headers=headers) as response:
                await response.read()
                failures += response.status >= 300

    connector = aiohttp.TCPConnector(limit=CONCURRENCY + 8)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{failures} ceiling requests failed")
    return count / elapsed


def main() -> int:
    """`RUNS` runs in a row (each on fresh processes and files), one line each; fails if any misses."""
    failed = [run_once() for _ in range(RUNS)]
    return 1 if any(failed) else 0


def run_once() -> int:
    pages = make_pages(PAGES, NETWORKS, agencies=50)
    texts = {p.page: [f"Campagne nationale : semaine de l'emploi, page {p.page} #emploi"] for p in pages}
    with tempfile.TemporaryDirectory(prefix="relais-bench-") as workdir:
        fleet = DeliveryFleet(Path(workdir), pages, RELAIS_DISPATCHER_CONCURRENCY=str(CONCURRENCY))
        fleet.set_sandbox_env(RELAIS_SANDBOX_RATE_LIMITS="off")
        try:
            fleet.start()
            asyncio.run(wait_registry(fleet.nats_url, len(pages)))
            # The machine's load varies (two cores, shared): the ceiling is measured just before
            # and just after the fan-out, and their mean is the reference.
            before = asyncio.run(ceiling(fleet.sandbox_url, len(pages), "a"))
            time.sleep(1.0)  # the dispatcher's watcher has caught up with the bucket
            latencies = asyncio.run(fan_out(fleet, pages, texts))
            after = asyncio.run(ceiling(fleet.sandbox_url, len(pages), "b"))
            received = Counter((p["network"], p["account"], p["text"]) for p in fleet.received())
            ceiling_per_s = (before + after) / 2
        finally:
            fleet.stop()
    wanted = {(p.network, p.handle, texts[p.page][0]) for p in pages}
    duplicates = sum(n - 1 for key, n in received.items() if key in wanted and n > 1)
    missing = len(wanted - set(received))
    values = sorted(latencies.values())
    per_s = len(values) / values[-1]
    p50 = statistics.median(values) * 1000
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))] * 1000
    ratio = per_s / ceiling_per_s
    print(
        f"fanout pages={PAGES} deliveries={len(pages)} per_s={per_s:.0f} p50_ms={p50:.0f} p99_ms={p99:.0f} "
        f"duplicates={duplicates} ceiling_per_s={ceiling_per_s:.0f} "
        f"ceiling_ms={len(pages) / ceiling_per_s * 1000:.0f} ceiling_ratio={ratio:.2f}",
        flush=True,
    )
    if duplicates or missing:
        print(f"fanout FAILED: {duplicates} duplicates, {missing} missing", file=sys.stderr)
        return 1
    if ratio < TARGET_RATIO or p99 >= TARGET_P99_MS:
        print(
            f"fanout FAILED: {ratio:.2f} of the ceiling (target {TARGET_RATIO}), p99 {p99:.0f} ms "
            f"(target < {TARGET_P99_MS})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
