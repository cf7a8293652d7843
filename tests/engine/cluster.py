"""The compose deployment on a 3-node NATS cluster (deploy/cluster/docker-compose.cluster.yml), and
what its failover test and benchmark need: which node leads, killing one from the host, waiting until
it is back in the cluster, and a burst of posts counted on the sandbox."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.docker_deployment import COMPOSE_FILE, REPO, Deployment
from tests.harness import eventually, free_port, http

CLUSTER_FILE = REPO / "deploy" / "cluster" / "docker-compose.cluster.yml"
AGENCY_FILE = REPO / "deploy" / "agency" / "docker-compose.agency.yml"
# nats-server's name for each node → its compose service (the first node is the main file's `nats`).
NODES = {"nats-1": "nats", "nats-2": "nats-2", "nats-3": "nats-3"}
NODE_PORT_VARIABLES = {
    "nats": "RELAIS_NATS_1_HOST_PORT",
    "nats-2": "RELAIS_NATS_2_HOST_PORT",
    "nats-3": "RELAIS_NATS_3_HOST_PORT",
}
NETWORKS = ("x", "mastodon", "bluesky", "linkedin", "facebook")
AGENCY = "lyon-part-dieu"
_MARKER = re.compile(r"rc[A-Za-z0-9]+x\d+y")


def bridge_address() -> str:
    """The host's address on Docker's default bridge: what a container of another project (an agency
    node) reaches the cluster's published ports by, as another host would reach the hub's."""
    done = subprocess.run(
        ["docker", "network", "inspect", "bridge", "--format", "{{range .IPAM.Config}}{{.Gateway}}{{end}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 0 and done.stdout.strip():
        return done.stdout.strip()
    done = subprocess.run(
        ["ip", "-4", "-o", "addr", "show", "docker0"], capture_output=True, text=True, check=True
    )
    return done.stdout.split()[3].split("/")[0]


def cluster_variables(**extra: str) -> dict[str, str]:
    """Free host ports for the three nodes, published where agency containers reach them, with that
    address in the server certificate."""
    address = bridge_address()
    return {
        **{variable: str(free_port()) for variable in NODE_PORT_VARIABLES.values()},
        "RELAIS_NATS_PUBLISH_ADDRESS": address,
        "RELAIS_NATS_TLS_NAMES": f"nats,nats-2,nats-3,localhost,127.0.0.1,{address}",
        **extra,
    }


def cluster_files() -> list[Any]:
    return [COMPOSE_FILE, CLUSTER_FILE]


def nats_urls(deployment: Deployment) -> str:
    """The cluster as a client outside the project reaches it (TLS, the published ports)."""
    address = deployment.variables["RELAIS_NATS_PUBLISH_ADDRESS"]
    return ",".join(f"tls://{address}:{deployment.variables[v]}" for v in NODE_PORT_VARIABLES.values())


def monitor(deployment: Deployment, service: str, path: str) -> subprocess.CompletedProcess[str]:
    """GET a node's monitoring endpoint (its port 8222 is not published: read from inside)."""
    url = f"http://127.0.0.1:8222{path}"
    return deployment.compose(
        "exec", "-T", service, "wget", "-q", "-T", "3", "-O", "-", url, check=False, timeout=30
    )


def jsz(
    deployment: Deployment, query: str = "", nodes: tuple[str, ...] = tuple(NODES.values())
) -> dict[str, Any]:
    """A node's JetStream report, from the first of `nodes` that answers."""
    for service in nodes:
        done = monitor(deployment, service, f"/jsz{query}")
        if done.returncode == 0 and done.stdout.strip():
            return dict(json.loads(done.stdout))
    raise AssertionError(f"no node answered /jsz{query}")


def meta_leader(deployment: Deployment) -> str:
    """The compose service of the node leading the cluster's JetStream metadata."""
    leader = eventually(lambda: jsz(deployment).get("meta_cluster", {}).get("leader"), timeout=60, interval=1)
    return NODES[leader]


def stream_leader(deployment: Deployment, stream: str) -> str:
    def leader() -> str | None:
        for account in jsz(deployment, "?streams=true").get("account_details", []):
            for detail in account.get("stream_detail", []):
                if detail["name"] == stream:
                    return NODES.get(detail.get("cluster", {}).get("leader", ""))
        return None

    return str(eventually(leader, timeout=60, interval=1))


def node_healthy(deployment: Deployment, service: str) -> bool:
    """In the cluster and caught up: nats-server's own health check (JetStream current, a meta
    leader known)."""
    return monitor(deployment, service, "/healthz").returncode == 0


def wait_rejoined(deployment: Deployment, service: str, killed_pid: int, timeout: float = 120) -> float:
    """Seconds until the node killed as `killed_pid` runs again (its restart policy, no person) and
    is back in the cluster, caught up."""
    started = time.monotonic()

    def back() -> bool:
        pid = deployment.main_pid(service)
        return pid not in (0, killed_pid) and node_healthy(deployment, service)

    eventually(back, timeout=timeout, interval=1)
    return time.monotonic() - started


