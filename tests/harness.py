"""Test harness: the real system as real processes on free loopback ports, plus small HTTP helpers.

It starts the same process specs as `relais run` (relais.system), so what the tests exercise is
what an advisor runs.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
import signal
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nats
import psutil

from relais.nats_auth import agency_user, url_for
from relais.processes import ManagedProcess, stop_all
from relais.system import (
    DEMO_CSV,
    Ports,
    agencies_in,
    hub_nats_url,
    nats_passwords,
    system_specs,
    write_sandbox_credentials,
    write_sandbox_webhook_secrets,
)
from shared.tokens import issue_token, load_or_create_private_key
from tests.tcp_proxy import TcpProxy
from tests.waiting import eventually as eventually  # the process-level tests import it from here


def _ephemeral_range() -> range:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default
    return range(low, high + 1)


_EPHEMERAL = _ephemeral_range()
_CANDIDATES = [port for port in range(20000, 32768) if port not in _EPHEMERAL] or list(range(20000, 30000))
# Test processes running side by side (tests/run.sh: one process, and a pool of pytest-xdist workers)
# take disjoint lanes of ports: blocks of `_BLOCK` dealt in turn. A pool's workers take the lanes
# after the pool's own: `gw0` the first, `gw1` the next.
_BLOCK = 500
_LANES = int(os.environ.get("RELAIS_TEST_PORT_LANES", "1"))
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_LANE = int(os.environ.get("RELAIS_TEST_PORT_LANE", "0")) + int(_WORKER.removeprefix("gw"))


def _in_lane(port: int) -> bool:
    return (port // _BLOCK) % _LANES == _LANE % _LANES


_CANDIDATES = [port for port in _CANDIDATES if _in_lane(port)]
# Handed out in turn from a random start: no port comes back until every other one has been used.
_START = random.randrange(len(_CANDIDATES))
_NEXT = itertools.cycle(_CANDIDATES[_START:] + _CANDIDATES[:_START])


_HELD: set[int] = set()  # ports a system will listen on later, never handed out by free_port()


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A port free now, chosen outside the kernel's ephemeral range: a port the OS hands out for
    bind(0) can be taken by any outgoing connection before the process that should listen on it
    starts (a test once lost its intake's port that way)."""
    for _ in range(len(_CANDIDATES)):
        port = next(_NEXT)
        if port not in _HELD and _bindable(port):
            return port
    raise RuntimeError("no free port found outside the ephemeral range")


def system_ports(agencies: int = 16) -> Ports:
    """Free ports for a whole system. The agencies after the first listen at `intake + 10·i`
    (relais/system.py), ports no one chose: the intake port is taken where those are free too, and
    they are held back from every later free_port()."""
    nats, monitor, hub, sandbox, formatter, dispatcher, federation = (free_port() for _ in range(7))
    taken = {nats, monitor, hub, sandbox, formatter, dispatcher, federation} | _HELD
    while True:
        intake = free_port()
        extra = {intake + 10 * index for index in range(1, agencies)}
        if (
            not extra & taken
            and all(_in_lane(port) and port not in _EPHEMERAL for port in extra)
            and all(map(_bindable, extra))
        ):
            break
    _HELD.update(extra)
    return Ports(nats, monitor, hub, intake, sandbox, formatter, dispatcher, federation)


