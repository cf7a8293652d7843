"""Shared fixtures: a whole Relais system as real processes on loopback, torn down after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from relais.processes import ManagedProcess, nats_spec
from tests.harness import RelaisSystem, free_port


@pytest.fixture
def nats_url(tmp_path: Path) -> Iterator[str]:
    """A nats-server of its own (JetStream, no auth) on a free port, for tests of one service."""
    port = free_port()
    server = ManagedProcess(nats_spec(tmp_path / "nats", port, free_port()), tmp_path / "logs")
    server.start()
    server.wait_ready()
    try:
        yield f"nats://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def relais(tmp_path: Path) -> Iterator[RelaisSystem]:
    system = RelaisSystem(tmp_path)
    try:
        system.start()
        yield system
    finally:
        system.stop()


@pytest.fixture
def make_relais(tmp_path: Path) -> Iterator[Callable[..., RelaisSystem]]:
    """Build (and start) a system with options: a registry, which agencies get nodes, proxied links."""
    systems: list[RelaisSystem] = []

    def make(**options: Any) -> RelaisSystem:
        system = RelaisSystem(tmp_path / f"system{len(systems)}", **options)
        systems.append(system)
        system.start_links()
        system.start()
        return system

    try:
        yield make
    finally:
        for system in systems:
            system.stop()
            system.close_links()
