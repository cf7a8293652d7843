"""The dispatcher reads each published delivery's figures back at 1 h, 24 h and 7 d, and puts each
read on the bus once.

Real NATS, sandbox, federation and dispatcher processes; the figures are set on the sandbox's posts
(`/_sandbox/engagement`), and the ages are scaled down (`RELAIS_ENGAGEMENT_TIME_SCALE`). The policy,
written here by hand:
- each published delivery is read at publication + each age × scale, never earlier, and its figures
  are those the network showed at that moment (0 for figures nobody set: a post nobody touched);
  a figure the network does not give (Mastodon's views) is None, never 0;
- each (post, page, age) is announced once on `engagement.<agency>.<post_id>.<age>` (a plain
  subscriber counts every publish, even one JetStream would drop), even with the dispatcher killed
  between storing the figures and publishing them, and the network is not read again for it;
- a rate limit on a read delays the page's reads past the reset the network named, and never a
  publication (to that page or another); no read starts while deliveries take half the call slots;
- a post deleted on the network stops its delivery's reads, logged; reads missed while the
  dispatcher was down are taken once when it is back;
- a page that moves to another shard has each age read once: those read before the move by its
  old owner, the others by its new one.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from datetime import datetime
from typing import Any

from services.dispatcher.settings import ledger_name
from services.dispatcher.shards import Shard
from shared.schemas import ENGAGEMENT_AGES, EngagementMeasured, engagement_subject
from tests.dispatcher.conftest import FleetFactory
from tests.dispatcher.fleet import DeliveryFleet, make_pages
from tests.dispatcher.inbox_kit import BusTap, outbox_size
from tests.harness import eventually, http

# 1 h = 25 ms, 24 h = 0.6 s, 7 d = 4.2 s: time to change the figures between two reads.
SLOW_SCALE = "0.000007"
# 1 h = 7 ms, 24 h = 0.17 s, 7 d = 1.2 s: the three reads as soon as possible.
FAST_SCALE = "0.000002"
SETTLE_S = 1.5  # several looks of the scheduler after the last read: time for a repeat to show
ZERO = {"likes": 0, "shares": 0, "replies": 0}


def epoch(moment: str) -> float:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")).timestamp()


def dispatcher_events(fleet: DeliveryFleet, name: str) -> list[dict[str, Any]]:
    path = fleet.processes["dispatcher"].log_path
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return [entry for line in lines if line.startswith("{") and (entry := json.loads(line))["event"] == name]


def reads(fleet: DeliveryFleet, ledger: str = "dispatcher.db") -> list[dict[str, Any]]:
    """A ledger's engagement reads (read-only)."""
    with sqlite3.connect(f"file:{fleet.data_dir / ledger}?mode=ro", uri=True, timeout=10) as db:
        db.row_factory = sqlite3.Row
        try:
            return [dict(row) for row in db.execute("select * from engagement_reads order by key, due_at")]
        except sqlite3.OperationalError:
            return []


def set_figures(fleet: DeliveryFleet, remote_id: str, **figures: int) -> None:
    status, answer = http(
        "POST",
        f"{fleet.sandbox_url}/_sandbox/engagement",
        {"network": "mastodon", "remote_id": remote_id, **figures},
    )
    assert status == 200, answer


def measured(tap: BusTap) -> list[tuple[str, EngagementMeasured]]:
    return tap.decoded(EngagementMeasured)


def figures(message: EngagementMeasured) -> dict[str, int | None]:
    return {
        "likes": message.likes,
        "shares": message.shares,
        "replies": message.replies,
        "views": message.views,
    }


