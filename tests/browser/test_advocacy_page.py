"""The advocate's page at the node in a real browser (issue #16 item 2): a real agency node (real HTTP
on 127.0.0.1, its SQLite file), offline as a node may be (tests/browser/test_inbox_pages.py's node).

The policy, written by hand: in French, Arabic (right to left) and English, the page has no serious or
critical WCAG 2.1 AA violation (axe-core) before and after the advisor opts in; the opt-in button
records her consent and the page then shows her pseudonym, her accounts and the Bluesky form, whose app
password field the browser neither shows nor remembers; opting out brings the consent's wording back.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from shared.i18n import words
from tests.browser.axe import axe
from tests.browser.test_inbox_pages import LANGUAGES, SLOW, node, sign_in

__all__ = ["node"]  # the inbox pages' offline node, one per module


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_advocacy_page_passes_axe_and_records_the_consent(
    node: tuple[str, str], browser_page: Page, lang: str
) -> None:
    url, _ = node
    page, language = browser_page, words(lang)
    sign_in(page, url, lang)
    page.get_by_role("link", name=language.gettext("Advocate: consent and accounts")).first.click()
    expect(page).to_have_url(re.compile(r"/advocacy$"))
    page.goto(f"{url}/advocacy?lang={lang}")
    expect(page.locator("html")).to_have_attribute("dir", LANGUAGES[lang])
    expect(
        page.get_by_role("heading", name=language.gettext("Share the service's stories"), level=1)
    ).to_be_visible()
    axe(page, f"node-advocacy-{lang}")

    page.get_by_role("button", name=language.gettext("I agree and opt in")).click()
    expect(page.get_by_text(re.compile(r"adv-[a-z2-7]{20}"))).to_be_visible(timeout=SLOW)
    password = page.get_by_label(language.gettext("App password"), exact=True)
    expect(password).to_have_attribute("type", "password")
    expect(password).to_have_attribute("autocomplete", "off")
    axe(page, f"node-advocacy-opted-in-{lang}")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=language.gettext("Opt out")).click()
    expect(page.get_by_role("button", name=language.gettext("I agree and opt in"))).to_be_visible(
        timeout=SLOW
    )
