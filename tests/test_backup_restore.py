"""`relais backup` while deliveries are in flight, `relais restore` into a fresh deployment: the
restored system publishes none of them a second time, its audit verifies, and the agency node
resumes from its durable consumers.

The sandbox stands for the real networks: it is the old deployment's, keeps running through the
restore (its data is never part of a backup) and is what counts publications.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections import Counter
from pathlib import Path

from relais.processes import ProcessSpec
from tests.harness import RelaisSystem, eventually, free_port, http, system_ports

RELAIS = str(Path(sys.executable).parent / "relais")
AGENCY = "lyon-part-dieu"
NETWORKS = ["x", "mastodon", "bluesky", "linkedin", "facebook"]
POSTS = 4  # × 5 networks: 20 deliveries
SLOW_S = 2.0


def relais_cli(data_dir: Path, nats_port: int, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RELAIS_DATA_DIR": str(data_dir), "RELAIS_NATS_URL": f"nats://127.0.0.1:{nats_port}"}
    return subprocess.run([RELAIS, *args], env=env, capture_output=True, text=True, timeout=60)


def ledger(data_dir: Path) -> Counter[str]:
    with sqlite3.connect(f"file:{data_dir / 'dispatcher.db'}?mode=ro", uri=True) as db:
        return Counter(status for (status,) in db.execute("select status from deliveries"))


def stream_messages(monitor_port: int, stream: str) -> int:
    status, jsz = http("GET", f"http://127.0.0.1:{monitor_port}/jsz?streams=true")
    assert status == 200, jsz
    states = {s["name"]: s["state"] for a in jsz["account_details"] for s in a["stream_detail"]}
    return int(states[stream]["messages"]) if stream in states else 0


def with_env(spec: ProcessSpec, **env: str) -> ProcessSpec:
    return dataclasses.replace(spec, env={**spec.env, **env})


def test_a_restore_from_a_backup_taken_mid_fanout_publishes_nothing_twice(tmp_path: Path) -> None:
    old = RelaisSystem(tmp_path / "old", agencies=[AGENCY])
    # Four calls at a time, each slowed: the backup sees some deliveries `publishing`, others `pending`.
    dispatcher = old.processes["dispatcher"]
    dispatcher.spec = with_env(dispatcher.spec, RELAIS_DISPATCHER_CONCURRENCY="4")
    new: RelaisSystem | None = None
    try:
        old.start()
        for network in NETWORKS:
            fault = {"network": network, "account": "*", "mode": "slow", "seconds": SLOW_S, "times": 0}
            assert http("POST", f"{old.sandbox_url}/_sandbox/faults", fault)[0] == 201
        posted = [
            old.post({"text": f"Atelier CV n°{i} mardi #emploi", "networks": NETWORKS}) for i in range(POSTS)
        ]
        assert all(status == 202 for status, _ in posted), posted
        eventually(lambda: sum(ledger(old.data_dir).values()) == POSTS * len(NETWORKS), timeout=30)
        # A call still running after a second is announced `publishing`: the backup then holds
        # messages of every contract stream, DELIVERIES included.
        eventually(lambda: stream_messages(old.ports.nats_monitor, "DELIVERIES") > 0, timeout=30)

        backup = tmp_path / "backup"
        taken = relais_cli(old.data_dir, old.ports.nats, "backup", str(backup))
        assert taken.returncode == 0, taken.stderr

        # What the backup holds, and how: owner-only, every file in the manifest with its digest.
        manifest = json.loads((backup / "manifest.json").read_text())
        listed = {entry["path"] for entry in manifest["files"]}
        databases = {"hub.db", "dispatcher.db", "federation.db", f"intake-{AGENCY}.db"}
        secrets = {"keys/hub-token-key.pem", "keys/secrets.key", "nats/passwords.json", "credentials.json"}
        assert {f"volumes/data/{path}" for path in databases | secrets} <= listed
        assert {"jetstream/POSTS.jsonl", "jetstream/DELIVERIES.jsonl", "jetstream/consumers.json"} <= listed
        assert "jetstream/KV_dispatcher_fence.jsonl" not in listed  # the old processes' leases: not data
        assert not any("sandbox" in path or "/logs/" in path for path in listed)  # the networks keep theirs
        assert stat.S_IMODE(backup.stat().st_mode) == 0o700
        for path in [backup / "manifest.json", *(backup / p for p in listed)]:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        unfinished = ledger(backup / "volumes" / "data")
        assert unfinished["pending"] and unfinished["publishing"], unfinished  # mid-fan-out indeed

        # The old deployment finishes, then goes away; the networks (the sandbox) stay.
        eventually(lambda: len(old.sandbox_posts()) == POSTS * len(NETWORKS), timeout=40)
        old.stop(*(name for name in old.processes if name != "sandbox"))

        fresh = tmp_path / "new" / "var"
        restored = relais_cli(fresh, free_port(), "restore", str(backup), "--part", "files")
        assert restored.returncode == 0, restored.stderr
        again = relais_cli(fresh, free_port(), "restore", str(backup), "--part", "files")
        assert again.returncode == 1 and "already holds data" in again.stderr

        ports = dataclasses.replace(system_ports(), sandbox=old.ports.sandbox)
        new = RelaisSystem(tmp_path / "new", agencies=[AGENCY], ports=ports)
        restarted = new.processes["dispatcher"]  # interrupted calls (none here) would wait this long
        restarted.spec = with_env(restarted.spec, RELAIS_DISPATCHER_HTTP_TIMEOUT="5")
        new.start("nats")
        bus = relais_cli(new.data_dir, new.ports.nats, "restore", str(backup), "--part", "bus")
        assert bus.returncode == 0, bus.stderr
        # Every contract stream is back with its messages at their sequences (the audit records
        # bus messages by `<stream>:<sequence>`).
        status, jsz = http("GET", f"http://127.0.0.1:{new.ports.nats_monitor}/jsz?streams=true")
        assert status == 200, jsz
        back = {s["name"]: s["state"] for a in jsz["account_details"] for s in a["stream_detail"]}
        for name in ("POSTS", "TARGETS", "VARIANTS", "DECISIONS", "DELIVERIES"):
            saved = manifest["jetstream"]["streams"][name]
            assert (back[name]["first_seq"], back[name]["last_seq"]) == (
                saved["first_seq"],
                saved["last_seq"],
            )
            assert back[name]["messages"] == saved["messages"] > 0
        new.start(*(name for name in new.processes if name not in ("nats", "sandbox")))

        # Every unfinished delivery is reconciled against the networks: published, never sent again.
        settled = Counter(published=POSTS * len(NETWORKS))
        eventually(lambda: ledger(new.data_dir) == settled or len(old.sandbox_posts()) > settled.total(), 40)
        received = old.sandbox_posts()
        assert len(received) == POSTS * len(NETWORKS), Counter(p["network"] for p in received)
        assert ledger(new.data_dir) == settled

        # The agency node resumes from its durable consumers: it hears the outcomes, and a new post
        # goes through the restored system exactly once.
        for _, body in posted:
            new.wait_status(body["id"], ("published",), timeout=30)
        status, fresh_post = new.post({"text": "Forum emploi jeudi #emploi", "networks": ["mastodon"]})
        assert status == 202, fresh_post
        new.wait_status(fresh_post["id"], ("published",), timeout=30)
        assert len(old.sandbox_posts()) == POSTS * len(NETWORKS) + 1

        verified = relais_cli(new.data_dir, new.ports.nats, "audit", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        refused = relais_cli(new.data_dir, new.ports.nats, "restore", str(backup), "--part", "bus")
        assert refused.returncode == 1 and "already holds streams" in refused.stderr
    finally:
        if new is not None:
            new.stop(*(name for name in new.processes if name != "sandbox"))
        old.stop()


def test_named_volumes_are_backed_up_apart_and_a_tampered_backup_is_refused(tmp_path: Path) -> None:
    """Compose keeps each service's data in a volume of its own: each is named on the command line."""
    hub, keys = tmp_path / "hub-data", tmp_path / "keys"
    keys.mkdir()
    (keys / "hub-token-key.pem").write_bytes(b"private")
    (keys / ".hidden").write_bytes(b"kept too")
    hub.mkdir()
    writer = sqlite3.connect(hub / "hub.db")
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("create table audit (event text)")
    writer.execute("insert into audit values ('received')")
    writer.commit()  # still open, its last commit in the WAL only: the online backup copies it anyway
    (hub / "logs").mkdir()
    (hub / "logs" / "hub.log").write_text("not state")
    backup = tmp_path / "backup"
    volumes = [f"--volume=hub={hub}", f"--volume=keys={keys}"]
    taken = relais_cli(tmp_path / "unused", free_port(), "backup", str(backup), "--no-bus", *volumes)
    assert taken.returncode == 0, taken.stderr
    listed = {e["path"] for e in json.loads((backup / "manifest.json").read_text())["files"]}
    assert listed == {"volumes/hub/hub.db", "volumes/keys/hub-token-key.pem", "volumes/keys/.hidden"}
    writer.close()

    restored_hub, restored_keys = tmp_path / "restored" / "hub", tmp_path / "restored" / "keys"
    unnamed = relais_cli(
        tmp_path / "unused", free_port(), "restore", str(backup), f"--volume=hub={restored_hub}"
    )
    assert unnamed.returncode == 1 and "--volume keys=PATH" in unnamed.stderr
    assert not restored_hub.exists()  # nothing written before every target is known
    targets = [f"--volume=hub={restored_hub}", f"--volume=keys={restored_keys}"]
    bus = relais_cli(tmp_path / "unused", free_port(), "restore", str(backup), "--part", "bus", *targets)
    assert bus.returncode == 1 and "no JetStream part" in bus.stderr
    done = relais_cli(tmp_path / "unused", free_port(), "restore", str(backup), "--part", "files", *targets)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(restored_hub / "hub.db") as db:
        assert db.execute("select event from audit").fetchall() == [("received",)]
    assert (restored_keys / "hub-token-key.pem").read_bytes() == b"private"
    assert stat.S_IMODE((restored_keys / "hub-token-key.pem").stat().st_mode) == 0o600
    (restored_keys / "hub-token-key.pem").write_bytes(b"replaced")
    refused = relais_cli(
        tmp_path / "unused", free_port(), "restore", str(backup), "--part", "files", *targets
    )
    assert refused.returncode == 1 and "already holds data" in refused.stderr
    forced = relais_cli(
        tmp_path / "unused", free_port(), "restore", str(backup), "--part", "files", "--force", *targets
    )
    assert forced.returncode == 0, forced.stderr
    assert (restored_keys / "hub-token-key.pem").read_bytes() == b"private"

    # One byte changed anywhere: the restore writes nothing and says which file.
    key = backup / "volumes" / "keys" / "hub-token-key.pem"
    key.write_bytes(b"privatf")
    elsewhere = [f"--volume=hub={tmp_path / 'other' / 'hub'}", f"--volume=keys={tmp_path / 'other' / 'keys'}"]
    tampered = relais_cli(
        tmp_path / "unused", free_port(), "restore", str(backup), "--part", "files", *elsewhere
    )
    assert tampered.returncode == 1 and "volumes/keys/hub-token-key.pem" in tampered.stderr
    assert not (tmp_path / "other").exists()