def test_each_delivery_is_read_at_each_age_once_with_the_figures_shown_then(
    fleet_factory: FleetFactory,
) -> None:
    [page] = make_pages(1, ["mastodon"])
    fleet = fleet_factory([page], RELAIS_ENGAGEMENT_TIME_SCALE=SLOW_SCALE)
    with BusTap(fleet.nats_url, "engagement.>") as tap:
        fleet.approve("post-1", page.agency, [page], {page.page: ["Forum emploi jeudi à Lyon"]})
        [delivery] = fleet.wait_settled(1).values()
        ours = delivery["remote_id"]
        # The page's figures as the network shows them (no views on Mastodon), after each change:
        # (asked at, answered at, figures after it).
        changes: list[tuple[float, float, dict[str, int | None]]] = [(0.0, 0.0, ZERO | {"views": None})]

        def change(**values: int) -> None:
            asked = time.time()
            set_figures(fleet, ours, **values)
            changes.append((asked, time.time(), changes[-1][2] | values | {"views": None}))

        eventually(lambda: len(measured(tap)) >= 1, timeout=30)
        change(likes=3, shares=1, replies=2, views=40)
        eventually(lambda: len(measured(tap)) >= 2, timeout=30)
        change(likes=7)
        eventually(lambda: len(measured(tap)) >= 3, timeout=30)
        time.sleep(SETTLE_S)
        received = measured(tap)

    def shown_at(moment: float) -> list[dict[str, int | None]]:
        """The figures a read at `moment` may see: those of the last change answered before it, or
        of a change asked but not yet answered then."""
        settled = [after for _, answered, after in changes if answered <= moment][-1]
        return [settled] + [after for asked, answered, after in changes if asked <= moment < answered]

    assert Counter(message.age for _, message in received) == Counter(list(ENGAGEMENT_AGES))
    by_age = {message.age: (subject, message) for subject, message in received}
    [planned] = {row["published_at"] for row in reads(fleet)}
    scale = float(SLOW_SCALE)
    for age, (subject, message) in by_age.items():
        assert subject == engagement_subject(page.agency, "post-1", age)
        assert (message.post_id, message.agency, message.page) == ("post-1", page.agency, page.page)
        assert (message.network, message.remote_id) == ("mastodon", ours)
        assert epoch(message.measured_at) >= planned + ENGAGEMENT_AGES[age] * scale - 0.001
        assert figures(message) in shown_at(epoch(message.measured_at)), age
    # The first read came before any change (the test waited for it): nobody touched the post yet.
    assert figures(by_age["1h"][1]) == ZERO | {"views": None}
    assert figures(by_age["7d"][1])["likes"] in (3, 7)  # seconds after the first change: it shows
    assert {row["status"] for row in reads(fleet)} == {"done"}
    logged = dispatcher_events(fleet, "engagement.measured")
    assert Counter(line["age"] for line in logged) == Counter(list(ENGAGEMENT_AGES))
    assert {(line["post_id"], line["agency"], line["page"]) for line in logged} == {
        ("post-1", page.agency, page.page)
    }


def test_a_dispatcher_killed_between_storing_and_publishing_announces_each_read_once(
    fleet_factory: FleetFactory,
) -> None:
    [page] = make_pages(1, ["mastodon"])
    fleet = fleet_factory([page], RELAIS_ENGAGEMENT_TIME_SCALE=FAST_SCALE)
    with BusTap(fleet.nats_url, "engagement.>") as tap:
        fleet.approve("post-1", page.agency, [page], {page.page: ["Forum emploi"]})
        fleet.wait_settled(1)
        fleet.stop_only("nats")  # the figures are read and stored, and cannot be published yet
        eventually(lambda: [row["status"] for row in reads(fleet)] == ["done"] * 3, timeout=30)
        eventually(lambda: outbox_size(fleet) >= 3, timeout=30)
        stored = {row["age"]: row["measured_at"] for row in reads(fleet)}
        fleet.kill("dispatcher")
        fleet.start("nats")
        tap.wait_subscribed()  # it would miss what the dispatcher publishes before it is back
        fleet.start("dispatcher")
        eventually(lambda: len(measured(tap)) >= 3, timeout=30)
        time.sleep(SETTLE_S)
        received = measured(tap)

    assert Counter(message.age for _, message in received) == Counter(list(ENGAGEMENT_AGES))
    # Read once: what was published is what was stored before the kill, not a new read.
    assert {message.age: message.measured_at for _, message in received} == stored
    assert {row["age"]: row["measured_at"] for row in reads(fleet)} == stored
    assert outbox_size(fleet) == 0


