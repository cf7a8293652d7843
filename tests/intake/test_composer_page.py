"""The composer page at the agency node (issue #14, items 2 and 3), against a real node in process
(real HTTP on loopback, real SQLite): a signed-in advisor gets every control with its exact
accessible name, in French whatever the browser says, in Arabic right to left when chosen (and
remembered); the page, its script and its style load nothing from another host; the static files
are public and carry the page's Content-Security-Policy.

Expected names are the issue's, written down here by hand, never read from the catalogs.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
import pytest

from services.intake.keys import DATABASE
from services.intake.store import upsert_page
from shared.accounts import create_user
from shared.i18n.extract import extracted
from shared.schemas import PageRecord
from tests.accessible_page import AccessiblePage as Page
from tests.hub.test_languages import FRENCH_STATUSES  # the issue's words, written once
from tests.intake.agency_pages import add_agency_pages
from tests.intake.conftest import AGENCY, Client, NodeFactory

PASSWORD = "correct horse battery staple"
LANG_COOKIE = "relais_lang"
# Issue #14 item 2: each network's checkbox is named by the network's name, the same in every language.
NETWORK_NAMES = {
    "x": "X",
    "mastodon": "Mastodon",
    "bluesky": "Bluesky",
    "linkedin": "LinkedIn",
    "facebook": "Facebook",
    "instagram": "Instagram",
    "threads": "Threads",
    "telegram": "Telegram",
    "youtube": "YouTube",
    "slideshare": "SlideShare",
}
# The other controls' names, as the issue fixes them in French, and their English words.
FRENCH_NAMES = {
    "text": "Texte",
    "alt": "Texte alternatif",
    "publish": "Publier",
    "publish_later": "Publier plus tard",
    "save_draft": "Enregistrer le brouillon",
}
ENGLISH_NAMES = {
    "text": "Text",
    "alt": "Alt text",
    "publish": "Publish",
    "publish_later": "Publish later",
    "save_draft": "Save draft",
}
# Issue #14 item 2: statuses in plain French words.
HOSTILE_NAME = "Lyon </script><script>alert(1)</script> & <b>Part-Dieu</b>"


@pytest.fixture
async def node(make_node: NodeFactory) -> Client:
    """A node whose agency has a page on every network, and an advisor account of its own."""
    client = await make_node()
    db = client.app[DATABASE]
    add_agency_pages(db, AGENCY, NETWORK_NAMES)
    create_user(db, "claire", "advisor", None, PASSWORD, agency=AGENCY)
    return client


async def sign_in(client: Client, username: str = "claire") -> None:
    page = await (await client.get("/login")).text()
    token = re.search(r'name="login_token" value="([^"]+)"', page)
    assert token, page
    form = {"login_token": token.group(1), "username": username, "password": PASSWORD}
    response = await client.post("/login", data=form, allow_redirects=False)
    assert response.status == 303, await response.text()


async def composer(client: Client, path: str = "/", **kwargs: Any) -> tuple[Any, Page]:
    response = await client.get(path, allow_redirects=False, **kwargs)
    assert response.status == 200, await response.text()
    return response, Page(await response.text())


def strings(page: Page) -> dict[str, Any]:
    return dict(json.loads(page.json_blocks["composer-strings"]))


async def test_the_composer_asks_to_sign_in_first(node: Client) -> None:
    response = await node.get("/", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (303, "/login")
    # A token is no session: the composer is a person's page (its script calls the API with the session).
    token = await node.get("/", allow_redirects=False, headers={"Cookie": "relais_agency_session=forged"})
    assert token.status == 303


@pytest.mark.parametrize("lang", ["fr", "ar", "en"])
async def test_every_network_is_a_checkbox_named_by_its_name_alone_in_every_language(
    node: Client, lang: str
) -> None:
    await sign_in(node)
    _, page = await composer(node, f"/?lang={lang}")
    for network, name in NETWORK_NAMES.items():
        assert page.named(name, "input", "checkbox") == [f"network-{network}"], (lang, name)
    # Pages are labelled by their page, never by a bare network name (a test finding « X » finds one box).
    page_boxes = [i for i, (_, a) in page.controls.items() if a.get("name") == "pages"]
    assert len(page_boxes) == len(NETWORK_NAMES)
    for box in page_boxes:
        label = page.labels[box]
        assert label not in NETWORK_NAMES.values() and "@lyon-part-dieu-" in label, label


async def test_french_controls_have_the_issues_exact_names_whatever_the_browser_says(node: Client) -> None:
    await sign_in(node)
    response, page = await composer(node, headers={"Accept-Language": "ar, en;q=0.9"})
    assert (page.html.get("lang"), page.html.get("dir")) == ("fr", "ltr")
    assert LANG_COOKIE not in response.cookies  # nothing was chosen: nothing to remember
    assert page.named(FRENCH_NAMES["text"], "textarea") == ["text"]
    # The alt-text field is in the row each attached file gets (a template the script copies).
    assert page.named(FRENCH_NAMES["alt"], "textarea") == ["alt-template"]
    for button in ("publish", "publish_later", "save_draft"):
        assert page.buttons.count(FRENCH_NAMES[button]) == 1, (button, page.buttons)
    assert "Se déconnecter" in page.buttons
    # Shown (by the script) once a network that takes them is ticked: YouTube, SlideShare.
    assert page.named("Titre (pour les réseaux qui en affichent un)", "input") == ["post-title"]
    keywords = "Mots-clés, séparés par des virgules (pour les réseaux qui en prennent)"
    assert page.named(keywords, "input") == ["post-tags"]


async def test_english_controls_have_their_english_names(node: Client) -> None:
    await sign_in(node)
    _, page = await composer(node, "/?lang=en")
    assert page.named(ENGLISH_NAMES["text"], "textarea") == ["text"]
    assert page.named(ENGLISH_NAMES["alt"], "textarea") == ["alt-template"]
    for button in ("publish", "publish_later", "save_draft"):
        assert page.buttons.count(ENGLISH_NAMES[button]) == 1, (button, page.buttons)


async def test_arabic_is_right_to_left_translated_and_remembered_in_the_cookie(node: Client) -> None:
    await sign_in(node)
    response, page = await composer(node, "/?lang=ar")
    assert (page.html.get("lang"), page.html.get("dir")) == ("ar", "rtl")
    cookie = response.cookies[LANG_COOKIE]
    assert cookie.value == "ar" and cookie["httponly"] and cookie["path"] == "/"
    # Every control is named, and in Arabic: none of the French or English names is left.
    text_name = page.labels["text"]
    assert text_name and text_name not in (FRENCH_NAMES["text"], ENGLISH_NAMES["text"])
    for name in (*FRENCH_NAMES.values(), *ENGLISH_NAMES.values()):
        assert name not in page.buttons and name not in page.labels.values(), name
    # The next page, without `?lang=`, is in Arabic from the cookie (the test client keeps it).
    _, again = await composer(node)
    assert (again.html.get("lang"), again.html.get("dir")) == ("ar", "rtl")
    _, back = await composer(node, "/?lang=fr")
    assert back.html.get("dir") == "ltr"
    # Chosen on the sign-in page, the language holds after signing in (the same middleware).
    node.session.cookie_jar.clear()
    login = await node.get("/login?lang=ar")
    assert login.cookies[LANG_COOKIE].value == "ar" and 'dir="rtl"' in await login.text()
    await sign_in(node)
    _, signed_in = await composer(node)
    assert signed_in.html.get("dir") == "rtl"


@pytest.mark.parametrize("hostile", ["de", "AR", "ar-MA", "../ar", "fr;ar", ""])
async def test_any_other_language_choice_is_french_and_is_not_remembered(node: Client, hostile: str) -> None:
    await sign_in(node)
    response, page = await composer(node, "/", params={"lang": hostile})
    assert page.html.get("lang") == "fr"
    assert LANG_COOKIE not in response.cookies


@pytest.mark.parametrize("lang", ["fr", "ar", "en"])
async def test_every_control_has_a_label_and_every_description_exists(node: Client, lang: str) -> None:
    await sign_in(node)
    _, page = await composer(node, f"/?lang={lang}")
    unlabelled = [i for i in page.controls if not page.labels.get(i)]
    assert unlabelled == []
    assert all(page.buttons), page.buttons  # no button without a name (the script names « Retirer … »)
    described = {
        ref
        for _, attributes in page.controls.values()
        for ref in (attributes.get("aria-describedby") or "").split()
    }
    assert described - set(page.ids) == set()
    assert len(page.ids) == len(set(page.ids)), "duplicate ids break label[for] and aria-describedby"
    # One polite live region: counters and statuses are announced there, never assertively.
    assert [(r.get("aria-live"), r.get("id")) for r in page.live] == [("polite", "live")]


async def test_the_scripts_words_are_the_issues_french_words(node: Client) -> None:
    await sign_in(node)
    response, page = await composer(node)
    # The node's link is down here: the page says so from the start (the script keeps it current).
    banner = re.search(r'<p id="link-banner"[^>]*role="status"([^>]*)>([^<]*)<', await response.text())
    assert banner and "hidden" not in banner.group(1) and banner.group(2).startswith("En attente du hub")
    words = strings(page)
    assert {key: words["statuses"][key] for key in FRENCH_STATUSES} == FRENCH_STATUSES
    assert words["parts"]["2"] == "2 parties"  # X's card on a two-part thread
    assert words["fits"] == "Tient en un message"
    # The page's data: the networks in the registry's order, the pages' time zone in words.
    data = json.loads(page.json_blocks["composer-data"])
    assert [n["name"] for n in data["networks"]] == list(NETWORK_NAMES.values())
    assert {p["zone_words"] for p in data["pages"]} == {"heure de Paris"}
    assert data["advisor"] == "claire" and data["link_up"] is False


async def test_the_page_draws_itself_from_what_get_v1_composer_answers(node: Client) -> None:
    """One description of the networks and pages: the page's and the API's, link down or not."""
    await sign_in(node)
    response, page = await composer(node)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', await response.text())
    assert csrf
    api = await node.get("/v1/composer", headers={"X-CSRF-Token": csrf.group(1)})
    assert api.status == 200, await api.text()
    answer = await api.json()
    data = json.loads(page.json_blocks["composer-data"])
    assert data["networks"] == answer["networks"]
    assert [{k: v for k, v in p.items() if k != "zone_words"} for p in data["pages"]] == answer["pages"]
    assert data["link_up"] == answer["link_up"] is False
    # Each network's media rules are said on its card (Bluesky's images cap, Instagram's need of media).
    assert "4 images au plus par publication." in await response.text()
    assert "Une publication y demande un fichier joint." in await response.text()


async def test_a_two_part_thread_on_x_is_told_in_french(node: Client) -> None:
    """The preview the page draws from says two parts for X and one message for Bluesky on the
    same text; the page's words for them are « 2 parties » and « Tient en un message »."""
    await sign_in(node)
    _, page = await composer(node)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', await (await node.get("/")).text())
    assert csrf
    # 290 characters: over X's 280 (weighted), within Bluesky's 300 graphemes.
    text = ("Forum de l’emploi jeudi à Lyon Part-Dieu, venez nombreux ! " * 5)[:282] + " #emploi"
    assert len(text) == 290
    body = {"text": text, "networks": ["x", "bluesky"]}
    response = await node.post("/v1/preview", json=body, headers={"X-CSRF-Token": csrf.group(1)})
    assert response.status == 200, await response.text()
    x, bluesky = (await response.json())["variants"]
    words = strings(page)
    assert (len(x["parts"]), x["policy"]) == (2, "thread") and words["parts"]["2"] == "2 parties"
    assert bluesky["fits"] and words["fits"] == "Tient en un message"


