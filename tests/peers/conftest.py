"""One real Bluesky PDS for the whole session (`pds` tests). Missing means failed, never skipped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers.pds_server import PdsServer, PeerMissing


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "pds: publishes to a real Bluesky PDS on 127.0.0.1 (installed by make peers)"
    )


@pytest.fixture(scope="session")
def pds(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PdsServer]:
    workdir: Path = tmp_path_factory.mktemp("pds")
    try:
        server = PdsServer(workdir)
    except PeerMissing as missing:
        pytest.fail(str(missing), pytrace=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()
