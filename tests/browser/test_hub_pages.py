"""The hub's pages in Chromium, in French, Arabic and English, on a whole running system: the
sign-in page and the signed-in dashboard, audit and dead-letter pages pass axe-core's WCAG 2.1 AA
rules (0 serious or critical) with the right `lang` and `dir`, a moderator signs in with the
keyboard alone, and no page asks for anything beyond 127.0.0.1 (the `browser_context` fixture
fails any test whose pages do). Screenshots: tests/artifacts/hub-*.png."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.artifacts import screenshot
from tests.browser.axe import axe
from tests.browser.hub_system import (
    ERROR_MESSAGE,
    MODERATOR,
    QUEUED_TEXT,
    FilledHub,
    sign_in,
    start_filled_hub,
)
from tests.browser.keyboard import activate, type_into
from tests.hub.dashboard_client import PASSWORD

# The sign-in's accessible names, fixed by issue #14 in French, the default language.
USERNAME = "Identifiant"
PASSWORD_FIELD = "Mot de passe"
SIGN_IN = "Se connecter"
LANGUAGES = {"fr": "ltr", "ar": "rtl", "en": "ltr"}


def assert_language(page: Page, lang: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator("html")).to_have_attribute("dir", LANGUAGES[lang])


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FilledHub]:
    filled = start_filled_hub(tmp_path_factory.mktemp("hub-pages"))
    try:
        yield filled
    finally:
        filled.relais.stop()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_sign_in_page_passes_axe(hub: FilledHub, browser_page: Page, lang: str) -> None:
    browser_page.goto(f"{hub.url}/login?lang={lang}")
    assert_language(browser_page, lang)
    screenshot(browser_page, f"hub-login-{lang}")
    axe(browser_page, f"hub-login-{lang}")


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("path", ["/dashboard", "/audit", "/dead-letters"])
def test_each_signed_in_page_passes_axe(hub: FilledHub, browser_page: Page, path: str, lang: str) -> None:
    # What each page must show is data, not interface text, so the check holds in every language.
    shows = {"/dashboard": QUEUED_TEXT, "/audit": hub.published, "/dead-letters": ERROR_MESSAGE}[path]
    sign_in(browser_page, hub.url)
    browser_page.goto(f"{hub.url}{path}?lang={lang}")
    assert_language(browser_page, lang)
    expect(browser_page.locator("main")).to_contain_text(shows)
    name = f"hub{path.replace('/', '-')}-{lang}"
    screenshot(browser_page, name)
    axe(browser_page, name)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_posts_deliveries_view_passes_axe(hub: FilledHub, browser_page: Page, lang: str) -> None:
    """The drill-down of a post's deliveries (by region, agency and page), opened on one agency."""
    sign_in(browser_page, hub.url)
    browser_page.goto(f"{hub.url}/dashboard/posts/{hub.published}?lang={lang}")
    expect(browser_page.locator("main")).to_contain_text(hub.published)
    link = browser_page.locator("main details a").first
    link.click()
    expect(browser_page).to_have_url(re.compile(r"\?agency="))
    expect(browser_page.locator('main td [data-status="published"]').first).to_be_visible()
    assert_language(browser_page, lang)  # the language cookie holds on the agency's link
    screenshot(browser_page, f"hub-post-deliveries-{lang}")
    axe(browser_page, f"hub-post-deliveries-{lang}")


def test_a_moderator_signs_in_with_the_keyboard_alone(hub: FilledHub, browser_page: Page) -> None:
    page = browser_page
    page.goto(f"{hub.url}/dashboard")
    expect(page).to_have_url(f"{hub.url}/login")
    type_into(page, page.get_by_role("textbox", name=USERNAME), MODERATOR)
    type_into(page, page.get_by_role("textbox", name=PASSWORD_FIELD), PASSWORD)
    activate(page, page.get_by_role("button", name=SIGN_IN))
    expect(page).to_have_url(f"{hub.url}/dashboard")
    expect(page.locator("header")).to_contain_text(MODERATOR)
    screenshot(page, "hub-keyboard-signed-in")
