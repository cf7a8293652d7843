"""A delivery fleet per test: real NATS, sandbox, federation and dispatcher processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.dispatcher.fleet import DeliveryFleet, Page

# Fast retries and a short call timeout keep the scenarios short; the logic is the production one.
FAST = {
    "RELAIS_DISPATCHER_RETRY_BASE": "0.2",
    "RELAIS_DISPATCHER_HTTP_TIMEOUT": "2",
    "RELAIS_DISPATCHER_CONCURRENCY": "16",
}

FleetFactory = Callable[..., DeliveryFleet]


@pytest.fixture
def fleet_factory(tmp_path: Path) -> Iterator[FleetFactory]:
    fleets: list[DeliveryFleet] = []

    def make(pages: list[Page], *, shards: int = 1, **env: str) -> DeliveryFleet:
        fleet = DeliveryFleet(tmp_path / f"fleet{len(fleets)}", pages, shards=shards, **{**FAST, **env})
        fleets.append(fleet)
        fleet.start()
        return fleet

    try:
        yield make
    finally:
        for fleet in fleets:
            fleet.stop()
