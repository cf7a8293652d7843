"""Cluster failover benchmark: the compose deployment on a 3-node NATS cluster (R3 streams) during a
1,000-delivery fan-out (200 posts × 5 networks, from the hub project's agency node and two agency
nodes of their own projects over TLS), with the node leading JetStream's metadata SIGKILLed from
the host, back by its restart policy and in the cluster again, then the node leading the POSTS
stream (never two nodes down at once). Three agencies, because the dispatcher keeps each page
within its network's real limits (X: 100 posts per 15 minutes, LinkedIn: 150 a day).

Run with `python -m bench.bench_cluster_failover` (or `make bench`); it needs the Docker engine of
`deploy/docker/engine.sh`. It prints one line:

    cluster_failover deliveries=1000 killed=leader resume_s=… lost=0 duplicated=0

where resume_s is the time from the POSTS leader's kill to the first post sent after it reaching its
network (through the new leader), and exits non-zero on any lost or duplicated delivery.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `tests` and `shared` live at the root

from tests.docker_deployment import Deployment, engine_problem  # noqa: E402
from tests.engine.cluster import (  # noqa: E402
    AGENCY,
    NETWORKS,
    Burst,
    agency_node,
    cluster_files,
    cluster_variables,
    hand_over,
    meta_leader,
    sandbox_counts,
    stream_leader,
    wait_agency_ready,
    wait_published,
    wait_rejoined,
)

POSTS = 200  # × 5 networks
INTERVAL = 0.05
OTHER_AGENCIES = ("grenoble-europole", "rennes-sud")


def first_after(burst: Burst, moment: float, timeout: float = 120) -> str:
    """The first text of `burst` sent after `moment`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        later = [text for text in burst.texts if burst.sent_at.get(text, 0.0) > moment]
        if later:
            return later[0]
        time.sleep(0.05)
    raise RuntimeError("no post was sent after the kill")


def main() -> int:
    problem = engine_problem()
    if problem:
        print(f"cluster_failover skipped: {problem}", file=sys.stderr)
        return 1
    project = f"relais-bench-cluster-{os.getpid()}"
    hub = Deployment(project, files=cluster_files(), variables=cluster_variables())
    projects = [hub]
    folder = Path(tempfile.mkdtemp())  # what each agency node was handed, mounted while it runs

    def make(**options: Any) -> Deployment:
        projects.append(Deployment(f"{project}-{len(projects)}", **options))
        return projects[-1]

    try:
        hub.up()
        intakes = [(hub.url("intake-lyon-part-dieu"), hub.token("advisor", "--agency", AGENCY))]
        for agency in OTHER_AGENCIES:
            hand_over(hub, agency, folder / agency)
            _, intake = agency_node(hub, agency, folder / agency, make)
            intakes.append((intake, hub.token("advisor", "--agency", agency)))
        for intake, token in intakes:
            wait_agency_ready(intake, token)

        first = Burst(intakes, "A", POSTS // 2, INTERVAL).start()
        time.sleep(1)
        leader = meta_leader(hub)
        killed = hub.kill_main_process(leader)
        rejoined_s = wait_rejoined(hub, leader, killed)
        first.join(timeout=300)

        second = Burst(intakes, "B", POSTS - POSTS // 2, INTERVAL).start()
        time.sleep(1)
        posts_leader = stream_leader(hub, "POSTS")
        killed_at = time.monotonic()
        killed = hub.kill_main_process(posts_leader)
        probe = first_after(second, killed_at)
        while not any(text == probe for _, text in sandbox_counts(hub, [probe])):
            if time.monotonic() - killed_at > 300:
                raise RuntimeError("publishing did not resume within 5 minutes")
            time.sleep(0.25)
        resume_s = time.monotonic() - killed_at
        new_posts_leader = stream_leader(hub, "POSTS")
        second.join(timeout=300)
        wait_rejoined(hub, posts_leader, killed)

        texts = first.texts + second.texts
        counts = wait_published(hub, texts, timeout=600)
        expected = {(network, text) for text in texts for network in NETWORKS}
        lost = len(expected - set(counts))
        duplicated = sum(n - 1 for n in counts.values() if n > 1)
        print(
            f"cluster_failover deliveries={len(expected)} killed=leader resume_s={resume_s:.1f} "
            f"lost={lost} duplicated={duplicated}",
            flush=True,
        )
        print(
            f"# meta leader {leader} back in the cluster after {rejoined_s:.1f} s; "
            f"then POSTS leader {posts_leader}, replaced by {new_posts_leader}",
            file=sys.stderr,
        )
        return 1 if lost or duplicated else 0
    finally:
        for deployment in reversed(projects):
            deployment.down()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