class Burst:
    """Posts to every network sent from a thread at a steady pace through agency nodes' intakes (in
    turn; each outbox relays them to the POSTS stream), so that nodes can be killed while they flow."""

    def __init__(self, intakes: list[tuple[str, str]], label: str, count: int, interval: float) -> None:
        # Each text carries a marker of its own (the networks' versions may add to the text).
        self.texts = [f"Relais cluster rc{label}x{i}y #emploi" for i in range(count)]
        self.ids: dict[str, str] = {}  # text → post id
        self.refused: list[Any] = []
        self.sent_at: dict[str, float] = {}
        self._thread = threading.Thread(target=self._send, args=(intakes, interval), daemon=True)

    def start(self) -> Burst:
        self._thread.start()
        return self

    def join(self, timeout: float = 120) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the burst did not finish sending"
        assert not self.refused, self.refused[:3]

    def _send(self, intakes: list[tuple[str, str]], interval: float) -> None:
        for index, text in enumerate(self.texts):
            intake, token = intakes[index % len(intakes)]
            status, body = http(
                "POST", f"{intake}/v1/posts", {"text": text, "networks": list(NETWORKS)}, token
            )
            if status == 202:
                self.ids[text] = body["id"]
                self.sent_at[text] = time.monotonic()
            else:
                self.refused.append((status, body))
            time.sleep(interval)


def hand_over(hub: Deployment, agency: str, folder: Path) -> dict[str, bytes]:
    """What the hub's operators give an agency's, into `folder` as the agency's operators keep it
    (owned by the services' uid): the CA's certificate, the agency's own NATS password and the
    hub's public token key. Read where init wrote them."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = {
        "ca.pem": "/nats-ca/ca.pem",
        "nats-password": f"/nats-users/password-agency-{agency}",
        "hub-token-key.pub.pem": "/token-public-key/hub-token-key.pub.pem",
    }
    files = {}
    for name, source in sources.items():
        files[name] = hub.compose("run", "--rm", "--no-deps", "-T", "init", "cat", source).stdout.encode()
        (folder / name).write_bytes(files[name])
        _give_to_the_services_user(folder / name)
    _give_to_the_services_user(folder)
    return files


def _give_to_the_services_user(path: Path) -> None:
    """The agency's containers run as uid 10001: as the operator would, hand it the files."""
    if os.geteuid() == 0:
        os.chown(path, 10001, 10001)
    else:  # cannot give them away: let that user read them
        path.chmod(path.stat().st_mode | stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0))


def agency_node(
    hub: Deployment, agency: str, folder: Path, make: Callable[..., Deployment]
) -> tuple[Deployment, str]:
    """An agency node as its own compose project (deploy/agency/), reaching the hub's cluster over
    TLS through the published ports with only what `hand_over` put in `folder`; up, and its intake
    URL."""
    port = str(free_port())
    node = make(
        files=[AGENCY_FILE],
        profiles=[],
        variables={
            "RELAIS_AGENCY_ID": agency,
            "RELAIS_HUB_NATS_URL": nats_urls(hub),
            "RELAIS_AGENCY_HUB_FILES": str(folder),
            "RELAIS_INTAKE_HOST_PORT": port,
        },
    )
    node.up()
    return node, f"http://127.0.0.1:{port}"


def wait_agency_ready(intake: str, token: str) -> None:
    """Until the agency node knows its pages (learned from the federation once its link is up)."""
    probe = {"text": "Relais cluster probe #emploi", "networks": ["x"]}
    eventually(
        lambda: (r := http("POST", f"{intake}/v1/posts", probe, token))[0] == 202 and r,
        timeout=120,
        interval=1,
    )


def sandbox_counts(deployment: Deployment, texts: list[str]) -> Counter[tuple[str, str]]:
    """How many times each (network, text) of `texts` reached the sandbox."""
    wanted = {_MARKER.search(text).group(0): text for text in texts}  # type: ignore[union-attr]
    posts = http("GET", f"{deployment.url('sandbox')}/_sandbox/posts")[1]["posts"]
    counts: Counter[tuple[str, str]] = Counter()
    for post in posts:
        found = _MARKER.search(post.get("text") or "")
        if found and found.group(0) in wanted:
            counts[(post["network"], wanted[found.group(0)])] += 1
    return counts


def wait_published(
    deployment: Deployment, texts: list[str], timeout: float, progress: Callable[[int], None] | None = None
) -> Counter[tuple[str, str]]:
    """Until every text has reached every network (or `timeout`); the counts then."""
    deadline = time.monotonic() + timeout
    counts: Counter[tuple[str, str]] = Counter()
    while time.monotonic() < deadline:
        counts = sandbox_counts(deployment, texts)
        if progress:
            progress(len(counts))
        if len(counts) >= len(texts) * len(NETWORKS):
            return counts
        time.sleep(2)
    return counts
