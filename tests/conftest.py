"""Shared fixtures: a whole Relais system as real processes on loopback, torn down after each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
