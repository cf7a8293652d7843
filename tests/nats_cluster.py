"""A 3-node nats-server cluster (JetStream, routes, a store per node) as real processes on loopback,
optionally with TLS and users: what the compose cluster runs, without Docker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relais.processes import nats_server_binary
from tests.harness import free_port


@dataclass
class Node:
    name: str
    port: int
    monitor_port: int
    route_port: int
    config: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [nats_server_binary(), "-c", str(self.config)], stdout=out, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def jsz(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor_port}/jsz", timeout=2) as answer:
            return dict(json.loads(answer.read()))


@dataclass
class Cluster:
    root: Path
    tls: dict[str, Any] | None = None  # nats-server's `tls` block
    route_tls: dict[str, Any] | None = None  # the `cluster` block's
    authorization: dict[str, Any] | None = None
    nodes: list[Node] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.nodes = [
            Node(
                f"n{i}",
                free_port(),
                free_port(),
                free_port(),
                self.root / f"n{i}.conf",
                self.root / f"n{i}.log",
            )
            for i in (1, 2, 3)
        ]
        routes = [f"nats-route://127.0.0.1:{n.route_port}" for n in self.nodes]
        for node in self.nodes:
            config: dict[str, Any] = {
                "server_name": node.name,
                "listen": f"127.0.0.1:{node.port}",
                "http": f"127.0.0.1:{node.monitor_port}",
                "jetstream": {"store_dir": str(self.root / node.name), "sync_interval": "always"},
                "cluster": {
                    "name": "relais",
                    "listen": f"127.0.0.1:{node.route_port}",
                    "routes": routes,
                    "no_advertise": True,
                },
            }
            if self.tls:
                config["tls"] = self.tls
            if self.route_tls:
                config["cluster"]["tls"] = self.route_tls
            if self.authorization:
                config["authorization"] = self.authorization
            self.root.mkdir(parents=True, exist_ok=True)
            node.config.write_text(json.dumps(config))

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if all(self._current(n) for n in self.nodes):
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the cluster did not elect a meta leader: {self.logs()}")

    @staticmethod
    def _current(node: Node) -> bool:
        """The node knows the meta leader, and is healthy (its JetStream caught up)."""
        if not node.jsz().get("meta_cluster", {}).get("leader"):
            return False
        with urllib.request.urlopen(f"http://127.0.0.1:{node.monitor_port}/healthz", timeout=2) as answer:
            return bool(answer.status == 200)

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()

    def peers(self, node: Node) -> set[str]:
        """The servers `node` has routes with (a route pool holds several connections to each)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{node.monitor_port}/routez", timeout=2) as answer:
            return {route["remote_name"] for route in json.loads(answer.read()).get("routes") or []}

    def urls(self, scheme: str = "nats", host: str = "127.0.0.1") -> str:
        return ",".join(f"{scheme}://{host}:{n.port}" for n in self.nodes)

    def logs(self) -> str:
        return "\n".join(n.log.read_text(errors="replace")[-2000:] for n in self.nodes if n.log.exists())
