"""Engagement read-back benchmark: the figures of 1,000 published deliveries, read back by the real
dispatcher and put on the bus.

Run with `python -m bench.bench_engagement_reads` (or `python -m bench`). It starts NATS, the sandbox
(rate limits off), the federation with a generated registry of 500 Mastodon and 500 X pages, and the
dispatcher (`RELAIS_ENGAGEMENT_TIME_SCALE=0.00001`: 7 d = 6 s), as real processes; one post is
approved for every page and published. The dispatcher is then stopped until every age of every
delivery is due, and started again: it takes the reads it missed (each delivery's missed ages in one
call), and a plain NATS subscriber on `engagement.>` counts every publish until each (post, page,
age) is on the bus. It prints

    engagement_reads deliveries=1000 reads=… per_s=… duplicates=0 seconds=…

where `reads` are the figures announced after the restart, `per_s` the deliveries read per second
from the first announcement after the restart to the last, `duplicates` the publishes beyond one per
(post, page, age), `seconds` the time from the restart to the last announcement. It exits non-zero
on a missing or repeated read, or under `TARGET_PER_S` deliveries read a second.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `tests` and `shared` live at the root

from shared.schemas import ENGAGEMENT_AGES, EngagementMeasured  # noqa: E402
from tests.dispatcher.fleet import DeliveryFleet, make_pages  # noqa: E402
from tests.dispatcher.inbox_kit import BusTap  # noqa: E402
from tests.harness import eventually  # noqa: E402

PAGES_PER_NETWORK = int(os.environ.get("RELAIS_BENCH_ENGAGEMENT_PAGES", "500"))
NETWORKS = ("mastodon", "x")
SCALE = 0.00001
TARGET_PER_S = 100
TIMEOUT_S = 300.0


def main() -> int:
    pages = make_pages(PAGES_PER_NETWORK, NETWORKS, agencies=50)
    expected = {("post-1", page.page, age) for page in pages for age in ENGAGEMENT_AGES}
    with tempfile.TemporaryDirectory(prefix="relais-bench-engagement-") as workdir:
        fleet = DeliveryFleet(Path(workdir), pages, RELAIS_ENGAGEMENT_TIME_SCALE=str(SCALE))
        fleet.set_sandbox_env(RELAIS_SANDBOX_RATE_LIMITS="off")
        try:
            fleet.start()
            with BusTap(fleet.nats_url, "engagement.>") as before:
                fleet.approve(
                    "post-1", pages[0].agency, pages, {page.page: ["Forum emploi"] for page in pages}
                )
                fleet.wait_settled(len(pages), timeout=TIMEOUT_S)
                fleet.stop_only("dispatcher")
                read_before = before.decoded(EngagementMeasured)
            time.sleep(max(ENGAGEMENT_AGES.values()) * SCALE + 1.0)  # every age due
            with BusTap(fleet.nats_url, "engagement.>") as tap:
                started = time.monotonic()
                fleet.start("dispatcher")

                def keys() -> set[tuple[str, str, str]]:
                    seen = read_before + tap.decoded(EngagementMeasured)
                    return {(m.post_id, m.page, m.age) for _, m in seen}

                eventually(lambda: keys() >= expected, timeout=TIMEOUT_S, interval=0.2)
                time.sleep(2.0)  # a repeat would show now
                after = tap.decoded(EngagementMeasured)
                first, last = tap.first_and_last()
        finally:
            fleet.stop()
    seen = Counter((m.post_id, m.page, m.age) for _, m in read_before + after)
    duplicates = sum(n - 1 for n in seen.values())
    missing = len(expected - set(seen))
    deliveries = len({m.page for _, m in after})
    window = last - first
    per_s = deliveries / window if window > 0 else float("inf")
    print(
        f"engagement_reads deliveries={len(pages)} reads={len(after)} per_s={per_s:.0f}"
        f" duplicates={duplicates} seconds={last - started:.1f}",
        flush=True,
    )
    if duplicates or missing or per_s < TARGET_PER_S:
        print(
            f"engagement_reads FAILED: {duplicates} duplicates, {missing} missing, {per_s:.0f} deliveries/s"
            f" (target ≥ {TARGET_PER_S})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
