"""axe-core from the local npm copy (never a CDN), run in the page under test against WCAG 2.1 AA.

The script is evaluated over the DevTools protocol, which the page's Content-Security-Policy does not
govern: the hub's strict policy (script-src 'self') stays on during the audit, unlike an inline
<script> tag (blocked) or a context with bypass_csp (which would test a page that is never served).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from playwright.sync_api import Page

from tests.browser.artifacts import ARTIFACTS
from tests.browser.chromium import AXE_SCRIPT

WCAG21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = frozenset({"serious", "critical"})  # issue #14: 0 of these on every page


@cache
def _axe_source() -> str:
    return AXE_SCRIPT.read_text(encoding="utf-8")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Every WCAG 2.1 A/AA violation axe finds in the page as it is now, whatever its impact."""
    # Injected at every call, even if the page already has an `axe`: its own could answer anything.
    session = page.context.new_cdp_session(page)
    try:
        answer = session.send("Runtime.evaluate", {"expression": _axe_source()})
    finally:
        session.detach()
    assert "exceptionDetails" not in answer, answer["exceptionDetails"]
    options = {"runOnly": {"type": "tag", "values": WCAG21_AA}, "resultTypes": ["violations"]}
    result: dict[str, Any] = page.evaluate("(options) => axe.run(document, options)", options)
    # No rule run is no violation found: a page that axe could not audit must not pass as clean.
    assert result["passes"], f"{page.url}: axe ran no WCAG 2.1 AA rule that passed; nothing was audited"
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    """One line per rule: impact, rule id, what it means, and the first offending elements."""
    lines = []
    for v in violations:
        targets = ", ".join(" ".join(node["target"]) for node in v["nodes"][:3])
        more = f" (+{len(v['nodes']) - 3})" if len(v["nodes"]) > 3 else ""
        lines.append(f"{v['impact']} {v['id']}: {v['help']} — {targets}{more}")
    return "\n".join(lines)


def axe(page: Page, name: str | None = None) -> list[dict[str, Any]]:
    """The page's violations; fails unless none is serious or critical. With `name`, the whole
    report is kept as tests/artifacts/axe-<name>.json for the person reading a failed run."""
    violations = axe_violations(page)
    if name:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(violations, indent=2, ensure_ascii=False))
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"{page.url}: serious or critical WCAG 2.1 AA violations:\n{describe(blocking)}"
    return violations
