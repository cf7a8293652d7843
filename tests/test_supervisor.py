"""`relais run` keeps the system up (issue 11, item 3): a process that dies is started again with
backoff and the others are never touched; `relais ctl stop` / `start` stop and start one on purpose
(`relais ctl stop nats` is how an agency is shown working offline); Ctrl-C stops everything.

One real `relais run` (every process of the demo registry) is shared by the tests of this module, in
order; the last one stops it with SIGINT.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from relais.processes import ManagedProcess, ProcessSpec, wait_ready
from relais.system import DEMO_CSV, agencies_in
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
SERVICES = {"nats", "sandbox", "federation", "formatter", "hub", "dispatcher"} | {
    f"intake-{agency}" for agency in agencies_in(DEMO_CSV)
}


@dataclass
class Running:
    run: ManagedProcess
    env: dict[str, str]
    data_dir: Path

    def port(self, variable: str) -> int:
        return int(self.env[variable])

    @property
    def intake(self) -> str:
        return f"http://127.0.0.1:{self.port('RELAIS_INTAKE_PORT')}"

    def token(self) -> str:
        key = load_or_create_private_key(self.data_dir / "keys" / "hub-token-key.pem")
        return issue_token(key, role="advisor", subject="claire", agency=AGENCY)

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return ctl(self.env, *args)

    def children(self) -> dict[str, int]:
        """The running processes `relais run` started, by service name, found by the system itself
        (not by asking the supervisor)."""
        found = {}
        for child in psutil.Process(self.run.proc.pid).children():  # type: ignore[union-attr]
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

    def status(self) -> dict[str, dict[str, Any]]:
        done = self.ctl("status", "--json")
        assert done.returncode == 0, done.stderr
        return {entry["service"]: entry for entry in json.loads(done.stdout)}

    def supervisor_events(self, event: str) -> list[dict[str, Any]]:
        lines = self.run.log_path.read_text(errors="replace").splitlines()
        events = [json.loads(line) for line in lines if line.startswith("{")]
        return [e for e in events if e.get("event") == event]

    def post(self, text: str) -> str:
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
        sandbox = f"http://127.0.0.1:{self.port('RELAIS_SANDBOX_PORT')}"
        status, body = http("GET", f"{sandbox}/_sandbox/posts?network=mastodon")
        assert status == 200, body
        return sum(1 for p in body["posts"] if p["text"] == text)

    def wait_published(self, post_id: str, timeout: float = 40.0) -> None:
        eventually(lambda: self.post_status(post_id) == "published", timeout=timeout, interval=0.3)


def gone(pid: int) -> bool:
    """The process has exited (a zombie not yet reaped by whoever adopted it counts as exited)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def ctl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RELAIS, "ctl", *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    root = tmp_path_factory.mktemp("supervised")
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
        eventually(lambda: "Relais is running" in run.tail(200) or not run.alive, timeout=90, interval=0.3)
        assert run.alive, run.tail()
        running = Running(run, env, data_dir)
        eventually(lambda: wait_ready(f"{running.intake}/readyz"), timeout=30)  # linked, pages known
        yield running
    finally:
        run.stop(timeout=30)


def test_ctl_when_nothing_runs_says_so(tmp_path: Path) -> None:
    done = ctl({**os.environ, "RELAIS_DATA_DIR": str(tmp_path)}, "status")
    assert done.returncode == 1
    assert "nothing is running" in done.stderr and str(tmp_path) in done.stderr


def test_a_killed_nats_server_comes_back_and_nothing_else_is_restarted(running: Running) -> None:
    before = running.children()
    assert set(before) == SERVICES, before
    os.kill(before["nats"], signal.SIGKILL)

    eventually(lambda: running.children().get("nats", before["nats"]) != before["nats"], timeout=15)
    text = "Après la panne du bus : atelier CV mardi #emploi"
    running.wait_published(running.post(text))
    assert running.published_on_mastodon(text) == 1
    after = running.children()
    assert {n: p for n, p in after.items() if n != "nats"} == {n: p for n, p in before.items() if n != "nats"}
    [died] = running.supervisor_events("supervisor.process_died")
    assert died["process"] == "nats" and died["signal"] == "SIGKILL", died
    assert died["attempt"] == 1 and died["restart_in_s"] == 1.0, died
    status = running.status()
    assert status["nats"]["restarts"] == 1 and status["nats"]["pid"] == after["nats"]
    assert all(status[n]["restarts"] == 0 for n in SERVICES - {"nats"}), status


def test_a_killed_service_is_restarted_alone(running: Running) -> None:
    before = running.children()
    os.kill(before["dispatcher"], signal.SIGKILL)

    eventually(lambda: running.children().get("dispatcher", before["dispatcher"]) != before["dispatcher"])
    after = running.children()
    assert {n: p for n, p in after.items() if n != "dispatcher"} == {
        n: p for n, p in before.items() if n != "dispatcher"
    }
    assert running.status()["dispatcher"]["restarts"] == 1


