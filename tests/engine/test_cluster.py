"""The compose deployment on a 3-node NATS cluster (issue 12, item 7), on the real engine: during a
fan-out, the node leading JetStream's metadata is SIGKILLed from the host, comes back by its restart
policy and rejoins; then the node leading the POSTS stream is (never two nodes down at once). Every
post reaches every network exactly once, and publishing goes on. An agency node of another compose
project, on another network, reaches the cluster over TLS with its own credentials."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from shared import bus
from tests.docker_deployment import Deployment, wait_post_published
from tests.engine.cluster import (
    AGENCY,
    NETWORKS,
    Burst,
    agency_node,
    cluster_files,
    cluster_variables,
    hand_over,
    meta_leader,
    nats_urls,
    stream_leader,
    wait_agency_ready,
    wait_published,
    wait_rejoined,
)
from tests.harness import http

pytestmark = pytest.mark.docker

POSTS_PER_BURST = 20  # two bursts × 5 networks: 200 deliveries
OTHER_AGENCY = "grenoble-europole"  # a node of its own project, as on another host


def test_killing_the_meta_leader_then_the_posts_leader_loses_and_duplicates_nothing(
    new_deployment: Callable[..., Deployment],
) -> None:
    hub = new_deployment(files=cluster_files(), variables=cluster_variables())
    hub.up()
    intake = hub.url("intake-lyon-part-dieu")
    token = hub.token("advisor", "--agency", AGENCY)
    wait_agency_ready(intake, token)

    first = Burst([(intake, token)], "A", POSTS_PER_BURST, interval=0.3).start()
    leader = meta_leader(hub)
    killed = hub.kill_main_process(leader)
    rejoined_s = wait_rejoined(hub, leader, killed)
    first.join()

    second = Burst([(intake, token)], "B", POSTS_PER_BURST, interval=0.3).start()
    posts_leader = stream_leader(hub, "POSTS")
    killed = hub.kill_main_process(posts_leader)
    second.join()
    wait_rejoined(hub, posts_leader, killed)

    texts = first.texts + second.texts
    counts = wait_published(hub, texts, timeout=150)
    expected = {(network, text) for text in texts for network in NETWORKS}
    missing = expected - set(counts)
    duplicated = {key: n for key, n in counts.items() if n > 1}
    assert not missing and not duplicated, (
        f"killed {leader} (back in {rejoined_s:.0f} s) then {posts_leader}: "
        f"{len(missing)} lost, {len(duplicated)} duplicated\n"
        f"{hub.logs('intake-lyon-part-dieu', 'dispatcher')[-3000:]}"
    )
    # The agency's own view agrees: every post published, on every network, once. It follows the
    # dispatcher's announcements, which may still be on their way when the networks have the posts.
    for post_id in second.ids.values():
        post = wait_post_published(intake, token, post_id, timeout=30)
        assert sorted(d["network"] for d in post["deliveries"]) == sorted(NETWORKS)


# Who may hold what, by hand: the CA's key stays with init; the server key (and the CA's certificate,
# to check each other's routes) goes to the nodes alone; every client gets the CA's certificate.
_NODES = {"nats", "nats-2", "nats-3"}
_CLIENTS = {"federation", "formatter", "hub", "dispatcher", "intake-lyon-part-dieu"}
CERTIFICATE_ROLES = {
    "nats-tls": {"init"},
    "nats-server-tls": {"init", *_NODES},
    "nats-ca": {"init", *_CLIENTS},
}


def _who_mounts(hub: Deployment, volumes: tuple[str, ...]) -> dict[str, set[str]]:
    services = hub.compose("config", "--services").stdout.split()
    holders: dict[str, set[str]] = {volume: set() for volume in volumes}
    for service in services:
        for mount in hub.inspect(service)["Mounts"]:
            for volume in volumes:
                if mount.get("Name") == f"{hub.project}_{volume}":
                    holders[volume].add(service)
    return holders


def test_an_agency_of_another_project_publishes_through_the_cluster_over_tls(
    new_deployment: Callable[..., Deployment], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = new_deployment(files=cluster_files(), variables=cluster_variables())
    hub.up()
    assert _who_mounts(hub, ("nats-tls", "nats-server-tls", "nats-ca")) == CERTIFICATE_ROLES
    # What the agency's operators receive: the CA's certificate, its own NATS password and the hub's
    # public token key. Nothing else (no server key, no other user's password).
    given = tmp_path / "from-the-hub"
    files = hand_over(hub, OTHER_AGENCY, given)
    agency, intake = agency_node(hub, OTHER_AGENCY, given, new_deployment)
    mounts = {m["Destination"]: m for m in agency.inspect("intake")["Mounts"]}
    assert set(mounts) == {"/data", "/hub"}, mounts
    assert mounts["/hub"]["RW"] is False
    assert sorted(p.name for p in given.iterdir()) == sorted(files)

    token = hub.token("advisor", "--agency", OTHER_AGENCY)
    wait_agency_ready(intake, token)
    status, accepted = http(
        "POST", f"{intake}/v1/posts", {"text": "Via TLS #emploi", "networks": ["x"]}, token
    )
    assert status == 202, accepted

    (delivery,) = wait_post_published(intake, token, accepted["id"], timeout=90, interval=1)["deliveries"]
    sandbox = http("GET", f"{hub.url('sandbox')}/_sandbox/posts?network=x")[1]["posts"]
    assert [p["remote_id"] for p in sandbox if "Via TLS" in p["text"]] == [delivery["remote_id"]]

    # From outside, a client without the CA, or with a wrong password, never gets in.
    password = files["nats-password"].decode().strip()
    user = f"agency-{OTHER_AGENCY}"
    refused = {
        "without the CA": (password, None),
        "with a wrong password": (password + "x", given / "ca.pem"),
    }
    for case, (secret, ca) in [*refused.items(), ("as handed over", (password, given / "ca.pem"))]:
        if ca is None:
            monkeypatch.delenv("RELAIS_NATS_CA_FILE", raising=False)
        else:
            monkeypatch.setenv("RELAIS_NATS_CA_FILE", str(ca))
        connects = _connects_within(nats_urls(hub), user, secret, seconds=8)
        assert connects == (case == "as handed over"), case


def _connects_within(urls: str, user: str, password: str, seconds: float) -> bool:
    """Whether the bus client, as a service configures it (reconnecting forever), connects within
    `seconds`. The attempt runs on a thread of its own, left behind when it has not connected: in
    one CI run (2026-12-06) cancelling a refused TLS attempt never returned, and the test hung."""
    with_credentials = ",".join(u.replace("tls://", f"tls://{user}:{password}@") for u in urls.split(","))
    connected = threading.Event()

    async def attempt() -> None:
        nc = await bus.connect(with_credentials, bus.agency_client(OTHER_AGENCY))
        connected.set()
        await nc.close()

    threading.Thread(target=asyncio.run, args=(attempt(),), daemon=True).start()
    return connected.wait(seconds)