def test_a_rate_limit_on_a_read_delays_the_page_s_reads_and_no_publication(
    fleet_factory: FleetFactory,
) -> None:
    """X limits its reads apart from its posts (per endpoint): a read's 429 says nothing of the posts.
    (Mastodon counts every call of the account together: there, the answer's rate-limit headers hold
    the posts too, as the network does.)"""
    limited, other = make_pages(1, ["x", "mastodon"])
    fleet = fleet_factory([limited, other], RELAIS_ENGAGEMENT_TIME_SCALE=FAST_SCALE)
    with BusTap(fleet.nats_url, "engagement.>") as tap:
        fleet.arm("x", limited.handle, "rate_limit", seconds=3, on="read_engagement")
        fleet.approve("post-1", limited.agency, [limited], {limited.page: ["Forum emploi"]})
        eventually(lambda: dispatcher_events(fleet, "engagement.throttled"), timeout=30)
        # Published during the wait, on that page and on another: neither waits for the reads' reset.
        pages = [limited, other]
        fleet.approve("post-2", limited.agency, pages, {p.page: ["Salon de l'alternance"] for p in pages})
        eventually(lambda: len(measured(tap)) >= 9, timeout=30)
        time.sleep(SETTLE_S)
        received = measured(tap)

    assert Counter((m.post_id, m.page, m.age) for _, m in received) == Counter(
        [("post-1", limited.page, age) for age in ENGAGEMENT_AGES]
        + [("post-2", page.page, age) for page in pages for age in ENGAGEMENT_AGES]
    )
    [throttled] = dispatcher_events(fleet, "engagement.throttled")
    assert (throttled["page"], throttled["agency"], throttled["code"]) == (
        limited.page,
        limited.agency,
        "429",
    )
    assert 2 <= throttled["seconds"] <= 3
    reset = epoch(throttled["until"])
    first_read = min(epoch(m.measured_at) for _, m in received if m.page == limited.page)
    assert first_read >= reset  # the network named its reset: none of the page's reads before it
    published = {
        (line["post_id"], line["page"]): epoch(line["timestamp"])
        for line in dispatcher_events(fleet, "delivery.published")
    }
    assert published[("post-2", limited.page)] < reset  # a read's 429 holds no publication
    assert published[("post-2", other.page)] < reset
    assert {row["status"] for row in fleet.deliveries().values()} == {"published"}
    # Each network's own figures: X counts impressions (none yet), Mastodon counts no views at all.
    assert {(m.network, m.views) for _, m in received} == {("mastodon", None), ("x", 0)}


def test_a_post_deleted_on_the_network_stops_its_reads(fleet_factory: FleetFactory) -> None:
    [page] = make_pages(1, ["mastodon"])
    fleet = fleet_factory([page], RELAIS_ENGAGEMENT_TIME_SCALE=FAST_SCALE)
    with BusTap(fleet.nats_url, "engagement.>") as tap:
        # Reads fail (and are tried again) until the post is gone: then the network says 404.
        fleet.arm("mastodon", page.handle, "server_error", times=0, on="read_engagement")
        fleet.approve("post-1", page.agency, [page], {page.page: ["Forum emploi"]})
        fleet.wait_settled(1)
        eventually(lambda: dispatcher_events(fleet, "engagement.read_failed"), timeout=30)
        status, _ = http("DELETE", f"{fleet.sandbox_url}/_sandbox/posts")
        assert status == 200
        status, _ = http("DELETE", f"{fleet.sandbox_url}/_sandbox/faults")
        assert status == 200
        eventually(lambda: dispatcher_events(fleet, "engagement.read_stopped"), timeout=30)
        time.sleep(SETTLE_S)
        assert measured(tap) == []

    [stopped] = dispatcher_events(fleet, "engagement.read_stopped")
    assert (stopped["post_id"], stopped["page"], stopped["agency"], stopped["code"]) == (
        "post-1",
        page.page,
        page.agency,
        "404",
    )
    assert [row["status"] for row in reads(fleet)] == ["stopped"] * 3
    assert [row["status"] for row in fleet.deliveries().values()] == ["published"]


def test_reads_missed_while_the_dispatcher_was_down_are_taken_once_when_it_is_back(
    fleet_factory: FleetFactory,
) -> None:
    """Down past the 7 d read: it is taken on the way back, once, dated when it was really made (the
    ages it missed together, in one call); none is lost, none repeated."""
    [page] = make_pages(1, ["mastodon"])
    scale = 0.000005  # 1 h = 18 ms, 24 h = 0.43 s, 7 d = 3 s
    fleet = fleet_factory([page], RELAIS_ENGAGEMENT_TIME_SCALE=str(scale))
    with BusTap(fleet.nats_url, "engagement.>") as tap:
        fleet.approve("post-1", page.agency, [page], {page.page: ["Forum emploi"]})
        eventually(lambda: [r["status"] for r in fleet.deliveries().values()] == ["published"], interval=0.05)
        fleet.stop_only("dispatcher")
        [planned] = {row["published_at"] for row in reads(fleet)}
        missed = [row["age"] for row in reads(fleet) if row["status"] == "due"]
        assert "7d" in missed
        time.sleep(max(planned + ENGAGEMENT_AGES["7d"] * scale - time.time(), 0) + 0.2)
        back_at = time.time()
        fleet.start("dispatcher")
        eventually(lambda: len(measured(tap)) >= 3, timeout=30)
        time.sleep(SETTLE_S)
        received = measured(tap)

    assert Counter(message.age for _, message in received) == Counter(list(ENGAGEMENT_AGES))
    late = {message.age: message.measured_at for _, message in received if message.age in missed}
    assert len(set(late.values())) == 1  # one call for every age missed
    assert epoch(next(iter(late.values()))) >= back_at


