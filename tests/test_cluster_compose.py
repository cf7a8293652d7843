"""deploy/cluster/docker-compose.cluster.yml against the main file it is used on top of: nothing of
the main file is lost in the cluster, and no NATS client is left on the single server's plain URL
(the nodes speak TLS first: a client left on `nats://nats:4222` could never connect)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
MAIN = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
CLUSTER = yaml.safe_load(
    (REPO / "deploy" / "cluster" / "docker-compose.cluster.yml").read_text(encoding="utf-8")
)
NODES = ("nats", "nats-2", "nats-3")


def _pairs(command: list[str], option: str) -> list[tuple[str, str]]:
    return [(command[i + 1], command[i + 2]) for i, word in enumerate(command) if word == option]


def test_the_cluster_init_runs_everything_the_main_init_does_then_the_certificates() -> None:
    main, cluster = MAIN["services"]["init"]["command"], CLUSTER["services"]["init"]["command"]
    assert cluster[: len(main)] == main
    added = cluster[len(main) :]
    assert added[0] == "--nats-tls" and "--nats-server-tls" in added and "--nats-ca" in added


def test_every_node_runs_as_nats_servers_user_and_init_hands_it_its_volumes() -> None:
    services: dict[str, Any] = CLUSTER["services"]
    owned = dict(_pairs(services["init"]["command"], "--owner-of"))
    init_mounts = {v.split(":")[1]: v.split(":")[0] for v in MAIN["services"]["init"]["volumes"]}
    init_mounts |= {v.split(":")[1]: v.split(":")[0] for v in services["init"]["volumes"]}
    handed = {init_mounts[folder] for folder, uid in owned.items() if uid == "10002"}
    for node in NODES:
        definition = {**MAIN["services"].get(node, {}), **services[node]}
        assert definition["user"] == "10002:10002", node
        volumes = [v.split(":")[0] for v in definition["volumes"] if not v.startswith("./")]
        assert set(volumes) <= handed, (node, set(volumes) - handed)


def test_no_nats_client_of_the_main_file_is_left_on_the_single_servers_url() -> None:
    clients = {  # every NATS client signs in (the sandbox inherits the URL, and never uses it)
        name
        for name, service in MAIN["services"].items()
        if "RELAIS_NATS_USER" in (service.get("environment") or {})
    }
    assert clients >= {"federation", "formatter", "hub", "dispatcher", "intake-lyon-part-dieu"}
    for name in clients:
        environment = CLUSTER["services"].get(name, {}).get("environment") or {}
        url = environment.get("RELAIS_NATS_URL", "")
        assert url.split(",") == ["tls://nats:4222", "tls://nats-2:4222", "tls://nats-3:4222"], name
        assert environment.get("RELAIS_NATS_CA_FILE") and environment.get("RELAIS_STREAM_REPLICAS") == "3", (
            name
        )
