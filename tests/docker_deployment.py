"""The real compose deployment on a real Docker engine, for the `docker` tests.

`deploy/docker/engine.sh` (run by `make test`, or here when it has not run) provides the engine,
Compose v2 and the base images; a machine where none can be had fails these tests with its reason,
unless the person running them opts out with RELAIS_SKIP_DOCKER_TESTS=1 (CI never does).

Each `Deployment` is one compose project with its own name, volumes and free loopback host ports, so
several run side by side, and beside a `make run` or an operator's deployment on the same machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.harness import eventually, free_port, http

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
STATE = REPO / "var" / "docker"
OPT_OUT = "RELAIS_SKIP_DOCKER_TESTS"
# This checkout's own image tags: a deployment built from another checkout on the same engine
# (another branch, a `docker compose up` of an operator) never replaces the image tested here.
_CHECKOUT = hashlib.sha1(str(REPO).encode()).hexdigest()[:10]
IMAGES = {
    "RELAIS_IMAGE": f"relais-test:{_CHECKOUT}",
    "RELAIS_DEMO_IMAGE": f"relais-test:{_CHECKOUT}-demo",
    "RELAIS_PROMETHEUS_IMAGE": f"relais-test:{_CHECKOUT}-prometheus",
}
# The published ports, by the variable choosing each one's host port (docker-compose.yml).
HOST_PORT_VARIABLES = {
    "hub": "RELAIS_HUB_HOST_PORT",
    "intake-lyon-part-dieu": "RELAIS_INTAKE_HOST_PORT",
    "sandbox": "RELAIS_SANDBOX_HOST_PORT",
    "prometheus": "RELAIS_PROMETHEUS_HOST_PORT",
}


def _run(
    args: list[str], timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False, env=env)


def base_images() -> dict[str, str]:
    """What engine.sh chose: the official base images, or their local equivalents."""
    chosen = STATE / "images.env"
    if not chosen.exists():
        return {}
    pairs = (line.split("=", 1) for line in chosen.read_text().splitlines() if "=" in line)
    return {name: value for name, value in pairs}


def engine_problem() -> str | None:
    """Why the real deployment cannot run here, or None when it can. Runs engine.sh when it has not
    run in this checkout (`pytest` alone, without `make test`)."""
    if not (STATE / "images.env").exists():
        done = _run(["bash", str(REPO / "deploy" / "docker" / "engine.sh")], timeout=900)
        if done.returncode != 0:
            return (done.stderr.strip().splitlines() or ["deploy/docker/engine.sh failed"])[-1]
    for args in (["docker", "info"], ["docker", "compose", "version"]):
        try:
            done = _run(args, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"`{' '.join(args)}` failed: {exc}"
        if done.returncode != 0:
            return f"`{' '.join(args)}` failed: {done.stderr.strip()[:300]}"
    return None


def post_when_ready(intake: str, token: str, post: dict[str, Any], timeout: float = 20) -> dict[str, Any]:
    """POST a post at an agency node; again while it answers 422, since a node learns its pages from
    the federation once it has said hello. The 202's body."""
    status, accepted = eventually(
        lambda: (r := http("POST", f"{intake}/v1/posts", post, token))[0] != 422 and r, timeout=timeout
    )
    assert status == 202, accepted
    return dict(accepted)


def wait_post_published(
    intake: str, token: str, post_id: str, timeout: float = 60, interval: float = 0.5
) -> dict[str, Any]:
    """The post as its agency shows it, once `published`."""

    def published() -> dict[str, Any] | None:
        post = http("GET", f"{intake}/v1/posts/{post_id}", token=token)[1]
        return dict(post) if post["status"] == "published" else None

    return dict(eventually(published, timeout=timeout, interval=interval))


@dataclass
class Deployment:
    """One compose project: `up`, `down -v`, and what a test needs of its containers."""

    project: str
    files: list[Path] = field(default_factory=lambda: [COMPOSE_FILE])
    profiles: list[str] = field(default_factory=lambda: ["demo"])
    variables: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ports = {name: str(free_port()) for name in HOST_PORT_VARIABLES.values()}
        self.variables = {**base_images(), **IMAGES, **ports, **self.variables}

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, **self.variables}

    def compose(
        self, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        command = ["docker", "compose", "-p", self.project]
        for file in self.files:
            command += ["-f", str(file)]
        for profile in self.profiles:
            command += ["--profile", profile]
        done = _run([*command, *args], timeout=timeout, env=self.env)
        if check and done.returncode != 0:
            raise AssertionError(f"`docker compose {' '.join(args)}` failed:\n{done.stdout}\n{done.stderr}")
        return done

    def up(self, *services: str, timeout: float = 600) -> None:
        """Build (cached after the first time) and start, waiting until every container is healthy."""
        self.compose(
            "up", "--build", "--detach", "--wait", "--wait-timeout", "300", *services, timeout=timeout
        )

    def down(self) -> None:
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "5", check=False)

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.variables[HOST_PORT_VARIABLES[service]]}"

    def container(self, service: str) -> str:
        ids = self.compose("ps", "--all", "--quiet", service).stdout.split()
        assert len(ids) == 1, (service, ids)
        return ids[0]

    def inspect(self, service: str) -> dict[str, Any]:
        done = _run(["docker", "inspect", self.container(service)])
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout)[0])

    def main_pid(self, service: str) -> int:
        """The host's PID of the container's main process (0 when it is not running)."""
        return int(self.inspect(service)["State"]["Pid"])

    def kill_main_process(self, service: str) -> int:
        """SIGKILL from the host, as a crash or the kernel's OOM killer would: Docker sees the process
        die on its own and applies the restart policy (`docker kill` would count as deliberate)."""
        pid = self.main_pid(service)
        assert pid > 0, f"{service} is not running"
        os.kill(pid, signal.SIGKILL)
        return pid

    def exec(self, service: str, *command: str, user: str | None = None) -> str:
        options = ["--user", user] if user else []
        return self.compose("exec", "-T", *options, service, *command, timeout=120).stdout

    def token(self, role: str, *options: str) -> str:
        """A token made where the signing key is, as an operator would."""
        return self.exec("hub", "relais", "token", "create", "--role", role, *options).strip()

    def logs(self, *services: str) -> str:
        return self.compose("logs", "--no-color", "--tail", "200", *services, check=False).stdout
