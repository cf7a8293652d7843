"""A stalled link to a real nats-server (the server paused with SIGSTOP, the way a frozen host or a
half-open connection looks from the client): found within seconds, reported as down, replaced, and
the client reads again once the server answers. The whole system under the same faults is in
tests/federation/test_link_stall.py."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nats.errors
import pytest

from relais.processes import ManagedProcess, nats_spec
from shared import bus
from tests.harness import free_port, stopped

CLIENT = bus.hub_client("stall-test")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ManagedProcess]:
    process = ManagedProcess(nats_spec(tmp_path / "nats", free_port(), free_port()), tmp_path / "logs")
    process.start()
    process.wait_ready()
    try:
        yield process
    finally:
        process.stop()


def url(server: ManagedProcess) -> str:
    return f"nats://127.0.0.1:{server.spec.port}"


@contextmanager
def paused(server: ManagedProcess) -> Iterator[None]:
    assert server.proc is not None
    with stopped(server.proc.pid):
        yield


async def round_trip(nc: bus.BusConnection) -> bytes:
    """A message through the server and back: proof that the client still reads."""
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    try:
        await nc.publish(inbox, b"ping")
        return bytes((await sub.next_msg(timeout=2)).data)
    finally:
        await sub.unsubscribe()


async def test_a_flush_that_timed_out_during_a_stall_does_not_stop_the_client_reading(
    server: ManagedProcess,
) -> None:
    # nats-py 2.16: the late PONG of a timed-out flush raised InvalidStateError in _process_pong and
    # ended the read loop, while the client still said it was connected.
    nc = await bus.connect(url(server), CLIENT)
    try:
        with paused(server):
            with pytest.raises(nats.errors.TimeoutError):
                await nc.flush(timeout=1)
        await nc.flush(timeout=2)  # the late PONG answers the first PING, this one its own
        assert await round_trip(nc) == b"ping"
        assert nc.stats["reconnects"] == 0  # the same connection, not a replacement
    finally:
        await nc.close()


# A reconnection attempt that times out waiting for the paused server's INFO is dropped by nats-py
# without closing its socket (closed when collected, with a ResourceWarning): nats-py's, not ours.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_a_stall_is_reported_and_replaced_within_seconds(server: ManagedProcess) -> None:
    link = bus.BusLink()
    nc = link.nc = await bus.connect(url(server), CLIENT)
    try:
        assert link.connected
        with paused(server):
            started = time.monotonic()
            while link.connected:
                assert time.monotonic() - started < bus.STALL_SECONDS + 2, "a stalled link still reported up"
                await asyncio.sleep(0.1)
            while nc.is_connected:  # nats-py itself gives the connection up and tries again
                limit = (bus.MAX_OUTSTANDING_PINGS + 1) * bus.PING_INTERVAL + 2
                assert time.monotonic() - started < limit, "a stalled connection was kept"
                await asyncio.sleep(0.1)
            await asyncio.sleep(3)
            assert not link.connected  # no server answers: still down
        resumed = time.monotonic()
        while not link.connected:
            assert time.monotonic() - resumed < 5, "not back within 5 s of the resume"
            await asyncio.sleep(0.1)
        assert await round_trip(nc) == b"ping"
    finally:
        await nc.close()


async def test_a_healthy_idle_link_stays_ready(server: ManagedProcess) -> None:
    link = bus.BusLink()
    nc = link.nc = await bus.connect(url(server), CLIENT)
    try:
        for _ in range((bus.STALL_SECONDS + 2) * 10):  # longer than the stall bound, with no traffic
            assert link.connected
            await asyncio.sleep(0.1)
        assert nc.stats["reconnects"] == 0
    finally:
        await nc.close()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # as above
async def test_pipelined_publishes_stop_waiting_for_acknowledgements_once_the_link_is_given_up(
    server: ManagedProcess,
) -> None:
    # Their replies would come on the lost connection: waiting out the whole ack_wait only delays the
    # resend (which JetStream answers "already stored" for what did arrive).
    nc = await bus.connect(url(server), CLIENT)
    try:
        await nc.jetstream().add_stream(name="STALL", subjects=["stall.>"])
        with paused(server):
            started = time.monotonic()
            answers = await bus.publish_pipelined(nc, [("stall.1", b"x", {})], ack_wait=60)
            waited = time.monotonic() - started
        assert isinstance(answers[0], TimeoutError)
        assert waited < (bus.MAX_OUTSTANDING_PINGS + 1) * bus.PING_INTERVAL + 2
        for _ in range(50):  # back within 5 s of the resume
            if nc.is_connected:
                break
            await asyncio.sleep(0.1)
        (answer,) = await bus.publish_pipelined(nc, [("stall.2", b"x", {})], ack_wait=5)
        assert isinstance(answer, dict) and answer.get("stream") == "STALL" and "seq" in answer, answer
    finally:
        await nc.close()
