"""Backup and restore on the real compose deployment (issue 12, item 4), with the operators' commands:
the `backup` job of the `ops` profile backs up a deployment while 50 deliveries are still pending,
and restores into a new project (fresh volumes, own ports), which publishes none of them a second
time, verifies its audit and goes on from its agency's durable consumers.

The sandbox stands for the real networks, so both deployments must post to the SAME one, as two
deployments would reach the same real networks: the old project's sandbox also joins a Docker
network of its own, `internet`, and so does the restored project's dispatcher (the restored project
runs no sandbox of its own: no `demo` profile). `sandbox` then names that one container for both;
the restored dispatcher reaches nothing else of the old project (each project's `nats`, `hub`… stay
on its own default network), and the old project's services are stopped before the restore, as the
restore rule (`services.dispatcher.store.mark_restored`) requires.
"""

from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docker_deployment import COMPOSE_FILE, Deployment, post_when_ready
from tests.harness import eventually, http

AGENCY = "lyon-part-dieu"
INTAKE = f"intake-{AGENCY}"
NETWORKS = ["x", "mastodon", "bluesky", "linkedin", "facebook"]
POSTS = 10  # × 5 networks: 50 deliveries
SLOW_S = 8.0  # each network call, so that the backup sees them unfinished
MARKS = [f"Atelier CV n°{i} " for i in range(POSTS)] + ["Forum emploi jeudi"]
SERVICES_UID = "10001"  # the image's user, who must own what the restore writes
LEDGER = (
    "import json, sqlite3; db = sqlite3.connect('file:/data/dispatcher.db?mode=ro', uri=True);"
    " print(json.dumps([s for (s,) in db.execute('select status from deliveries')]))"
)


@pytest.fixture
def internet(engine: None) -> Iterator[str]:
    """The Docker network both deployments reach the networks (the sandbox) through. Requested
    before `new_deployment`, so it is removed after the projects are down."""
    name = f"relais-test-internet-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "network", "create", name], check=True, capture_output=True, timeout=60)
    yield name
    subprocess.run(["docker", "network", "rm", name], check=False, capture_output=True, timeout=60)


def joining_internet(folder: Path, service: str) -> Path:
    """A compose file putting `service` on the `internet` network as well as its project's own."""
    override = folder / f"internet-{service}.yml"
    override.write_text(
        "networks:\n"
        "  internet:\n"
        "    external: true\n"
        "    name: ${RELAIS_TEST_INTERNET}\n"
        "services:\n"
        f"  {service}:\n"
        "    networks: [default, internet]\n"
    )
    return override


def ops(deployment: Deployment, *command: str) -> str:
    """`docker compose --profile ops run --rm backup COMMAND`, as an operator runs it."""
    return deployment.compose("--profile", "ops", "run", "--rm", "backup", *command, timeout=300).stdout


def ledger(deployment: Deployment) -> Counter[str]:
    return Counter(json.loads(deployment.exec("dispatcher", "python", "-c", LEDGER)))


def text(i: int) -> str:
    return f"Atelier CV n°{i} mardi #emploi"


def sandbox_posts(old: Deployment) -> Counter[tuple[str, str]]:
    """What the networks received: (network, which post) — the text each network shows is formatted."""
    status, body = http("GET", f"{old.url('sandbox')}/_sandbox/posts")
    assert status == 200, body
    return Counter(
        (post["network"], next((mark for mark in MARKS if mark in post["text"]), post["text"]))
        for post in body["posts"]
    )


def post_status(deployment: Deployment, token: str, post_id: str) -> str:
    status, body = http("GET", f"{deployment.url(INTAKE)}/v1/posts/{post_id}", token=token)
    return str(body["status"]) if status == 200 else f"http {status}"


