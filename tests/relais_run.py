"""A real `relais run`, as an operator starts it (its supervisor included), on free ports in a
temporary data directory: for tests that act on it with `relais ctl` (for example `relais ctl stop
nats` to cut every agency's link), signals and HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from relais.processes import ManagedProcess, ProcessSpec, wait_ready
from shared.tokens import issue_token, load_or_create_private_key
from tests.harness import eventually, free_port, http

RELAIS = str(Path(sys.executable).parent / "relais")
AGENCY = "lyon-part-dieu"  # the demo registry's first agency: its intake listens on RELAIS_INTAKE_PORT
PORTS = (
    "RELAIS_NATS_PORT",
    "RELAIS_NATS_MONITOR_PORT",
    "RELAIS_HUB_PORT",
    "RELAIS_SANDBOX_PORT",
    "RELAIS_FORMATTER_PORT",
    "RELAIS_DISPATCHER_PORT",
    "RELAIS_FEDERATION_PORT",
    "RELAIS_INTAKE_PORT",  # the next agencies take +10 and +20
)


def ctl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`relais ctl ARGS` with `env` (its RELAIS_DATA_DIR says which supervisor it talks to)."""
    return subprocess.run([RELAIS, "ctl", *args], env=env, capture_output=True, text=True, timeout=60)


def gone(pid: int) -> bool:
    """The process has exited (a zombie not yet reaped by whoever adopted it counts as exited)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@dataclass
class RelaisRun:
    run: ManagedProcess
    env: dict[str, str]
    data_dir: Path

    @classmethod
    def start(cls, root: Path) -> RelaisRun:
        """Start it under `root` and wait until the first agency's node is ready (linked to the hub,
        its pages known). Its own output (banner, supervisor's JSON logs) is in `root/logs`."""
        data_dir = root / "var"
        env = {
            **os.environ,
            **{name: str(free_port()) for name in PORTS},
            "RELAIS_DATA_DIR": str(data_dir),
            "RELAIS_LOG_FORMAT": "json",
        }
        run = ManagedProcess(ProcessSpec("relais-run", [RELAIS, "run"], env), root / "logs")
        run.start()
        try:
            eventually(
                lambda: "Relais is running" in run.tail(200) or not run.alive, timeout=90, interval=0.3
            )
            assert run.alive, run.tail()
            started = cls(run, env, data_dir)
            eventually(lambda: wait_ready(f"{started.intake}/readyz"), timeout=30)
        except BaseException:
            run.stop(timeout=30)
            raise
        return started

    def stop(self) -> None:
        self.run.stop(timeout=30)

    def port(self, variable: str) -> int:
        return int(self.env[variable])

    @property
    def intake(self) -> str:
        return f"http://127.0.0.1:{self.port('RELAIS_INTAKE_PORT')}"

    @property
    def hub(self) -> str:
        return f"http://127.0.0.1:{self.port('RELAIS_HUB_PORT')}"

    def token(self) -> str:
        """An advisor's token for AGENCY."""
        key = load_or_create_private_key(self.data_dir / "keys" / "hub-token-key.pem")
        return issue_token(key, role="advisor", subject="claire", agency=AGENCY)

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return ctl(self.env, *args)

    def status(self) -> dict[str, dict[str, Any]]:
        """`relais ctl status`, by service name."""
        done = self.ctl("status", "--json")
        assert done.returncode == 0, done.stderr
        return {entry["service"]: entry for entry in json.loads(done.stdout)}

    def children(self) -> dict[str, int]:
        """The running processes `relais run` started, by service name, found by the system itself
        (not by asking the supervisor)."""
        assert self.run.proc is not None
        found = {}
        for child in psutil.Process(self.run.proc.pid).children():
            try:
                argv, environ = child.cmdline(), child.environ()
            except psutil.NoSuchProcess:
                continue
            if Path(argv[0]).name == "nats-server":
                found["nats"] = child.pid
            elif argv[1:2] == ["-m"] and argv[2] == "services.intake":
                found[f"intake-{environ['RELAIS_AGENCY_ID']}"] = child.pid
            elif argv[1:2] == ["-m"]:
                found[argv[2].removeprefix("services.")] = child.pid
        return found

    def supervisor_events(self, event: str) -> list[dict[str, Any]]:
        lines = self.run.log_path.read_text(errors="replace").splitlines()
        events = [json.loads(line) for line in lines if line.startswith("{")]
        return [e for e in events if e.get("event") == event]

    def post(self, text: str) -> str:
        """Post `text` to Mastodon at AGENCY's node; its id (the node must answer 202)."""
        status, accepted = http(
            "POST", f"{self.intake}/v1/posts", {"text": text, "networks": ["mastodon"]}, token=self.token()
        )
        assert status == 202, accepted
        return str(accepted["id"])

    def post_status(self, post_id: str) -> str:
        status, body = http("GET", f"{self.intake}/v1/posts/{post_id}", token=self.token())
        assert status == 200, body
        return str(body["status"])

    def published_on_mastodon(self, text: str) -> int:
        """How many statuses with exactly `text` the sandbox's Mastodon received."""
        sandbox = f"http://127.0.0.1:{self.port('RELAIS_SANDBOX_PORT')}"
        status, body = http("GET", f"{sandbox}/_sandbox/posts?network=mastodon")
        assert status == 200, body
        return sum(1 for p in body["posts"] if p["text"] == text)

    def wait_published(self, post_id: str, timeout: float = 40.0) -> None:
        eventually(lambda: self.post_status(post_id) == "published", timeout=timeout, interval=0.3)
