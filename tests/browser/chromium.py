"""Debian's Chromium, launched by Playwright from its own path: Playwright never downloads a browser
here (no network but the package registries), and the browser must not dial out either.

Missing tools mean failed tests, never skipped ones, so CI cannot go green without having driven a
page; a person without Chromium opts out with RELAIS_SKIP_BROWSER_TESTS=1 (CI never sets it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE_SCRIPT = REPO / "node_modules" / "axe-core" / "axe.min.js"  # `make axe` (npm ci) puts it there
OPT_OUT = "RELAIS_SKIP_BROWSER_TESTS"
# Without the background-networking flags Chromium keeps dialling Google's hosts; the resolver rule
# answers "not found" for every host but localhost and 127.0.0.1 without asking any DNS server, so a page that
# names an outside host cannot even look it up (the offline guard still sees and fails the request).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-domain-reliability",
    "--disable-features=AutofillServerCommunication,Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]


def give_up(problem: str) -> None:
    """Fail the test with the reason, or skip it when the person opted out of browser tests."""
    if os.environ.get(OPT_OUT) == "1":
        pytest.skip(f"{OPT_OUT}=1: browser tests not run ({problem})")
    pytest.fail(f"{problem} (set {OPT_OUT}=1 to skip the browser tests)", pytrace=False)


def missing_tools() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: run `make browser` (as root: apt-get install chromium)"
    if not AXE_SCRIPT.exists():
        return f"{AXE_SCRIPT.relative_to(REPO)} is missing: run `make axe` (npm ci, from package-lock.json)"
    return None
