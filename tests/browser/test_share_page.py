"""The "Share a story" page in a real browser (issue #16 item 2): a real agency node (real HTTP on
127.0.0.1, its SQLite file), offline as a node may be.

The policy, written by hand: in French, Arabic (right to left) and English the page has no serious or
critical WCAG 2.1 AA violation (axe-core), with its live preview shown too; the preview shows each
connected network's text with the story's link tagged for that network (utm_source=<network>); on
X, sharing the suggested text as it is is refused at once, said next to the text; a text in her own
words is taken (« Partage reçu par le nœud »).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from aiohttp import web
from playwright.sync_api import Page, expect

from services.intake.app import create_app
from services.intake.settings import Settings
from services.intake.store import open_store
from services.intake.stories import store_offer
from shared.accounts import create_user
from shared.i18n import words
from shared.tokens import load_or_create_private_key
from tests.browser.axe import axe
from tests.browser.test_inbox_pages import PASSWORD, SLOW, sign_in
from tests.harness import free_port
from tests.intake.test_shares_node import OWN_WORDS, enrol, offer

AGENCY = "lyon-part-dieu"
LANGUAGES = {"fr": "ltr", "ar": "rtl", "en": "ltr"}


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An offline node serving on loopback from a thread of its own; its URL."""
    root = tmp_path_factory.mktemp("share-node")
    key_file = root / "keys" / "hub.pem"
    load_or_create_private_key(key_file)
    settings = Settings(
        agency=AGENCY,
        nats_url=f"nats://127.0.0.1:{free_port()}",  # nobody listens: the node is offline
        data_dir=root,
        public_key_file=key_file.with_name("hub.pub.pem"),
        host="127.0.0.1",
        port=0,
        log_format="console",
    )
    db = open_store(settings.database)  # filled before the node serves, as its followers would
    create_user(db, "claire", "advisor", None, PASSWORD, agency=AGENCY)
    store_offer(db, offer(), 1)
    enrol(db, "claire", {"x": "connected", "mastodon": "connected"})
    db.close()
    port = free_port()
    ready, loop_box = threading.Event(), []
    app = create_app(settings)

    def serve() -> None:
        loop = asyncio.new_event_loop()
        loop_box.append(loop)
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(30)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop_box[0].call_soon_threadsafe(loop_box[0].stop)
        thread.join(30)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_share_page_passes_axe_and_previews_the_tagged_links(
    node: str, browser_page: Page, lang: str
) -> None:
    page, language = browser_page, words(lang)
    sign_in(page, node, lang)
    page.goto(f"{node}/share?lang={lang}")
    expect(page.locator("html")).to_have_attribute("dir", LANGUAGES[lang])
    expect(page.get_by_role("heading", name=language.gettext("Share a story"), level=1)).to_be_visible()
    text = page.get_by_role("textbox", name=language.gettext("Your text"), exact=True)
    text.fill(OWN_WORDS)
    cards = page.locator("#share-previews .card")
    expect(cards).to_have_count(2, timeout=SLOW)
    for network in ("x", "mastodon"):
        expect(page.locator("#share-previews")).to_contain_text(f"utm_source={network}&utm_medium=advocacy")
    axe(page, f"node-share-{lang}")
    if lang == "fr":
        text.fill(
            page.evaluate("JSON.parse(document.getElementById('share-data').textContent).texts['s-salon']")
        )
        page.get_by_role("button", name=language.gettext("Share"), exact=True).click()
        expect(page.locator("#text-error")).to_contain_text("presque identique", timeout=SLOW)
        axe(page, "node-share-refused")
        text.fill(OWN_WORDS)
        page.get_by_role("button", name=language.gettext("Share"), exact=True).click()
        expect(page.locator("#share-message")).to_have_text(
            language.gettext("Share received by the node: it leaves when the link allows."), timeout=SLOW
        )