async def test_page_names_cannot_break_out_of_the_pages_data(node: Client) -> None:
    db = node.app[DATABASE]
    record = PageRecord(
        page=f"{AGENCY}-extra",
        network="mastodon",
        handle="@extra",
        agency=AGENCY,
        region="ara",
        department="69",
        timezone="Europe/Paris",
        credentials_ref="ref/extra",
        agency_name=HOSTILE_NAME,
    )
    upsert_page(db, record, msgspec.json.encode(record))
    await sign_in(node)
    response, page = await composer(node)
    text = await response.text()
    assert "<script>alert(1)" not in text and "<b>Part-Dieu" not in text
    data = json.loads(page.json_blocks["composer-data"])
    assert f"{HOSTILE_NAME} · Mastodon" in [p["name"] for p in data["pages"]]  # kept as data, shown as text


async def test_nothing_is_loaded_from_another_host(node: Client) -> None:
    await sign_in(node)
    for lang in ("fr", "ar"):
        response, page = await composer(node, f"/?lang={lang}")
        # Links, scripts, styles and forms point at this node only (a path, a query, a fragment).
        assert [u for u in page.urls if not re.match(r"(/(?!/)|\?|#)", u)] == []
        assert "Content-Security-Policy" in response.headers
    for path in ("/static/composer.js", "/static/composer.css"):
        response = await node.get(path)
        assert response.status == 200, path
        body = await response.text()
        assert re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}", body) == [], path
        assert "@import" not in body and "url(" not in body.replace("url(#", ""), path


