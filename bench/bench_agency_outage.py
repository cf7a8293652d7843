"""Offline agency benchmark: 10,000 posts written at an agency during an outage, then drained.

Two scenarios, real processes on loopback: (1) the agency's link is cut while the posts are written,
then restored; (2) the hub's NATS is down while they are written, then restarted. For each: seconds
from the link's return to the last post stored at the hub, posts per second, lost and duplicated
counts, and the agency node's peak memory. Targets: < 5 s after a link cut, < 10 s after a hub
restart, node < 150 MB RSS.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp
import nats
import psutil

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
from tests.harness import free_port, system_ports
from tests.tcp_proxy import TcpProxy

POSTS = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 10_000
AGENCY = "lyon-part-dieu"


class PeakRss(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)


async def write(intake: str, token: str, count: int, label: str) -> float:
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        queue = iter(range(count))

        async def worker() -> None:
            for i in queue:
                body = {"text": f"{label} offre n°{i} #emploi", "networks": ["mastodon"]}
                async with session.post(f"{intake}/v1/posts", json=body) as response:
                    assert response.status == 202, await response.text()

        await asyncio.gather(*(worker() for _ in range(8)))
    return count / (time.monotonic() - started)


async def _quiet(error: Exception) -> None:
    """While the hub is down, failing to connect is what this poll expects."""


async def stored_at_hub(nats_url: str) -> int:
    nc = await nats.connect(nats_url, error_cb=_quiet, allow_reconnect=False)
    try:
        return (await nc.jetstream().stream_info("POSTS")).state.messages
    finally:
        await nc.close()


async def wait_for(nats_url: str, expected: int, limit: float = 120) -> tuple[float, int]:
    started = time.monotonic()
    count = 0
    while time.monotonic() - started < limit:
        try:
            count = await stored_at_hub(nats_url)
        except Exception:
            count = 0
        if count >= expected:
            elapsed = time.monotonic() - started
            await asyncio.sleep(1.0)  # would a duplicate follow?
            return elapsed, await stored_at_hub(nats_url)
        await asyncio.sleep(0.02)
    return time.monotonic() - started, count


def scenario(name: str, root: Path, total_before: int) -> tuple[str, int]:
    data = root / "var"
    ports = system_ports()
    key = load_or_create_private_key(data / "keys" / "hub-token-key.pem")
    write_sandbox_credentials(DEMO_CSV, data / "credentials.json")
    hub = {s.name: ManagedProcess(s, data / "logs") for s in hub_specs(data, ports, DEMO_CSV, "json")}
    link = TcpProxy(free_port(), ports.nats)
    link.start()
    passwords = nats_passwords(data, [AGENCY])
    node_url = url_for(agency_user(AGENCY), passwords[agency_user(AGENCY)], "127.0.0.1", link.listen_port)
    node = ManagedProcess(
        agency_spec(
            AGENCY,
            node_url,
            free_port(),
            data,
            data / "keys" / "hub-token-key.pub.pem",
            "json",
        ),
        data / "logs",
    )
    core = [hub["nats"], hub["federation"]]  # the posts are counted in the hub's POSTS stream
    try:
        for process in [*core, node]:
            process.start()
        for process in [*core, node]:
            process.wait_ready(30)
        assert node.proc is not None
        rss = PeakRss(node.proc.pid)
        rss.start()
        token = issue_token(key, role="advisor", subject="bench", agency=AGENCY)
        intake = node.spec.ready_url.removesuffix("/readyz")  # type: ignore[union-attr]
        nats_url = hub_nats_url(data, ports.nats)
        if name == "link_cut":
            link.cut()
        else:
            hub["nats"].stop()
        write_rate = asyncio.run(write(intake, token, POSTS, name))
        if name == "link_cut":
            link.restore()
        else:
            hub["nats"].start()
        seconds, stored = asyncio.run(wait_for(nats_url, POSTS))
        rss.running = False
        lost, duplicated = max(POSTS - stored, 0), max(stored - POSTS, 0)
        line = (
            f"agency_outage scenario={name} posts={POSTS} written_per_s={write_rate:.0f}"
            f" drain_s={seconds:.2f} per_s={stored / seconds:.0f} lost={lost} duplicated={duplicated}"
            f" node_peak_rss_mb={rss.peak / 2**20:.0f}"
        )
        return line, stored
    finally:
        stop_all([node, *hub.values()])
        link.close()


def main() -> None:
    lines = []
    keep = "--keep" in sys.argv
    for name in ("link_cut", "hub_restart"):
        tmp = tempfile.mkdtemp(prefix=f"relais-bench-{name}-")
        line, _ = scenario(name, Path(tmp), 0)
        if keep:
            print(f"# kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            print(line, flush=True)
            lines.append(line)


if __name__ == "__main__":
    main()
