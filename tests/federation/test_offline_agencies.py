"""Offline-first agency nodes under real faults (short versions; the long spells are in `make bench`):
links cut, the hub side killed with SIGKILL, an agency node restarted mid-relay. Afterwards every
post is delivered exactly once (checked at the sandbox), the audit has each event once, and the
agency's view matches the hub's."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

from tests.harness import RelaisSystem, eventually, http

LYON, GRENOBLE, RENNES = "lyon-part-dieu", "grenoble-europole", "rennes-sud"
HUB_SIDE = ("nats", "federation", "formatter", "hub", "dispatcher")


def write_posts(relais: RelaisSystem, agency: str, count: int, label: str, ids: list[str]) -> None:
    for i in range(count):
        status, accepted = relais.post(
            {"text": f"{label} n°{i} #emploi", "networks": ["mastodon"]}, agency=agency
        )
        assert status == 202, accepted
        ids.append(accepted["id"])


def audited(relais: RelaisSystem, post_id: str, steps: set[str]) -> Counter[tuple[str, str | None]]:
    """The post's audit events (but the publishing marks), once every step is there; empty before."""
    events = Counter(
        (e["event"], e["page"]) for e in relais.audit(post_id) if e["event"] != "delivery.publishing"
    )
    return events if {e for e, _ in events} >= steps else Counter()


def assert_exactly_once(
    relais: RelaisSystem, ids_by_agency: dict[str, list[str]], timeout: float = 120
) -> None:
    for agency, ids in ids_by_agency.items():
        for post_id in ids:
            relais.wait_status(post_id, ("published",), agency=agency, timeout=timeout)
    counts = Counter(p["text"] for p in relais.sandbox_posts(network="mastodon"))
    assert counts and max(counts.values()) == 1, [t for t, n in counts.items() if n > 1][:5]
    assert sum(len(ids) for ids in ids_by_agency.values()) == len(counts)
    steps = {"received", "targeted", "rendered", "approved", "delivery.published"}
    for agency, ids in ids_by_agency.items():
        for post_id in ids:
            # The audit is complete eventually: a batch the killed hub had fetched comes back to the
            # restarted one when its ack wait expires, possibly after the post is already published.
            events = eventually(lambda post_id=post_id: audited(relais, post_id, steps), timeout=60)
            assert max(events.values()) == 1, events
            hub, local = relais.hub_post(post_id), relais.get_post(post_id, agency)
            assert hub is not None and hub["status"] == local["status"] == "published"
            assert [d["remote_id"] for d in hub["deliveries"]] == [
                d["remote_id"] for d in local["deliveries"]
            ]


def test_posts_written_during_a_link_cut_arrive_once_when_it_returns(
    make_relais: Callable[..., RelaisSystem],
) -> None:
    relais = make_relais(proxied=True)
    relais.links[LYON].cut()
    ids: list[str] = []
    write_posts(relais, LYON, 60, "Pendant la coupure", ids)
    assert relais.get_post(ids[-1], LYON)["status"] in ("queued", "waiting_for_hub")
    time.sleep(3)  # a spell long enough for every reconnect attempt to fail
    assert relais.wait_status(ids[0], ("waiting_for_hub",), agency=LYON)
    relais.links[LYON].restore()
    assert_exactly_once(relais, {LYON: ids})


def test_decisions_and_campaigns_wait_for_an_offline_agency(make_relais: Callable[..., RelaisSystem]) -> None:
    relais = make_relais(proxied=True)
    relais.links[RENNES].cut()
    body = {"text": "Forum de l'emploi à {ville} #emploi", "networks": ["x"], "selectors": ["nation"]}
    status, accepted = http("POST", f"{relais.hub_url}/v1/posts", body, token=relais.token("admin"))
    assert status == 202
    post_id = accepted["id"]
    eventually(lambda: (v := relais.hub_post(post_id)) and v["status"] == "published")
    assert relais.wait_status(post_id, ("published",), agency=LYON)
    assert (
        http("GET", f"{relais.intake_url(RENNES)}/v1/posts/{post_id}", token=relais.token(agency=RENNES))[0]
        == 404
    )

    relais.links[RENNES].restore()
    local = relais.wait_status(post_id, ("published",), agency=RENNES, timeout=90)
    assert [(d["page"], d["status"]) for d in local["deliveries"]] == [("rennes-sud-x", "published")]

    def contacts() -> dict[str, str]:
        body = http("GET", f"{relais.hub_url}/v1/agencies", token=relais.token("admin"))[1]
        return {a["agency"]: a["last_seen"] for a in body["agencies"]}

    seen = eventually(lambda: (c := contacts()) and {LYON, GRENOBLE, RENNES} <= set(c) and c)
    assert all(seen[a] for a in (LYON, GRENOBLE, RENNES))


def test_killing_the_hub_side_while_two_agencies_post_loses_and_doubles_nothing(relais: RelaisSystem) -> None:
    ids: dict[str, list[str]] = {LYON: [], GRENOBLE: []}
    writers = [
        threading.Thread(target=write_posts, args=(relais, agency, 40, f"Offre {agency}", ids[agency]))
        for agency in ids
    ]
    for writer in writers:
        writer.start()
    time.sleep(0.5)
    for name in HUB_SIDE:
        relais.kill(name)  # SIGKILL: no goodbye, mid-write
    for writer in writers:
        writer.join()
    relais.start(*HUB_SIDE)
    assert_exactly_once(relais, ids)


def test_an_agency_node_restarted_mid_relay_sends_each_post_once(
    make_relais: Callable[..., RelaisSystem],
) -> None:
    relais = make_relais(proxied=True)
    relais.links[LYON].cut()
    ids: list[str] = []
    write_posts(relais, LYON, 150, "Relais interrompu", ids)
    relais.links[LYON].restore()
    eventually(
        lambda: any(relais.get_post(i, LYON)["status"] != "waiting_for_hub" for i in ids), interval=0.01
    )
    relais.kill(f"intake-{LYON}")  # SIGKILL in the middle of draining the outbox
    relais.start(f"intake-{LYON}")
    assert_exactly_once(relais, {LYON: ids})
