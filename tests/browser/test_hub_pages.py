"""The hub's pages in Chromium, in French, Arabic and English, on a whole running system: the
sign-in page and the signed-in dashboard, audit, dead-letter, inbox, inbox figures and advocacy
figures pages pass axe-core's WCAG 2.1 AA rules (0 serious or critical) with the right `lang` and
`dir`, a moderator signs in and filters the inbox with the keyboard alone, and no page asks for
anything beyond 127.0.0.1 (the `browser_context` fixture fails any test whose pages do).
Screenshots: tests/artifacts/hub-*.png."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from services.hub.store import open_store
from tests.browser.artifacts import screenshot
from tests.browser.axe import axe
from tests.browser.hub_system import (
    ERROR_MESSAGE,
    INBOX_TEXTS,
    MODERATOR,
    QUEUED_TEXT,
    FilledHub,
    sign_in,
    start_filled_hub,
)
from tests.browser.keyboard import activate, tab_to, type_into
from tests.hub.advocacy_report_data import fill_november as fill_advocacy
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
    expect(browser_page.locator("main table").last).to_contain_text("–")  # its figures: no views
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


@pytest.mark.parametrize("lang", ["fr", "ar"])
@pytest.mark.parametrize("which", ["list", "conversation"])
def test_the_inbox_passes_axe(hub: FilledHub, browser_page: Page, which: str, lang: str) -> None:
    """The list (a table with its caption and header cells) and one conversation, with the notice
    that prompts the agent to go on in a private message."""
    sign_in(browser_page, hub.url)
    path = "/inbox" if which == "list" else f"/inbox/{hub.conversation}"
    browser_page.goto(f"{hub.url}{path}?lang={lang}")
    assert_language(browser_page, lang)
    if which == "list":
        expect(browser_page.locator("main table caption")).to_be_visible()
        expect(browser_page.locator("main tbody tr")).to_have_count(len(INBOX_TEXTS))
        expect(browser_page.locator("main")).to_contain_text(INBOX_TEXTS[1])
        expect(browser_page.locator('main [data-clock="late"]')).to_have_count(1)  # asked a week ago
    else:
        expect(browser_page.locator("main")).to_contain_text(INBOX_TEXTS[0].split(" Mon")[0])
        expect(browser_page.locator("main .private-notice")).to_be_visible()
    name = f"hub-inbox-{which}-{lang}"
    screenshot(browser_page, name)
    axe(browser_page, name)


def test_the_inbox_is_filtered_with_the_keyboard_alone(hub: FilledHub, browser_page: Page) -> None:
    page = browser_page
    sign_in(page, hub.url)
    page.goto(f"{hub.url}/inbox")
    tab_to(page, page.get_by_label("Statut"))
    page.keyboard.press("ArrowDown")  # « Nouveau »
    page.keyboard.press("ArrowDown")  # « En attente »: no advisor has taken either question
    activate(page, page.get_by_role("button", name="Filtrer"))
    expect(page).to_have_url(re.compile(r"[?&]status=pending"))
    expect(page.locator("main")).to_contain_text("Aucune conversation ne correspond à ces filtres.")
    activate(page, page.get_by_role("link", name=re.compile(r"^Boîte de réception$")))
    expect(page.locator("main tbody tr")).to_have_count(len(INBOX_TEXTS))


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_the_inbox_figures_pass_axe(hub: FilledHub, browser_page: Page, lang: str) -> None:
    """The month's figures: the month's labelled control, the charts (images named in words) and the
    tables of their numbers (caption, header cells), the CSV's link, and the engagement read back."""
    sign_in(browser_page, hub.url)
    browser_page.goto(f"{hub.url}/reports?lang={lang}")
    assert_language(browser_page, lang)
    # The inbox's two charts, then the engagement's: likes, shares, replies (Mastodon gives no views).
    expect(browser_page.locator('main svg[role="img"]')).to_have_count(5)
    expect(browser_page.locator("#h-engagement ~ table caption")).to_have_count(2)
    expect(browser_page.locator('main a[href^="/reports/inbox.csv?month="]')).to_be_visible()
    expect(browser_page.locator("main table caption").first).to_be_visible()
    name = f"hub-reports-{lang}"
    screenshot(browser_page, name)
    axe(browser_page, name)


@pytest.fixture(scope="module")
def advocacy_month(hub: FilledHub) -> str:
    """November 2026's advocacy (tests/hub/advocacy_report_data.py) in the running hub's hub.db."""
    db = open_store(hub.relais.data_dir / "hub.db")
    try:
        fill_advocacy(db, heard_from=False)
    finally:
        db.close()
    return "2026-11"


@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_the_advocacy_figures_pass_axe(
    hub: FilledHub, advocacy_month: str, browser_page: Page, lang: str
) -> None:
    """The month's advocacy figures: the labelled month, the coverage per agency, the charts per topic
    and per network (images named in words) with the tables of their numbers, the CSV's link."""
    sign_in(browser_page, hub.url)
    browser_page.goto(f"{hub.url}/reports/advocacy?month={advocacy_month}&lang={lang}")
    assert_language(browser_page, lang)
    expect(browser_page.locator('main svg[role="img"]')).to_have_count(2)
    expect(browser_page.locator("main table caption")).to_have_count(5)
    expect(browser_page.locator("main")).to_contain_text("s-salon-lyon")
    expect(browser_page.locator('main a[href^="/reports/advocacy.csv?month="]')).to_be_visible()
    expect(browser_page.locator('nav a[href="/reports/advocacy"][aria-current="page"]')).to_be_visible()
    name = f"hub-advocacy-report-{lang}"
    screenshot(browser_page, name)
    axe(browser_page, name)