async def test_the_script_and_style_are_public_with_the_pages_policy(node: Client) -> None:
    """No session needed (they hold no data), the node's CSP and nosniff on them, revalidated."""
    _, page = await composer_signed_in(node)
    for path, kind in (("/static/composer.js", "javascript"), ("/static/composer.css", "text/css")):
        assert path in page.urls
        response = await node.get(path, allow_redirects=False, headers={"Cookie": ""})
        assert response.status == 200, path
        assert kind in response.headers["Content-Type"]
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'; script-src 'self'")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-cache"
        again = await node.get(path, headers={"If-Modified-Since": response.headers["Last-Modified"]})
        assert again.status == 304 and "Content-Security-Policy" in again.headers
    # Only the static folder: nothing beside it is served.
    for path in ("/static/../composer_page.py", "/static/%2e%2e/app.py", "/static/", "/static/nope.js"):
        response = await node.get(path, allow_redirects=False)
        assert response.status in (403, 404), path


async def composer_signed_in(node: Client) -> tuple[Any, Page]:
    await sign_in(node)
    return await composer(node)


def test_the_composers_words_are_extracted_for_the_catalogs() -> None:
    """The catalogs' test (tests/hub/test_languages.py) checks every extracted message in the
    three languages: the composer's template and the words its script receives are among them."""
    wanted = set(extracted())
    assert {
        (None, "Publish"),
        (None, "Save draft"),
        (None, "Alt text"),
        (None, "Fits in one message"),
    } <= wanted
    assert {("problem", "too_long"), ("unit", "weighted"), ("policy", "thread"), ("kind", "video")} <= wanted


