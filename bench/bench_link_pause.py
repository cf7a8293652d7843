"""Stalled link benchmark: the hub's nats-server frozen with SIGSTOP for 30 s (its sockets stay open;
nothing is read or answered, as over a half-open link), posts written at an agency meanwhile, then
SIGCONT.

Real processes on loopback (the hub's NATS and federation, one agency node). Reports the seconds
from the pause to the node's `/readyz` saying `nats: false` (stall_found_s), from the resume to the
last post stored at the hub (resume_to_relayed_s), and lost and duplicated posts, counted per
post subject in the hub's POSTS stream. Targets: stall found < 10 s, relayed < 10 s after the
resume, 0 lost, 0 duplicated. `python -m bench.bench_link_pause [posts] [pause_s]`.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nats

from bench.bench_agency_outage import write
from relais.nats_auth import agency_user, url_for
from relais.processes import ManagedProcess, stop_all
from relais.system import (
    DEMO_CSV,
    agency_spec,
    hub_nats_url,
    hub_specs,
    nats_passwords,
    write_sandbox_credentials,
)
from shared.tokens import issue_token, load_or_create_private_key
from tests.harness import free_port, stopped, system_ports

ARGS = [int(a) for a in sys.argv[1:] if a.isdigit()]
POSTS = ARGS[0] if ARGS else 1_000
PAUSE_S = ARGS[1] if len(ARGS) > 1 else 30
AGENCY = "lyon-part-dieu"


async def stored_per_post(nats_url: str) -> dict[str, int]:
    nc = await nats.connect(nats_url, allow_reconnect=False, connect_timeout=2)
    try:
        info = await nc.jetstream().stream_info("POSTS", subjects_filter=f"posts.{AGENCY}.>")
        return dict(info.state.subjects or {})
    finally:
        await nc.close()


def nats_ready(ready_url: str) -> bool:
    try:
        with urllib.request.urlopen(ready_url, timeout=2) as response:
            return bool(json.load(response)["checks"]["nats"])
    except urllib.error.HTTPError as refused:  # 503: not ready, with the same body
        return bool(json.load(refused)["checks"]["nats"])


def first_not_ready(ready_url: str, deadline: float) -> float:
    """When the node's `/readyz` first says `nats: false` (the deadline if never)."""
    while nats_ready(ready_url) and time.monotonic() < deadline:
        time.sleep(0.05)
    return min(time.monotonic(), deadline)


def wait_all_stored(nats_url: str, limit: float = 120) -> tuple[float, dict[str, int]]:
    started = time.monotonic()
    counts: dict[str, int] = {}
    while time.monotonic() - started < limit:
        try:
            counts = asyncio.run(stored_per_post(nats_url))
        except Exception:
            counts = {}
        if len(counts) >= POSTS:
            elapsed = time.monotonic() - started
            time.sleep(3.0)  # would a resend of an unacknowledged publish add a copy?
            return elapsed, asyncio.run(stored_per_post(nats_url))
        time.sleep(0.05)
    return time.monotonic() - started, counts


def run(root: Path) -> str:
    data = root / "var"
    ports = system_ports()
    key = load_or_create_private_key(data / "keys" / "hub-token-key.pem")
    write_sandbox_credentials(DEMO_CSV, data / "credentials.json")
    hub = {s.name: ManagedProcess(s, data / "logs") for s in hub_specs(data, ports, DEMO_CSV, "json")}
    passwords = nats_passwords(data, [AGENCY])
    node_url = url_for(agency_user(AGENCY), passwords[agency_user(AGENCY)], "127.0.0.1", ports.nats)
    public_key = data / "keys" / "hub-token-key.pub.pem"
    node = ManagedProcess(agency_spec(AGENCY, node_url, free_port(), data, public_key, "json"), data / "logs")
    core = [hub["nats"], hub["federation"], node]
    try:
        for process in core:
            process.start()
        for process in core:
            process.wait_ready(30)
        assert hub["nats"].proc is not None and node.spec.ready_url is not None
        token = issue_token(key, role="advisor", subject="bench", agency=AGENCY)
        intake = node.spec.ready_url.removesuffix("/readyz")
        with ThreadPoolExecutor(1) as watcher, stopped(hub["nats"].proc.pid):
            paused = time.monotonic()
            found = watcher.submit(first_not_ready, node.spec.ready_url, paused + PAUSE_S)
            asyncio.run(write(intake, token, POSTS, "link_pause"))
            time.sleep(max(PAUSE_S - (time.monotonic() - paused), 0))
        stall_found = found.result() - paused
        seconds, counts = wait_all_stored(hub_nats_url(data, ports.nats))
        lost = max(POSTS - len(counts), 0)
        duplicated = sum(n - 1 for n in counts.values())
        return (
            f"link_pause pause_s={PAUSE_S} resume_to_relayed_s={seconds:.2f} lost={lost}"
            f" duplicated={duplicated} posts={POSTS} stall_found_s={stall_found:.1f}"
        )
    finally:
        stop_all([node, *hub.values()])


def main() -> None:
    tmp = tempfile.mkdtemp(prefix="relais-bench-link-pause-")
    try:
        print(run(Path(tmp)), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
