"""Shared fixtures: a whole Relais system as real processes on loopback, torn down after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import RelaisSystem


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
