"""The advocate's page at the node (issue #16 item 2), against a real node in process (real HTTP on
loopback, real SQLite file), offline.

The policy, written by hand:
- only a signed-in advisor of the node's agency reads it; without a session, to the sign-in form;
- before she opts in: the consent's wording in the page's language and one opt-in button; the page
  is French by default, Arabic right to left, English; what the page shows is what the node records;
- once she opted in: when, the version and the language of her consent, her pseudonym, a table of
  her four accounts (caption, header cells), Connect for X, LinkedIn and Mastodon (with the instance
  field), the Bluesky form (an app password field the browser neither shows nor remembers, with a
  sentence on what an app password is, tied to it), and the opt-out button;
- without the session's CSRF token, opting in is refused (403 `csrf`) and nothing is recorded;
- the composer's and the inbox's navigation link to the page.
"""

from __future__ import annotations

import re

import pytest

from services.intake.advocates import SHOWN_STATUSES
from services.intake.keys import DATABASE
from shared.accounts import create_user
from shared.i18n import ADVOCACY_STATUSES, words
from tests.accessible_page import AccessiblePage as Page
from tests.intake.conftest import AGENCY, Client, NodeFactory
from tests.intake.test_composer_page import PASSWORD, sign_in

# The page's words, as the translators wrote them (shared/i18n catalogs).
WORDS = {
    "fr": {"title": "Partager les actualités du service", "opt_in": "J’accepte et je m’inscris"},
    "ar": {"title": "مشاركة أخبار المرفق", "opt_in": "أوافق وأشترك"},
    "en": {"title": "Share the service's stories", "opt_in": "I agree and opt in"},
}
WORDING_STARTS = {
    "fr": "J’accepte de partager les actualités du service",
    "ar": "أوافق على مشاركة أخبار المرفق",
    "en": "I agree to share the service's stories",
}


@pytest.fixture
async def node(make_node: NodeFactory) -> Client:
    client = await make_node()
    create_user(client.app[DATABASE], "claire", "advisor", None, PASSWORD, agency=AGENCY)
    return client


async def page(client: Client, path: str) -> tuple[str, Page]:
    response = await client.get(path, allow_redirects=False)
    text = await response.text()
    assert response.status == 200, text
    return text, Page(text)


def csrf_of(text: str) -> dict[str, str]:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', text)
    assert found, text
    return {"X-CSRF-Token": found.group(1)}


async def test_without_a_session_the_page_sends_to_sign_in(node: Client) -> None:
    response = await node.get("/advocacy", allow_redirects=False)
    assert (response.status, response.headers.get("Location")) == (303, "/login")


@pytest.mark.parametrize(("lang", "direction"), [("fr", "ltr"), ("ar", "rtl"), ("en", "ltr")])
async def test_the_page_shows_the_wording_it_records_in_each_language(
    node: Client, lang: str, direction: str
) -> None:
    await sign_in(node)
    text, shown = await page(node, f"/advocacy?lang={lang}")
    assert (shown.html.get("lang"), shown.html.get("dir")) == (lang, direction)
    assert WORDS[lang]["title"] in text and WORDS[lang]["opt_in"] in shown.buttons
    wording = re.search(r'<p id="consent-text" class="consent">([^<]+)</p>', text)
    assert wording and wording.group(1).startswith(WORDING_STARTS[lang].replace("'", "&#39;"))

    response = await node.post(
        "/v1/advocacy/consent", json={"language": lang, "accepted": True}, headers=csrf_of(text)
    )
    assert response.status == 201, await response.text()
    stored = node.app[DATABASE].execute("select consent_text from advocates").fetchone()[0]
    assert stored.replace("'", "&#39;") == wording.group(1)  # what the page showed, exactly

    text, shown = await page(node, f"/advocacy?lang={lang}")
    advocate = node.app[DATABASE].execute("select advocate from advocates").fetchone()[0]
    assert advocate in text and "2026-12" in text
    [table] = shown.tables
    assert [row[0] for row in table.texts()] == [table.texts()[0][0], "X", "LinkedIn", "Mastodon", "Bluesky"]
    assert all(cell.scope == "col" for cell in table.rows[0]) and table.caption
    password = shown.inputs["bluesky-password"]
    assert (password["type"], password["autocomplete"]) == ("password", "off")
    assert password["aria-describedby"] == "bluesky-help" and "bluesky-help" in shown.ids
    assert {"bluesky-identifier", "bluesky-password", "mastodon-instance"} <= set(shown.labels)
    assert "opt-out" in shown.ids


async def test_opting_in_without_the_csrf_token_is_refused_and_records_nothing(node: Client) -> None:
    await sign_in(node)
    response = await node.post("/v1/advocacy/consent", json={"language": "fr", "accepted": True})
    assert response.status == 403 and (await response.json())["error"]["code"] == "csrf"
    assert node.app[DATABASE].execute("select count(*) from advocates").fetchone()[0] == 0


async def test_the_composer_and_the_inbox_link_to_the_page(node: Client) -> None:
    await sign_in(node)
    for path in ("/", "/inbox"):
        _, shown = await page(node, path)
        assert "/advocacy" in shown.urls, path


async def test_each_account_offers_what_its_state_allows(node: Client) -> None:
    """Connect again after a refusal or an expiry; disconnect what holds credentials (or is asked)."""
    await sign_in(node)
    text, _ = await page(node, "/advocacy?lang=en")
    response = await node.post(
        "/v1/advocacy/consent", json={"language": "en", "accepted": True}, headers=csrf_of(text)
    )
    assert response.status == 201
    db = node.app[DATABASE]
    advocate = db.execute("select advocate from advocates").fetchone()[0]
    states = {"x": "needs_reauth", "linkedin": "refused", "mastodon": "connected", "bluesky": "connecting"}
    for network, status in states.items():
        db.execute(
            "insert into advocate_accounts (advocate, network, status, handle, updated_at)"
            " values (?, ?, ?, 'h', '2026-12-05T10:00:00.000Z')",
            [advocate, network, status],
        )
    db.conn.commit()
    _, shown = await page(node, "/advocacy?lang=en")
    offered = {button for button in shown.buttons if button.startswith(("Connect ", "Disconnect "))}
    assert offered == {
        "Disconnect X",
        "Connect X",
        "Connect LinkedIn",
        "Disconnect Mastodon",
        "Disconnect Bluesky",
        "Connect Bluesky",  # the app password form's own button, always there
    }


def test_every_state_an_account_shows_has_its_words() -> None:
    assert SHOWN_STATUSES == ADVOCACY_STATUSES  # the node's states, and the page's words for them
    for lang in ("fr", "ar", "en"):
        shown = {words(lang).pgettext("advocacy_status", key) for key in SHOWN_STATUSES}
        assert len(shown) == len(SHOWN_STATUSES) and not shown & set(SHOWN_STATUSES), lang
