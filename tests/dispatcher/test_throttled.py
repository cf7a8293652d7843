"""A delivery waiting on a network's rate limit is `throttled`, with its reset time, told once per wait;
it has not been attempted, so it is published exactly once after the reset; a page throttled longer
than RELAIS_THROTTLE_ALERT_MINUTES raises one alert for the hub. Real dispatcher, NATS and sandbox
(X's fault mode "429 with a reset")."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import datetime
from typing import Any

import nats
import nats.errors

from shared.schemas import DeliveryUpdated, PageThrottled, decode
from tests.dispatcher.conftest import FleetFactory
from tests.dispatcher.fleet import DeliveryFleet, make_pages
from tests.harness import eventually

RESET_S = 6


def bus_messages(fleet: DeliveryFleet, subjects: str) -> list[tuple[str, bytes]]:
    """Every message stored on the bus under `subjects`, oldest first."""

    async def read() -> list[tuple[str, bytes]]:
        nc = await nats.connect(fleet.nats_url)
        found = []
        try:
            sub = await nc.jetstream().subscribe(subjects, ordered_consumer=True)
            while True:
                try:
                    msg = await sub.next_msg(timeout=1)
                except nats.errors.TimeoutError:
                    break
                found.append((msg.subject, msg.data))
        finally:
            await nc.close()
        return found

    return asyncio.run(read())


def ledger_row(fleet: DeliveryFleet, key: str) -> dict[str, Any] | None:
    with sqlite3.connect(f"file:{fleet.data_dir / 'dispatcher.db'}?mode=ro", uri=True, timeout=10) as db:
        db.row_factory = sqlite3.Row
        try:
            row = db.execute(
                "select status, throttled_until, maybe_sent, attempts from deliveries where key = ?", [key]
            ).fetchone()
        except sqlite3.OperationalError:
            return None
    return dict(row) if row else None


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_a_429_with_a_reset_shows_throttled_until_the_reset_then_publishes_once(
    fleet_factory: FleetFactory,
) -> None:
    [page] = make_pages(1, ("x",))
    fleet = fleet_factory([page])
    fleet.arm("x", page.handle, "rate_limit", seconds=RESET_S)
    armed_at = time.time()

    fleet.approve("post-t", page.agency, [page], {page.page: ["Forum de l'emploi jeudi à Lyon #emploi"]})
    key = f"post-t.x.{page.page}"
    row = eventually(lambda: (r := ledger_row(fleet, key)) and r["status"] == "throttled" and r, timeout=30)
    # Waiting for the reset is not an attempt in flight: nothing to reconcile, the call was refused.
    assert row["maybe_sent"] == 0 and row["throttled_until"] is not None
    assert armed_at + RESET_S - 2 <= row["throttled_until"] <= time.time() + RESET_S + 1

    rows = fleet.wait_settled(1)
    assert rows[key]["status"] == "published" and rows[key]["attempts"] == 2
    assert [p["account"] for p in fleet.received()] == [page.handle]  # published once, after the reset

    updates = [decode(data, DeliveryUpdated) for _, data in bus_messages(fleet, "deliveries.>")]
    # Both calls answered within a second: each is announced by its outcome alone (service.SHOWN_AFTER).
    assert [u.status for u in updates] == ["throttled", "published"]
    throttled = updates[0]
    assert throttled.throttled_until is not None and throttled.error is not None
    assert abs(epoch(throttled.throttled_until) - row["throttled_until"]) < 0.01
    published_at = epoch(updates[1].occurred_at)
    assert published_at >= epoch(throttled.throttled_until) - 0.01  # not before the reset
    assert bus_messages(fleet, "alerts.>") == []  # 6 s is well under the 15 minutes' threshold


def test_a_page_throttled_longer_than_the_threshold_alerts_the_hub_once(fleet_factory: FleetFactory) -> None:
    [page] = make_pages(1, ("x",))
    # X's reset (20 s) is past the threshold (15 s); the page's token bucket then lets the waiting
    # posts go one by one, each wait well under the threshold: one alert for the one long wait.
    fleet = fleet_factory([page], RELAIS_THROTTLE_ALERT_MINUTES="0.25")
    fleet.arm("x", page.handle, "rate_limit", seconds=20)

    fleet.approve("post-0", page.agency, [page], {page.page: ["Atelier CV numéro 0 #emploi"]})
    eventually(lambda: (r := ledger_row(fleet, f"post-0.x.{page.page}")) and r["status"] == "throttled")
    # Posts for the same page wait for the same reset without a call, each told once: the token
    # bucket then lets them go one by one (re-checked many times, never announced again).
    for n in (1, 2):
        fleet.approve(f"post-{n}", page.agency, [page], {page.page: [f"Atelier CV numéro {n} #emploi"]})
    rows = fleet.wait_settled(3)
    assert {r["status"] for r in rows.values()} == {"published"}
    assert sorted(p["text"] for p in fleet.received()) == [f"Atelier CV numéro {n} #emploi" for n in range(3)]

    alerts = bus_messages(fleet, "alerts.>")
    assert [subject.rsplit(".", 1)[1] for subject, _ in alerts] == ["throttled"]
    alert = decode(alerts[0][1], PageThrottled)
    assert (alert.network, alert.page, alert.post_id) == ("x", page.page, "post-0")
    assert epoch(alert.until) - epoch(alert.since) >= 15

    updates = [decode(data, DeliveryUpdated) for _, data in bus_messages(fleet, "deliveries.>")]
    statuses = {n: [u.status for u in updates if u.post_id == f"post-{n}"] for n in range(3)}
    for n in range(3):
        assert statuses[n] == ["throttled", "published"], statuses
        [waiting] = [u for u in updates if u.post_id == f"post-{n}" and u.status == "throttled"]
        [done] = [u for u in updates if u.post_id == f"post-{n}" and u.status == "published"]
        assert waiting.throttled_until is not None and epoch(done.occurred_at) >= epoch(
            waiting.throttled_until
        )


def test_publishing_is_announced_only_for_a_call_still_running_after_a_second(
    fleet_factory: FleetFactory,
) -> None:
    """Policy (service.SHOWN_AFTER): a call that ends within a second is announced by its outcome
    alone; one still running after a second is announced `publishing` first, once."""
    quick, slow = make_pages(2, ("mastodon",))
    fleet = fleet_factory([quick, slow])
    fleet.arm("mastodon", slow.handle, "slow", seconds=1.6)

    texts = {p.page: [f"Forum de l'emploi pour {p.page} #emploi"] for p in (quick, slow)}
    fleet.approve("post-s", quick.agency, [quick, slow], texts)
    rows = fleet.wait_settled(2)
    assert {r["status"] for r in rows.values()} == {"published"}

    updates = [decode(data, DeliveryUpdated) for _, data in bus_messages(fleet, "deliveries.>")]
    statuses = {page.page: [u.status for u in updates if u.page == page.page] for page in (quick, slow)}
    assert statuses == {quick.page: ["published"], slow.page: ["publishing", "published"]}
    [shown] = [u for u in updates if u.page == slow.page and u.status == "publishing"]
    [done] = [u for u in updates if u.page == slow.page and u.status == "published"]
    assert (
        0.2 <= epoch(done.occurred_at) - epoch(shown.occurred_at) <= 2.5
    )  # shown after a second of a 3 s call