def test_a_deliberately_stopped_nats_stays_down_until_started_and_the_agency_keeps_taking_posts(
    running: Running,
) -> None:
    before = running.children()
    done = running.ctl("stop", "nats")
    assert done.returncode == 0, done.stderr
    assert gone(before["nats"])

    text = "Pendant la coupure : job dating vendredi #emploi"
    post_id = running.post(text)
    time.sleep(8)  # past the restart delays of three deaths in a row (1 s, 2 s, 4 s)
    assert "nats" not in running.children()
    assert running.status()["nats"] | {"restarts": 0} == {
        "service": "nats",
        "pid": None,
        "state": "stopped",
        "restarts": 0,
    }
    assert running.post_status(post_id) == "waiting_for_hub"
    assert running.published_on_mastodon(text) == 0

    done = running.ctl("start", "nats")
    assert done.returncode == 0, done.stderr
    assert running.status()["nats"]["state"] == "running"
    running.wait_published(post_id)
    time.sleep(1)  # a second copy would be sent at once
    assert running.published_on_mastodon(text) == 1
    after = running.children()
    assert {n: p for n, p in after.items() if n != "nats"} == {n: p for n, p in before.items() if n != "nats"}


def test_ctl_names_an_unknown_service(running: Running) -> None:
    done = running.ctl("stop", "natz")
    assert done.returncode == 2
    assert "natz" in done.stderr and "nats" in done.stderr and "intake-lyon-part-dieu" in done.stderr
    assert running.status()["nats"]["state"] == "running"


def test_the_control_socket_is_the_owners_alone(running: Running) -> None:
    sock = running.data_dir / "relais.sock"
    assert stat.S_ISSOCK(sock.stat().st_mode)
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert stat.S_IMODE(running.data_dir.stat().st_mode) == 0o700


def test_ctrl_c_stops_everything_cleanly(running: Running) -> None:
    children = running.children()
    assert running.run.proc is not None
    running.run.proc.send_signal(signal.SIGINT)
    assert running.run.proc.wait(timeout=40) == 0, running.run.tail()
    # The services first, then the sandbox networks the dispatcher calls, then the bus they all use.
    tiers = [set(e["processes"]) for e in running.supervisor_events("supervisor.stopped")]
    assert tiers == [SERVICES - {"sandbox", "nats"}, {"sandbox"}, {"nats"}], tiers

    left = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("RELAIS_DATA_DIR") == str(running.data_dir):
                left.append(process)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    assert left == []
    assert all(gone(pid) for pid in children.values())
    assert not (running.data_dir / "relais.sock").exists()


def agency_command(tmp_path: Path) -> tuple[list[str], dict[str, str]]:
    """`relais agency` for one node whose hub is nowhere (it works offline): argv and env."""
    data_dir = tmp_path / "node"
    load_or_create_private_key(data_dir / "keys" / "hub-token-key.pem")  # and its public half beside
    env = {
        **os.environ,
        "RELAIS_DATA_DIR": str(data_dir),
        "RELAIS_INTAKE_PORT": str(free_port()),
        "RELAIS_LOG_FORMAT": "json",
    }
    argv = [RELAIS, "agency", "--id", AGENCY, "--hub", f"nats://127.0.0.1:{free_port()}"]
    return argv, env


def test_relais_agency_restarts_its_node_and_a_killed_supervisor_leaves_nothing_behind(
    tmp_path: Path,
) -> None:
    argv, env = agency_command(tmp_path)
    node = ManagedProcess(ProcessSpec("relais-agency", argv, env), tmp_path / "logs")
    node.start()
    try:
        eventually(lambda: f"Agency {AGENCY}" in node.tail() or not node.alive, timeout=30)
        assert node.alive, node.tail()
        name = f"intake-{AGENCY}"
        first = ctl(env, "status", "--json")
        assert first.returncode == 0, (first.stderr, node.tail())
        [entry] = json.loads(first.stdout)
        assert entry["service"] == name and entry["state"] == "running", entry

        os.kill(entry["pid"], signal.SIGKILL)
        eventually(lambda: json.loads(ctl(env, "status", "--json").stdout)[0]["restarts"] == 1)

        # A second supervisor on the same data directory would fight the first over its processes.
        other_env = {**env, "RELAIS_INTAKE_PORT": str(free_port())}
        second = subprocess.run(argv, env=other_env, capture_output=True, text=True, timeout=30)
        assert second.returncode == 2 and "already runs" in second.stderr, (second.stderr, second.stdout)

        [entry] = json.loads(ctl(env, "status", "--json").stdout)
        assert node.proc is not None
        node.proc.kill()  # the supervisor itself, by SIGKILL: nothing can clean up but the kernel
        node.proc.wait()
        eventually(lambda: gone(entry["pid"]), timeout=15)
        orphaned = ctl(env, "status")  # the socket it left answers no one
        assert orphaned.returncode == 1, (orphaned.stdout, orphaned.stderr)

        again = ManagedProcess(ProcessSpec("relais-agency-again", argv, env), tmp_path / "logs")
        again.start()  # the port is free again, and the stale socket is replaced
        try:
            eventually(lambda: f"Agency {AGENCY}" in again.tail() or not again.alive, timeout=30)
            assert again.alive, again.tail()
            assert again.proc is not None
            again.proc.send_signal(signal.SIGTERM)
            assert again.proc.wait(timeout=20) == 0, again.tail()
        finally:
            again.stop()
    finally:
        node.stop()
