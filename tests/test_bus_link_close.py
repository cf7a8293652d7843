"""Every service closes its bus link at shutdown with `BusLink.close`: a process often stops while
the bus is out of reach, and the rest of its shutdown (the HTTP runner, the database) must still run."""

from __future__ import annotations

import asyncio
from pathlib import Path

from shared import bus
from tests.intake.test_media_relay import start_nats


async def test_closing_a_link_whose_server_is_gone_does_not_fail(tmp_path: Path) -> None:
    server, port = start_nats(tmp_path / "bus")
    link = bus.BusLink()
    try:
        link.nc = await bus.connect(f"nats://127.0.0.1:{port}", bus.hub_client("hub"))
        js = link.nc.jetstream()
        await bus.ensure_streams(js)
        server.stop()
        for _ in range(100):
            if not link.nc.is_connected:
                break
            await asyncio.sleep(0.1)
        assert not link.nc.is_connected
        # Something left for the lost server, as a service stopping mid-work would have.
        await link.nc.publish("posts.lyon.p1.received", b"{}")
        await link.close(service="test")
        assert link.nc.is_closed
    finally:
        server.stop()


async def test_closing_a_link_never_connected_does_nothing() -> None:
    link = bus.BusLink()
    await link.close()
    assert link.nc is None
