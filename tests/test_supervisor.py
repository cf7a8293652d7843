"""`relais run` keeps the system up (issue 11, item 3): a process that dies is started again with
backoff and the others are never touched; `relais ctl stop` / `start` stop and start one on purpose
(`relais ctl stop nats` is how an agency is shown working offline); Ctrl-C stops everything.

One real `relais run` (every process of the demo registry) is shared by the tests of this module, in
order; the last one stops it with SIGINT.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from relais.processes import ManagedProcess, ProcessSpec
from relais.system import DEMO_CSV, agencies_in
from shared.tokens import load_or_create_private_key
from tests.harness import eventually, free_port
from tests.hub.dashboard_client import DashboardSession
from tests.relais_run import AGENCY, RELAIS, RelaisRun, ctl, gone

SERVICES = {"nats", "sandbox", "federation", "formatter", "hub", "dispatcher"} | {
    f"intake-{agency}" for agency in agencies_in(DEMO_CSV)
}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelaisRun]:
    started = RelaisRun.start(tmp_path_factory.mktemp("supervised"))
    try:
        yield started
    finally:
        started.stop()


def test_the_banners_demo_accounts_sign_in_the_moderator_at_the_hub_and_the_advisor_at_the_node(
    running: RelaisRun,
) -> None:
    banner = running.run.tail(400)
    accounts = dict(re.findall(r"\(sign in as (\S+) / (\S+?)[,)]", banner))
    composer = re.findall(r"composer \(advisors\)\s+(http://127\.0\.0\.1:\d+)/\s", banner)
    assert set(accounts) == {"moderatrice", "conseillere"}, banner
    assert composer == [running.intake], banner  # the composer is the first agency node's `/`

    assert DashboardSession(running.hub).login("moderatrice", accounts["moderatrice"]) == 303
    # The node receives the advisor's account from the hub within seconds of the start (waited for
    # in its database: failed sign-ins would be throttled).
    node_db = running.data_dir / f"intake-{AGENCY}.db"
    eventually(lambda: node_knows(node_db, "conseillere"), timeout=30, interval=0.5)
    node = DashboardSession(running.intake)
    assert node.login("conseillere", accounts["conseillere"]) == 303
    status, page, _ = node.request("GET", "/")
    assert status == 200 and "conseillere" in page
    # The advisor is the node's, not the hub's.
    assert DashboardSession(running.hub).login("conseillere", accounts["conseillere"]) != 303


def node_knows(database: Path, username: str) -> bool:
    if not database.exists():
        return False
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as db:
        tables = {row[0] for row in db.execute("select name from sqlite_master where type = 'table'")}
        return "users" in tables and bool(
            db.execute("select 1 from users where username = ?", [username]).fetchone()
        )


def test_ctl_when_nothing_runs_says_so(tmp_path: Path) -> None:
    done = ctl({**os.environ, "RELAIS_DATA_DIR": str(tmp_path)}, "status")
    assert done.returncode == 1
    assert "nothing is running" in done.stderr and str(tmp_path) in done.stderr


def test_a_killed_nats_server_comes_back_and_nothing_else_is_restarted(running: RelaisRun) -> None:
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


def test_a_killed_service_is_restarted_alone(running: RelaisRun) -> None:
    before = running.children()
    os.kill(before["dispatcher"], signal.SIGKILL)

    eventually(lambda: running.children().get("dispatcher", before["dispatcher"]) != before["dispatcher"])
    after = running.children()
    assert {n: p for n, p in after.items() if n != "dispatcher"} == {
        n: p for n, p in before.items() if n != "dispatcher"
    }
    assert running.status()["dispatcher"]["restarts"] == 1


def test_a_deliberately_stopped_nats_stays_down_until_started_and_the_agency_keeps_taking_posts(
    running: RelaisRun,
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


def test_ctl_names_an_unknown_service(running: RelaisRun) -> None:
    done = running.ctl("stop", "natz")
    assert done.returncode == 2
    assert "natz" in done.stderr and "nats" in done.stderr and "intake-lyon-part-dieu" in done.stderr
    assert running.status()["nats"]["state"] == "running"


def test_the_control_socket_is_the_owners_alone(running: RelaisRun) -> None:
    sock = running.data_dir / "relais.sock"
    assert stat.S_ISSOCK(sock.stat().st_mode)
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert stat.S_IMODE(running.data_dir.stat().st_mode) == 0o700


def test_ctrl_c_stops_everything_cleanly(running: RelaisRun) -> None:
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
