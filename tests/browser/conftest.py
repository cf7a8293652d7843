"""Fixtures of the browser tests (every test here is marked `browser`):

- `chromium`: one headless Debian Chromium for the session's browser tests (tests/browser/chromium.py;
  package scope, so it is closed once the last of them is done instead of idling through the suite);
- `browser_context`: a fresh context per test (its own cookies and storage; French locale and Paris
  time, as Relais's people), whose every request is recorded: one to a host other than 127.0.0.1 or
  localhost is refused before it leaves and fails the test (tests/browser/offline.py);
- `browser_page`: a page in that context.

Helpers: `axe` (tests/browser/axe.py), `screenshot` (tests/browser/artifacts.py), `tab_to`,
`type_into`, `activate` (tests/browser/keyboard.py: Tab and Enter only).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.browser.artifacts import screenshot
from tests.browser.chromium import CHROMIUM, FLAGS, give_up, missing_tools
from tests.browser.offline import OfflineGuard
from tests.browser.sink import ProxySink

__all__ = ["screenshot"]  # tests written before artifacts.py import it from here

VIEWPORT: ViewportSize = {"width": 1440, "height": 1100}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in item.nodeid:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="package")
def chromium() -> Iterator[Browser]:
    problem = missing_tools()
    if problem:
        give_up(problem)
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        except PlaywrightError as err:
            give_up(f"{CHROMIUM} did not start: {err.message[:2000]}")  # with the browser's own log
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def guarded_context(browser: Browser, routes: bool = True) -> Iterator[tuple[BrowserContext, OfflineGuard]]:
    """A new context watched by an offline guard, its proxy a sink on 127.0.0.1: what every browser
    test gets. Closed at the end; the caller decides what a broken promise does (the fixture fails)."""
    sink = ProxySink()
    guard = OfflineGuard(sink)
    try:
        context = browser.new_context(
            locale="fr-FR", timezone_id="Europe/Paris", viewport=VIEWPORT, proxy=sink.proxy
        )
        try:
            guard.watch(context, routes)
            yield context, guard
        finally:
            context.close()
    finally:
        sink.close()


@pytest.fixture
def browser_context(chromium: Browser) -> Iterator[BrowserContext]:
    with guarded_context(chromium) as (context, guard):
        yield context
    guard.check()


@pytest.fixture
def browser_page(browser_context: BrowserContext) -> Page:
    return browser_context.new_page()
