"""Chaos: a 1,000-delivery fan-out while the dispatcher is SIGKILLed again and again and the
networks throw random transient faults (5xx, 429 with a reset, slow answers, timeouts after the
post was created). Every delivery ends published exactly once, checked on what the sandbox
received; only the pages given permanent faults (expired token, invalid content) end `failed`,
each with its reason. A longer run with more pages and kills lives in `bench/bench_fanout.py`.
"""

from __future__ import annotations

import random
import time
from collections import Counter

from tests.dispatcher.conftest import FleetFactory
from tests.dispatcher.fleet import make_pages

NETWORKS = ("x", "mastodon", "bluesky", "linkedin", "facebook")
TRANSIENT = (
    ("server_error", 0.0),
    ("rate_limit", 1.5),
    ("slow", 1.0),  # shorter than the call timeout: lands even when the caller was killed
    ("timeout_after_create", 3.0),  # longer than the call timeout: an unknown outcome
)
# LinkedIn's throttles are daily (until midnight UTC) and Facebook counts its reset in minutes:
# their 429s are tested in tests/adapters; here they would only make the run long.
MINUTES_OR_DAYS = ("linkedin", "facebook")
KILLS = 4


def test_kill_minus_nine_during_a_faulty_fan_out_publishes_everything_exactly_once(
    fleet_factory: FleetFactory,
) -> None:
    rng = random.Random(20261122)
    pages = make_pages(200, NETWORKS, agencies=20)
    fleet = fleet_factory(pages, RELAIS_DISPATCHER_CONCURRENCY="32", RELAIS_DISPATCHER_MAX_ATTEMPTS="12")
    permanent = {
        page.page: mode
        for page, mode in zip(rng.sample(pages, 10), ["expired_token", "invalid_content"] * 5, strict=True)
    }
    for page in pages:
        if page.page in permanent:
            fleet.arm(page.network, page.handle, permanent[page.page], times=0)
        elif rng.random() < 0.3:
            modes = [m for m in TRANSIENT if page.network not in MINUTES_OR_DAYS or m[0] != "rate_limit"]
            mode, seconds = rng.choice(modes)
            fleet.arm(page.network, page.handle, mode, seconds=seconds, times=rng.randint(1, 2))
    texts = {p.page: [f"Campagne nationale : recrutements pour {p.page} #emploi"] for p in pages}

    fleet.approve("national-chaos", "national", pages, texts)
    for _kill in range(KILLS):
        time.sleep(rng.uniform(1.0, 2.5))
        fleet.kill("dispatcher")
        fleet.start("dispatcher")
    rows = fleet.wait_settled(len(pages), timeout=240)

    received = Counter((post["network"], post["account"], post["text"]) for post in fleet.received())
    assert max(received.values()) == 1, [k for k, n in received.items() if n > 1]
    for page in pages:
        row = rows[f"national-chaos.{page.network}.{page.page}"]
        sent = received[(page.network, page.handle, texts[page.page][0])]
        if page.page in permanent:
            assert (row["status"], sent) == ("failed", 0), (page, row)
            assert row["error"]
        else:
            assert (row["status"], sent) == ("published", 1), (page, row)
    expired = {p for p, mode in permanent.items() if mode == "expired_token"}
    assert set(fleet.page_states()) == expired
    for key, row in rows.items():
        if row["page"] in expired:
            assert "reconnect" in row["error"], (key, row)
        elif row["page"] in permanent:
            assert '"network_code": null' not in row["error"], (key, row)
