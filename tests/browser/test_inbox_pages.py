"""The node's inbox pages in a real browser (issue #15 item 4): a real agency node (real HTTP on
127.0.0.1, its SQLite file), offline as a node may be, its inbox filled by the follower's own code.

The policy, written by hand: in French, Arabic (right to left) and English, the list and a
conversation have no serious or critical WCAG 2.1 AA violation (axe-core), the reply form included;
typing a reply shows its live preview on the conversation's network (« Tient en un message »), and a
reply over the network's limit says it cannot be published as it is, before anything is sent.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from playwright.sync_api import Page, expect

from services.intake.app import create_app
from services.intake.saved_replies import store_saved_reply
from services.intake.settings import Settings
from services.intake.store import open_store
from shared.accounts import create_user
from shared.i18n import words
from shared.saved_replies import SavedReplyRecord
from shared.tokens import load_or_create_private_key
from tests.browser.axe import axe
from tests.harness import free_port
from tests.intake.agency_pages import add_agency_pages
from tests.intake.inbox_bus import item
from tests.intake.test_inbox_replies import deliver

AGENCY = "lyon-part-dieu"
PASSWORD = "correct horse battery staple"
LANGUAGES = {"fr": "ltr", "ar": "rtl", "en": "ltr"}
SLOW = 15_000  # ms: a sign-in's argon2 or a preview on a busy machine


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """An offline node serving on loopback from a thread of its own; (its URL, a conversation id)."""
    root = tmp_path_factory.mktemp("inbox-node")
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
    db = open_store(settings.database)  # filled before the node serves, as its follower would
    add_agency_pages(db, AGENCY, ["mastodon"])
    create_user(db, "claire", "advisor", None, PASSWORD, agency=AGENCY)
    record = SavedReplyRecord(
        id="prive",
        language="fr",
        title="Passer en privé",
        body="Bonjour {auteur}, écrivez-nous ({lien}).",
        version=1,
    )
    store_saved_reply(db, record)
    question = item(AGENCY, text="Rappelez-moi au 06 12 34 56 78, le forum est-il ouvert samedi ?")
    deliver(db, question)
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
        yield f"http://127.0.0.1:{port}", question.conversation
    finally:
        loop_box[0].call_soon_threadsafe(loop_box[0].stop)
        thread.join(30)


def sign_in(page: Page, url: str, lang: str) -> None:
    _ = words(lang).gettext
    page.goto(f"{url}/login?lang={lang}")
    page.get_by_label(_("Username"), exact=True).fill("claire")
    page.get_by_label(_("Password"), exact=True).fill(PASSWORD)
    page.get_by_role("button", name=_("Sign in"), exact=True).click()
    page.wait_for_url(f"{url}/", timeout=SLOW)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_inbox_pages_pass_axe_and_the_reply_previews_live(
    node: tuple[str, str], browser_page: Page, lang: str, tmp_path: Path
) -> None:
    url, conversation = node
    page, language = browser_page, words(lang)
    sign_in(page, url, lang)
    page.goto(f"{url}/inbox?lang={lang}")
    expect(page.locator("html")).to_have_attribute("dir", LANGUAGES[lang])
    expect(page.get_by_role("heading", name=language.gettext("Inbox"), level=1)).to_be_visible()
    axe(page, f"node-inbox-{lang}")
    page.get_by_role(
        "link", name=language.ngettext("%(num)d message", "%(num)d messages", 1) % {"num": 1}
    ).click()
    expect(page).to_have_url(f"{url}/inbox/{conversation}")
    text = page.get_by_role("textbox", name=language.gettext("Text"), exact=True)
    expect(text).to_be_visible()
    assert "06 12 34 56 78" not in page.content()
    axe(page, f"node-conversation-{lang}")
    text.fill("Oui, de 9 h à 13 h.")
    card = page.locator("#reply-card")
    expect(card.locator(".fit")).to_have_text(language.gettext("Fits in one message"), timeout=SLOW)
    expect(card.locator(".part")).to_have_text("Oui, de 9 h à 13 h.")
    axe(page, f"node-reply-preview-{lang}")
    if lang == "fr":
        text.fill("x" * 600)  # over Mastodon's 500: refused as it is, before anything is sent
        expect(card.locator(".fit")).to_have_text(
            language.gettext("Cannot be published as it is"), timeout=SLOW
        )