async def test_a_node_without_its_pages_yet_says_so_and_offers_no_network(make_node: NodeFactory) -> None:
    """A new node, before the hub sent its pages: the composer still opens, and says why it is empty."""
    client = await make_node()
    client.app[DATABASE].execute("delete from pages")
    create_user(client.app[DATABASE], "claire", "advisor", None, PASSWORD, agency=AGENCY)
    await sign_in(client)
    response, page = await composer(client)
    assert [i for i in page.controls if i.startswith("network-")] == []
    assert "elles viennent du hub" in await response.text()
    assert page.named(FRENCH_NAMES["text"], "textarea") == ["text"]


async def test_the_style_mirrors_itself_in_arabic(node: Client) -> None:
    """Right to left holds because the stylesheet says start/end, never left/right/top/bottom: a
    physical property would stay put when Arabic turns the page around."""
    css = await (await node.get("/static/composer.css")).text()
    physical = re.findall(
        r"(?:(?:margin|padding|border)-(?:left|right|top|bottom)"
        r"|(?<![-\w])(?:left|right|top|bottom|width|height)\s*:"
        r"|(?:text-align|float|clear)\s*:\s*(?:left|right))",
        css,
    )
    assert physical == []


async def test_the_script_never_turns_text_into_markup_or_code(node: Client) -> None:
    """Post texts, reasons, page names and the networks' answers reach the page as text only: the
    script builds elements and sets `textContent`, never HTML from a string, and evaluates nothing."""
    script = await (await node.get("/static/composer.js")).text()
    sinks = re.findall(
        r"\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\s*\(|new Function"
        r"|setTimeout\s*\(\s*[\"'`])",
        script,
    )
    assert sinks == []