def test_no_read_starts_while_deliveries_take_half_the_call_slots(fleet_factory: FleetFactory) -> None:
    """Deliveries first: with two call slots, one publication in flight (a slow network) holds every
    read that is due, and they are all taken once it is done."""
    quick, slow = make_pages(2, ["mastodon"])
    fleet = fleet_factory(
        [quick, slow], RELAIS_ENGAGEMENT_TIME_SCALE=FAST_SCALE, RELAIS_DISPATCHER_CONCURRENCY="2"
    )
    with BusTap(fleet.nats_url, "engagement.>") as tap:
        fleet.arm("mastodon", slow.handle, "slow", seconds=4)
        fleet.approve("post-2", slow.agency, [slow], {slow.page: ["Salon de l'alternance"]})
        # The slow call holds its slot from its claim on: only then is the quick one approved, so
        # its reads fall due while the slot is held, however loaded the machine is.
        slow_key = f"post-2.mastodon.{slow.page}"
        eventually(lambda: fleet.ledger().get(slow_key, {}).get("status") == "publishing", timeout=30)
        fleet.approve("post-1", quick.agency, [quick], {quick.page: ["Forum emploi"]})
        eventually(lambda: len(measured(tap)) >= 6, timeout=30)
        time.sleep(SETTLE_S)
        received = measured(tap)

    assert Counter((m.post_id, m.age) for _, m in received) == Counter(
        (post, age) for post in ("post-1", "post-2") for age in ENGAGEMENT_AGES
    )
    # The network's own record of each post is stored before its answer leaves, so before the slot
    # is free: an order, not a duration, whatever the machine's load.
    stored = {post["account"]: epoch(post["received_at"]) for post in fleet.received()}
    # The quick one was out while the slow call still held its slot: its first reads were due then.
    assert stored[quick.handle] < stored[slow.handle]
    first_read = min(epoch(m.measured_at) for _, m in received)
    assert first_read > stored[slow.handle]  # nothing read while the slow call held its slot


def test_a_page_moved_to_another_shard_has_each_age_read_once_by_whichever_owned_it_then(
    fleet_factory: FleetFactory,
) -> None:
    """1 h and 24 h are read before a second shard takes the page; 7 d, due after the move, is read
    by the new owner, from the publication the bus announced, and by nobody else."""
    pages = make_pages(4, ["mastodon"])
    page = next(p for p in pages if Shard.parse("1/2", "").owner(p.network, p.page) == 2)
    # 1 h = 72 ms, 24 h = 1.7 s, 7 d = 12 s: the move starts as soon as the 24 h read is out.
    fleet = fleet_factory(pages, RELAIS_ENGAGEMENT_TIME_SCALE="0.00002")
    with BusTap(fleet.nats_url, "engagement.>") as tap:
        fleet.approve("post-1", page.agency, [page], {page.page: ["Forum emploi"]})
        eventually(lambda: {m.age for _, m in measured(tap)} == {"1h", "24h"}, timeout=30)
        fleet.start(*fleet.reshard(2))
        eventually(lambda: len(measured(tap)) >= 3, timeout=60)
        # The old owner ends its own 7 d read once it falls due there: it is no longer its page.
        eventually(lambda: [r["status"] for r in reads(fleet)] == ["done", "done", "moved"], timeout=30)
        time.sleep(SETTLE_S)
        received = measured(tap)

    assert Counter(m.age for _, m in received) == Counter(list(ENGAGEMENT_AGES))
    new_owner = {row["age"]: row["status"] for row in reads(fleet, ledger_name(2))}
    assert new_owner == {"7d": "done"}
    assert fleet.ledger(ledger_name(2))[f"post-1.mastodon.{page.page}"]["attempts"] == 0  # known published
