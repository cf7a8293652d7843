"""Inbox ingestion benchmark: what people sent 1,000 pages, read by the real dispatcher and put on the bus.

Run with `python -m bench.bench_inbox_ingest` (or `python -m bench`). It starts NATS, the sandbox
(rate limits off), the federation with a generated registry of 500 Mastodon and 500 Bluesky pages,
and the dispatcher, as real processes. With the dispatcher stopped, the sandbox's generator makes
`ITEMS_PER_PAGE` mentions per page, the first of them notified twice (a network repeating itself);
the dispatcher is then started (`RELAIS_INBOX_POLL_SECONDS=1`) and a plain NATS subscriber on
`inbox.>` counts every publish until each item is on the bus. It prints

    inbox_ingest pages=1000 items=… per_s=… duplicates=0 seconds=…

where `per_s` is items over the time from the first item on the bus to the last (the dispatcher's
start is not counted), `duplicates` the publishes beyond one per item (a plain subscriber sees each
publish, even one JetStream would drop), `seconds` the time from the dispatcher's start to the last
item. It exits non-zero on a missing or repeated item, or under `TARGET_PER_S` (issue #15: 200).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `tests` and `shared` live at the root

from tests.dispatcher.fleet import DeliveryFleet, make_pages  # noqa: E402
from tests.dispatcher.inbox_kit import BusTap, generate  # noqa: E402
from tests.harness import eventually  # noqa: E402

PAGES_PER_NETWORK = int(__import__("os").environ.get("RELAIS_BENCH_INBOX_PAGES", "500"))
NETWORKS = ("mastodon", "bluesky")
ITEMS_PER_PAGE = 4
TARGET_PER_S = 200
TIMEOUT_S = 300.0


def main() -> int:
    pages = make_pages(PAGES_PER_NETWORK, NETWORKS, agencies=50)
    with tempfile.TemporaryDirectory(prefix="relais-bench-inbox-") as workdir:
        fleet = DeliveryFleet(Path(workdir), pages, RELAIS_INBOX_POLL_SECONDS="1")
        fleet.set_sandbox_env(RELAIS_SANDBOX_RATE_LIMITS="off")
        try:
            fleet.start("nats", "sandbox", "federation")
            expected = set()
            for page in pages:
                made = generate(fleet, page.handle, network=page.network, count=ITEMS_PER_PAGE, duplicates=1)
                expected |= {(page.network, item["item_id"]) for item in made}
            with BusTap(fleet.nats_url) as tap:
                started = time.monotonic()
                fleet.start("dispatcher")

                def all_in() -> bool:
                    return len({(m.network, m.item_id) for _, m in tap.messages()}) >= len(expected)

                eventually(all_in, timeout=TIMEOUT_S, interval=0.2)
                time.sleep(2.0)  # a repeat would show now
                first, last = tap.first_and_last()
                seconds, window = last - started, last - first
                seen = Counter((m.network, m.item_id) for _, m in tap.messages())
        finally:
            fleet.stop()
    duplicates = sum(n - 1 for n in seen.values())
    missing = len(expected - set(seen))
    per_s = len(expected) / window if window > 0 else float("inf")
    print(
        f"inbox_ingest pages={len(pages)} items={len(expected)} per_s={per_s:.0f} duplicates={duplicates}"
        f" seconds={seconds:.1f}",
        flush=True,
    )
    if duplicates or missing or per_s < TARGET_PER_S:
        print(
            f"inbox_ingest FAILED: {duplicates} duplicates, {missing} missing, {per_s:.0f} items/s"
            f" (target ≥ {TARGET_PER_S})",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