def http(
    method: str,
    url: str,
    body: Any = None,
    token: str | None = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """One HTTP request; returns (status, decoded JSON body or text)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, payload = err.code, err.read()
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode(errors="replace")


@contextmanager
def stopped(pid: int) -> Iterator[None]:
    """The process frozen (SIGSTOP: its sockets stay open, nothing is read or answered) until the
    block ends (SIGCONT). Returns once every thread is stopped: a signal is delivered asynchronously."""
    os.kill(pid, signal.SIGSTOP)
    try:
        eventually(lambda: psutil.Process(pid).status() == psutil.STATUS_STOPPED, timeout=5, interval=0.01)
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


class RelaisSystem:
    """NATS, sandbox, federation, formatter, hub, dispatcher and one intake per demo agency."""

    def __init__(
        self,
        root: Path,
        csv_path: Path = DEMO_CSV,
        agencies: list[str] | None = None,
        proxied: bool = False,
        ports: Ports | None = None,
    ) -> None:
        self.root = root
        self.data_dir = root / "var"
        self.csv_path = csv_path
        self.ports = ports or system_ports()
        self.agencies = agencies if agencies is not None else agencies_in(csv_path)
        # With `proxied`, each agency reaches the hub's NATS through its own link that tests can cut.
        self.links = {a: TcpProxy(free_port(), self.ports.nats) for a in self.agencies} if proxied else {}
        proxied_ports = {a: link.listen_port for a, link in self.links.items()}
        specs = system_specs(self.data_dir, self.ports, csv_path, "json", self.agencies, proxied_ports)
        self.processes = {spec.name: ManagedProcess(spec, self.data_dir / "logs") for spec in specs}
        self.key = load_or_create_private_key(self.data_dir / "keys" / "hub-token-key.pem")
        write_sandbox_credentials(csv_path, self.data_dir / "credentials.json")
        write_sandbox_webhook_secrets(csv_path, self.data_dir / "keys" / "webhook-secrets.json")

    def start_links(self) -> None:
        for link in self.links.values():
            link.start()

    def close_links(self) -> None:
        for link in self.links.values():
            link.close()

    def start(self, *names: str, alive_only: bool = False) -> None:
        """Start and wait until ready (or, with `alive_only`, until /healthz answers: an agency node
        without its bus is alive but not ready)."""
        chosen = [self.processes[n] for n in (names or self.processes)]
        for process in chosen:
            process.start()
        for process in chosen:
            process.wait_ready(timeout=30, alive_only=alive_only)

    def stop(self, *names: str) -> None:
        stop_all([self.processes[name] for name in names or self.processes])

    def kill(self, name: str) -> None:
        self.processes[name].kill()

    def intake_url(self, agency: str | None = None) -> str:
        index = self.agencies.index(agency or self.agencies[0])
        return f"http://127.0.0.1:{self.ports.intake_for(index)}"

    @property
    def nats_url(self) -> str:
        """The hub services' NATS URL (with their credentials)."""
        return hub_nats_url(self.data_dir, self.ports.nats)

    def agency_nats_url(self, agency: str) -> str:
        passwords = nats_passwords(self.data_dir, [])
        return url_for(agency_user(agency), passwords[agency_user(agency)], "127.0.0.1", self.ports.nats)

    @property
    def hub_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.hub}"

    @property
    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.sandbox}"

    def token(self, role: str = "advisor", agency: str | None = None) -> str:
        agency = agency or (self.agencies[0] if role == "advisor" else None)
        subject = f"{role}@{agency}" if agency else role
        return issue_token(self.key, role=role, subject=subject, agency=agency)

    def post(self, body: dict[str, Any], agency: str | None = None) -> tuple[int, Any]:
        return http("POST", f"{self.intake_url(agency)}/v1/posts", body, token=self.token(agency=agency))

    def get_post(self, post_id: str, agency: str | None = None) -> dict[str, Any]:
        status, body = http(
            "GET", f"{self.intake_url(agency)}/v1/posts/{post_id}", token=self.token(agency=agency)
        )
        assert status == 200, body
        return dict(body)

    def wait_status(
        self, post_id: str, statuses: tuple[str, ...], agency: str | None = None, timeout: float = 30.0
    ) -> dict[str, Any]:
        """Poll the agency's view until the post has one of `statuses` (a 404 means not there yet)."""
        url = f"{self.intake_url(agency)}/v1/posts/{post_id}"

        def reached() -> dict[str, Any] | None:
            status, body = http("GET", url, token=self.token(agency=agency))
            return dict(body) if status == 200 and body["status"] in statuses else None

        return dict(eventually(reached, timeout=timeout))

    def hub_post(self, post_id: str) -> dict[str, Any] | None:
        status, body = http("GET", f"{self.hub_url}/v1/posts/{post_id}", token=self.token("admin"))
        return dict(body) if status == 200 else None

    def decision_subjects(self, post_id: str) -> dict[str, int]:
        """How many messages the DECISIONS stream holds for the post, by kind (approved, rejected…)."""

        async def count() -> dict[str, int]:
            nc = await nats.connect(self.nats_url)
            try:
                info = await nc.jetstream().stream_info(
                    "DECISIONS", subjects_filter=f"decisions.*.{post_id}.>"
                )
            finally:
                await nc.close()
            counts = {subject.rsplit(".", 1)[1]: n for subject, n in (info.state.subjects or {}).items()}
            assert counts.pop("queued", 1) == 1  # the notice that it waits for a moderator: told once
            return counts  # the decisions

        return asyncio.run(count())

    def audit(self, post_id: str) -> list[dict[str, Any]]:
        status, body = http("GET", f"{self.hub_url}/v1/audit?post_id={post_id}", token=self.token("admin"))
        assert status == 200, body
        return list(body["events"])

    def audit_with(self, post_id: str, *events: str, timeout: float = 20.0) -> list[dict[str, Any]]:
        """The post's audit once each of `events` is in it. The hub records each stream from the bus
        with its own consumer, so a decision may be recorded a moment after the agency shows the
        publication it led to."""
        return list(
            eventually(
                lambda: (
                    (entries := self.audit(post_id))
                    and {e["event"] for e in entries} >= set(events)
                    and entries
                ),
                timeout=timeout,
            )
        )

    def sandbox_posts(self, **query: str) -> list[dict[str, Any]]:
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        status, body = http("GET", f"{self.sandbox_url}/_sandbox/posts?{qs}")
        assert status == 200, body
        return list(body["posts"])

    def logs(self) -> str:
        return "\n".join(
            p.log_path.read_text(errors="replace") for p in self.processes.values() if p.log_path.exists()
        )


async def nats_answer(port: int, user: str | None = None, password: str | None = None) -> str:
    """What a nats-server on 127.0.0.1:`port` answers a sign-in (as `user`, or anonymous) and a
    PING: `PONG`, or its `-ERR`. Spoken in the protocol itself: nats-py leaks its socket when a
    sign-in is refused, which this suite treats as an error."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await reader.readline()  # INFO
        connect: dict[str, object] = {"verbose": False, "pedantic": False}
        if user is not None:
            connect |= {"user": user, "pass": password or ""}
        writer.write(f"CONNECT {json.dumps(connect)}\r\nPING\r\n".encode())
        await writer.drain()
        return (await reader.readline()).decode().strip()
    finally:
        writer.close()
        await writer.wait_closed()