def test_a_compose_deployment_restored_from_a_backup_taken_mid_fanout_publishes_nothing_twice(
    internet: str, new_deployment: Callable[..., Deployment], tmp_path: Path
) -> None:
    shared = {"RELAIS_BACKUP_DIR": str(tmp_path / "backups"), "RELAIS_TEST_INTERNET": internet}
    old = new_deployment(files=[COMPOSE_FILE, joining_internet(tmp_path, "sandbox")], variables=shared)
    old.up()
    for network in NETWORKS:
        fault = {"network": network, "account": "*", "mode": "slow", "seconds": SLOW_S, "times": 0}
        assert http("POST", f"{old.url('sandbox')}/_sandbox/faults", fault)[0] == 201
    token = old.token("advisor", "--agency", AGENCY)
    intake = old.url(INTAKE)

    def accepted(i: int) -> dict[str, Any]:
        return post_when_ready(intake, token, {"text": text(i), "networks": NETWORKS})

    posted = [accepted(i) for i in range(POSTS)]
    eventually(lambda: ledger(old).total() == POSTS * len(NETWORKS), timeout=60, interval=0.5)

    ops(old, "relais", "backup", "/backup/mid-fanout")

    backup = tmp_path / "backups" / "mid-fanout"
    manifest = json.loads((backup / "manifest.json").read_text())
    listed = {entry["path"] for entry in manifest["files"]}
    expected = {
        "hub-data/hub.db",
        "dispatcher-data/dispatcher.db",
        "federation-data/federation.db",
        f"intake-lyon-data/intake-{AGENCY}.db",
        "hub-token-key/hub-token-key.pem",
        "secrets/keys/secrets.key",
        "secrets/credentials.json",
        "nats-users/passwords.json",
        "nats-password-hub/password-hub",
    }
    assert {f"volumes/data/{path}" for path in expected} <= listed
    assert {"jetstream/POSTS.jsonl", "jetstream/DECISIONS.jsonl", "jetstream/consumers.json"} <= listed
    # Neither the networks' stand-in nor NATS's own store files (JetStream is read through its API).
    assert not any(part in path for path in listed for part in ("sandbox", "nats-data", "/logs/"))
    assert stat.S_IMODE(backup.stat().st_mode) == 0o700
    with sqlite3.connect(
        f"file:{backup / 'volumes/data/dispatcher-data/dispatcher.db'}?mode=ro", uri=True
    ) as db:
        saved = Counter(status for (status,) in db.execute("select status from deliveries"))
    # All 50 approved; those beyond the dispatcher's 32 calls at a time still wait their turn: a
    # restore that sent them again would publish them twice (measured: 32 publishing, 18 pending).
    assert saved.total() == POSTS * len(NETWORKS) and saved["pending"] > 0, saved

    # The old deployment finishes its fan-out, then stops; the networks (its sandbox) stay.
    every_delivery = {(network, MARKS[i]) for i in range(POSTS) for network in NETWORKS}
    eventually(lambda: set(sandbox_posts(old)) >= every_delivery, timeout=90, interval=1)
    assert http("DELETE", f"{old.url('sandbox')}/_sandbox/faults")[0] in (200, 204)  # no slower from now on
    old.compose(
        "stop", "--timeout", "50", "dispatcher", "hub", "federation", "formatter", INTAKE, "nats", "init"
    )

    # Into an empty project: files, nats (its init finds everything and replaces nothing), bus, up.
    new = new_deployment(
        files=[COMPOSE_FILE, joining_internet(tmp_path, "dispatcher")], profiles=[], variables=shared
    )
    ops(new, "relais", "restore", "/backup/mid-fanout", "--part", "files", "--owner", SERVICES_UID)
    new.compose("up", "--detach", "--wait", "nats")
    ops(new, "relais", "restore", "/backup/mid-fanout", "--part", "bus")
    new.up()

    # Every delivery unfinished in the backup is reconciled by reading the networks back: published,
    # none sent a second time.
    settled = Counter(published=POSTS * len(NETWORKS))
    eventually(
        lambda: ledger(new) == settled or sandbox_posts(old).total() > settled.total(), timeout=90, interval=1
    )
    received = sandbox_posts(old)
    assert set(received) == every_delivery and set(received.values()) == {1}, received
    assert ledger(new) == settled

    # The agency node resumes from its durable consumers: it hears the outcomes, and a new post goes
    # through the restored deployment once. The restored signing key still vouches for old tokens.
    for post_id in (body["id"] for body in posted):
        eventually(lambda: post_status(new, token, post_id) == "published", timeout=60, interval=0.5)  # noqa: B023
    status, fresh = http(
        "POST", f"{new.url(INTAKE)}/v1/posts", {"text": "Forum emploi jeudi", "networks": ["x"]}, token
    )
    assert status == 202, fresh
    eventually(lambda: post_status(new, token, fresh["id"]) == "published", timeout=60, interval=0.5)
    assert sandbox_posts(old) == received + Counter({("x", "Forum emploi jeudi"): 1})

    assert "audit chain intact" in new.exec("hub", "relais", "audit", "verify")
