"""The production image has no sandbox (Dockerfile: `rm -rf services/sandbox`): every entry point it
runs must import without it. `relais/system.py` once imported the sandbox's webhook secrets at module
level, and compose's `init` job (`relais …`, through relais.deployment) died on it before anything ran."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

WITHOUT_SANDBOX = """
import importlib, sys
from importlib.abc import MetaPathFinder

class NoSandbox(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "services.sandbox" or name.startswith("services.sandbox."):
            raise ModuleNotFoundError(f"No module named {name!r} (the production image has none)")
        return None

sys.meta_path.insert(0, NoSandbox())
importlib.import_module(sys.argv[1])
"""

# What the production image runs: the command line (compose's init job, backups, ctl) and each service.
ENTRY_POINTS = [
    "relais.cli",
    "services.hub.__main__",
    "services.intake.__main__",
    "services.federation.__main__",
    "services.formatter.__main__",
    "services.dispatcher.__main__",
]


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_an_entry_point_of_the_production_image_imports_without_the_sandbox(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_SANDBOX, module], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
