"""The layout fence with real dispatcher processes on one bus (services/dispatcher/fence.py): a
dispatcher whose layout clashes with a live one claims and publishes nothing, says why, and takes
over once the other is gone (a clean stop: at once; a SIGKILL it cannot prove here: within the
TTL). Counted on what the sandbox received: each delivery's text names its post and page.

One machine plays several: a dispatcher given a data directory of its own (`add_dispatcher`'s
`data_dir`) has another disk, so it cannot see the others' ledger locks, as on another machine.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from functools import partial

import nats
import nats.js.errors

from services.dispatcher.fence import BUCKET
from services.dispatcher.service import consumers
from services.dispatcher.settings import ledger_name
from services.dispatcher.shards import Shard
from tests.dispatcher.conftest import FleetFactory
from tests.dispatcher.fleet import DeliveryFleet, Page, make_pages
from tests.dispatcher.test_shards import NETWORKS, copies, published_texts, texts_for
from tests.harness import eventually


def logged(fleet: DeliveryFleet, name: str, event: str) -> bool:
    path = fleet.processes[name].log_path
    return path.exists() and event in path.read_text(errors="replace")


def fenced(fleet: DeliveryFleet, name: str) -> bool:
    """Alive, connected, and not ready because of the fence, with the reason logged."""
    status, body = fleet.readiness(name)
    checks = body["checks"] if isinstance(body, dict) else {}
    return (
        status == 503
        and checks.get("nats") is True
        and checks.get("layout_fence") is False
        and logged(fleet, name, "dispatcher.layout_conflict")
    )


def ready(fleet: DeliveryFleet, name: str) -> bool:
    return fleet.readiness(name)[0] == 200


def once(fleet: DeliveryFleet, pages: list[Page], *posts: str) -> Counter[str]:
    return Counter(set().union(*(published_texts(fleet, pages, post) for post in posts)))


def consumer_exists(fleet: DeliveryFleet, shard: str) -> bool:
    async def ask() -> bool:
        nc = await nats.connect(fleet.nats_url)
        try:
            approvals = consumers(Shard.parse(shard))[0]
            await nc.jetstream().consumer_info(approvals.stream, approvals.durable)
            return True
        except nats.js.errors.NotFoundError:
            return False
        finally:
            await nc.close()

    return asyncio.run(ask())


def test_a_new_layout_started_beside_the_old_one_claims_nothing_until_the_old_one_stops(
    fleet_factory: FleetFactory,
) -> None:
    pages = make_pages(4, NETWORKS)
    # A long TTL: the new layout starting well within it shows a clean stop lets go at once.
    fleet = fleet_factory(pages, shards=2, RELAIS_DISPATCHER_FENCE_TTL="30")
    fleet.approve("post-1", "national", pages, texts_for(pages, "Campagne 1"))
    fleet.wait_settled(len(pages))

    # The operator starts 1/3, 2/3, 3/3 while 1/2 and 2/2 still run (on the same disk).
    new = [fleet.add_dispatcher(f"new-{number}", f"{number}/3") for number in (1, 2, 3)]
    fleet.start_alive(*new)
    for name in new:
        eventually(partial(fenced, fleet, name), timeout=15)
    fleet.approve("post-2", "national", pages, texts_for(pages, "Campagne 2"))
    eventually(lambda: copies(fleet) == once(fleet, pages, "Campagne 1", "Campagne 2"), timeout=30)
    # Nothing claimed: shard 3 (a ledger and consumers no old shard has) made no consumer and
    # recorded no delivery; the old layout alone published post 2.
    assert not consumer_exists(fleet, "3/3")
    assert fleet.ledger(ledger_name(3)) == {}
    assert "2/2;" in fleet.processes["new-3"].log_path.read_text()  # the other layout, named

    stopped = time.monotonic()
    fleet.stop_only("dispatcher-1", "dispatcher-2")
    for name in new:
        eventually(partial(ready, fleet, name), timeout=20)
    assert time.monotonic() - stopped < 15  # well within the TTL: removed at once, not expired
    fleet.layout = (3, "")
    fleet.approve("post-3", "national", pages, texts_for(pages, "Campagne 3"))
    fleet.wait_settled(3 * len(pages))
    assert copies(fleet) == once(fleet, pages, "Campagne 1", "Campagne 2", "Campagne 3")


# The lease is renewed every TTL/6, so it outlives the kill by at least 5/6 of the TTL: the
# readiness check below must come before that, with room for a loaded CI machine.
TTL = 10


def test_a_new_layout_waits_at_most_the_ttl_for_a_killed_shard_it_cannot_prove_dead(
    fleet_factory: FleetFactory,
) -> None:
    pages = make_pages(4, NETWORKS)
    fleet = fleet_factory(pages, shards=2, RELAIS_DISPATCHER_FENCE_TTL=str(TTL))
    fleet.approve("post-1", "national", pages, texts_for(pages, "Campagne 1"))
    fleet.wait_settled(len(pages))

    fleet.kill("dispatcher-2")  # SIGKILL: its lease stays until it expires
    killed = time.monotonic()
    fleet.kill("dispatcher-1")
    # Shard 2 ran on another machine: no lock of its here to prove it dead. Shard 1's lock is here.
    (fleet.data_dir / "dispatcher-shard-2.db.fence").unlink()
    new = fleet.reshard(3)
    fleet.start_alive(*new)
    assert time.monotonic() - killed < TTL * 5 / 6 - 1.5, "too slow to start: the test proves nothing"
    assert not ready(fleet, "dispatcher-3")  # shard 3 cannot prove shard 2/2 dead: it waits
    for name in new:
        eventually(partial(ready, fleet, name), timeout=TTL + 5)
    assert time.monotonic() - killed <= TTL + 3  # the expiry, one retry and our polling
    assert logged(fleet, "dispatcher-3", "dispatcher.layout_conflict")
    # Shard 1/2's lock is free here: proved dead, its lease is removed at once (by whichever new
    # shard looks first); shard 2/2's is never proved, it expires.
    removed = [
        line
        for name in new
        for line in fleet.processes[name].log_path.read_text().splitlines()
        if "dispatcher.fence_dead_removed" in line
    ]
    assert removed and all("1/2;" in line for line in removed), removed

    fleet.approve("post-2", "national", pages, texts_for(pages, "Campagne 2"))
    fleet.wait_settled(2 * len(pages))
    assert copies(fleet) == once(fleet, pages, "Campagne 1", "Campagne 2")


def test_a_crashed_shard_restarts_at_once_and_a_second_process_for_a_running_shard_waits(
    fleet_factory: FleetFactory,
) -> None:
    pages = make_pages(4, NETWORKS)
    fleet = fleet_factory(pages, shards=3, RELAIS_DISPATCHER_FENCE_TTL="30")
    fleet.kill("dispatcher-2")
    restarted = time.monotonic()
    fleet.start("dispatcher-2")  # the same layout after a crash: not blocked by its own old lease
    assert time.monotonic() - restarted < 15

    # Shard 2/3 started twice more while it runs: on the same disk, and on another machine.
    twin = fleet.add_dispatcher("twin-2", "2/3")
    remote = fleet.add_dispatcher("remote-2", "2/3", data_dir=fleet.root / "machine-b")
    fleet.start_alive(twin, remote)
    for name in (twin, remote):
        eventually(partial(fenced, fleet, name), timeout=15)
    fleet.approve("post-1", "national", pages, texts_for(pages, "Campagne 1"))
    fleet.wait_settled(len(pages))
    assert copies(fleet) == once(fleet, pages, "Campagne 1")
    # Both still wait: neither ever answers ready, and each says why (a readiness answer caught
    # while a loaded machine retries the bus is asked again).
    answers = {name: fleet.readiness(name) for name in (twin, remote)}
    assert all(status != 200 for status, _ in answers.values()), answers
    eventually(lambda: all(fenced(fleet, name) for name in (twin, remote)), timeout=15)

    # The running one stops: one of the two waiting takes its place, the other keeps waiting.
    fleet.stop_only("dispatcher-2")
    eventually(lambda: [ready(fleet, twin), ready(fleet, remote)].count(True) == 1, timeout=20)
    # Never both (a readiness answer may be late on a loaded machine: then neither, for a moment).
    for _ in range(10):
        assert [ready(fleet, twin), ready(fleet, remote)].count(True) <= 1
        time.sleep(0.2)
    eventually(lambda: [ready(fleet, twin), ready(fleet, remote)].count(True) == 1, timeout=10)
    fleet.approve("post-2", "national", pages, texts_for(pages, "Campagne 2"))
    eventually(lambda: copies(fleet) == once(fleet, pages, "Campagne 1", "Campagne 2"), timeout=30)
    time.sleep(1)
    assert copies(fleet) == once(fleet, pages, "Campagne 1", "Campagne 2")


def test_a_running_dispatcher_whose_lease_is_gone_stops_and_says_so(fleet_factory: FleetFactory) -> None:
    """Its lease removed (or expired), or the bus away for two thirds of the TTL: another layout may
    run soon, so it stops and exits non-zero; restarted, it goes through the fence again."""
    pages = make_pages(2, NETWORKS)
    fleet = fleet_factory(pages, RELAIS_DISPATCHER_FENCE_TTL="3")

    async def remove_leases() -> None:
        nc = await nats.connect(fleet.nats_url)
        try:
            kv = await nc.jetstream().key_value(BUCKET)
            for key in await kv.keys():
                await kv.purge(key)
        finally:
            await nc.close()

    asyncio.run(remove_leases())
    process = fleet.processes["dispatcher"]
    eventually(lambda: not process.alive, timeout=10)  # at its next renewal, a third of the TTL
    assert process.proc is not None and process.proc.returncode == 3
    assert logged(fleet, "dispatcher", "dispatcher.fence_lost")
    fleet.start("dispatcher")  # restarted: nothing else holds a lease, it runs again
    fleet.approve("post-1", "national", pages, texts_for(pages, "Campagne 1"))
    fleet.wait_settled(len(pages))
    assert copies(fleet) == once(fleet, pages, "Campagne 1")

    # The bus away for two thirds of the TTL: it stops before its lease can vanish.
    fleet.stop_only("nats")
    eventually(lambda: not process.alive, timeout=10)
    assert process.proc is not None and process.proc.returncode == 3
    fleet.start("nats", "dispatcher")
    fleet.approve("post-2", "national", pages, texts_for(pages, "Campagne 2"))
    fleet.wait_settled(2 * len(pages))
    assert copies(fleet) == once(fleet, pages, "Campagne 1", "Campagne 2")
