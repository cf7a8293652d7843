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
# Debian's, which `make browser` installs; RELAIS_CHROMIUM names another build of Chromium.
CHROMIUM = Path(os.environ.get("RELAIS_CHROMIUM", "/usr/bin/chromium"))
AXE_SCRIPT = REPO / "node_modules" / "axe-core" / "axe.min.js"  # `make axe` (npm ci) puts it there
OPT_OUT = "RELAIS_SKIP_BROWSER_TESTS"
# Chromium keeps only the last --disable-features it is given, so ours repeats the list Playwright
# 1.65 passes before it, then adds what still called out: the autofill server (as soon as a page had a
# form: the proxy sink caught it), translation, media routing.
PLAYWRIGHT_DISABLED_FEATURES = [
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    "LensOverlay",
    "MediaRouter",
    "PaintHolding",
    "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect",
    "OptimizationHints",
    "NetworkTimeServiceQuerying",
    "PreconnectToSearch",
]
QUIET_FEATURES = ["AutofillServerCommunication", "Translate", "DialMediaRouteProvider"]
# Without the background-networking flags Chromium keeps dialling Google's hosts; the resolver rule
# answers "not found" for every host but localhost and 127.0.0.1 without asking any DNS server, so a
# page that names an outside host cannot even look it up (the offline guard still fails its test).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-domain-reliability",
    "--disable-features=" + ",".join(PLAYWRIGHT_DISABLED_FEATURES + QUIET_FEATURES),
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    # WebRTC sends UDP straight to any STUN address a page names, beside the proxy and unseen by the
    # routes (a test saw it reach 127.0.0.2): only UDP through the proxy, i.e. none, is allowed.
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
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
