"""The composer of an agency node in Chromium, on a whole running system (`relais run`: hub,
formatter, dispatcher, sandbox networks), as issue 14's "Done when" tells it: an advisor signs in,
writes a French post with a link and a hashtag that X threads in 2 parts while Bluesky takes it
whole, attaches an image with its alt text, publishes to X and Bluesky and reads « Publiée » with
each delivery's link; the same in Arabic, right to left; the hub link cut (`relais ctl stop nats`)
and the advisor still signs in and publishes, reads « En attente du hub », then « Publiée » once it
is back; a regional moderator rejects a post at the hub (and edits another) and the advisor reads
the reason (and the edit); markup in a post shown as text, never run; a draft kept at the node,
resumed and deleted; the whole flow with the keyboard alone; axe-core on every screen in fr, ar
and en. The `browser_context` fixture (and the moderator's guarded context) fails any test whose
pages ask for anything beyond 127.0.0.1.

Expected words are issue 14's, written here by hand in French (the default language); in Arabic and
English a control is found by the catalog's translation of the same key (`named`), the networks'
names being the same in every language. Screenshots: tests/artifacts/composer-*.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from shared.i18n import words
from tests.browser.agency_system import (
    ADVISOR,
    GRENOBLE,
    LYON,
    REGIONAL_MODERATOR,
    REVIEWED_ADVISOR,
    AgencySystem,
    named,
    sign_in,
    start_agency_system,
)
from tests.browser.artifacts import screenshot
from tests.browser.axe import axe
from tests.browser.conftest import guarded_context
from tests.browser.keyboard import activate, tab_to, toggle, type_into, type_moment
from tests.harness import http
from tests.hub.dashboard_client import PASSWORD
from tests.images import png

LANGUAGES = {"fr": "ltr", "ar": "rtl", "en": "ltr"}
SLOW = 15_000  # ms: one answer of the node (a sign-in's argon2, a preview) on a busy machine
LIVE = 40_000  # ms: node → hub → formatter → dispatcher → sandbox and back, on a busy 2-core machine
X_URL_WEIGHT = 23  # X counts every link as 23 characters (t.co); Bluesky counts the link as written
LYON_PAGES = ("ft_lyon_partdieu", "ft-lyon-partdieu")  # its X and Bluesky pages (the demo registry's)
LYON_PAGE_COUNT = 5  # X, Mastodon, Bluesky, LinkedIn, Facebook
ALT_TEXT = "Affiche du job dating : un cariste devant des rayonnages"
REASON = "Précisez le type de contrat (CDI, CDD…) et le salaire <avant publication>"


def job_dating(ref: str) -> str:
    """A French offer with a link and a hashtag, long enough for X to thread it (more than 280 with
    its link counted 23) while it fits Bluesky's 300 graphemes. `ref` (4 letters) makes each flow's
    post its own from the first words on: X refuses a thread whose first part it already has."""
    assert len(ref) == 4
    text = (
        f"Job dating {ref} jeudi 14 mars à France Travail Lyon Part-Dieu : préparateurs de "
        "commandes, caristes et chefs d'équipe, en CDI ou CDD, débutants bienvenus. Apportez votre CV : "
        "les recruteurs vous reçoivent de 9 h à 12 h, sans rendez-vous, au 2e étage. "
        f"Infos : https://ft.fr/jd-{ref} #emploi"
    )
    assert x_length(text) > 280 and len(text) <= 300, "the text must stay in between"
    return text


def x_length(text: str) -> int:
    """X's weighted length of a job_dating text: its one link counts 23, the rest (Latin letters,
    French accents) 1 each. Bluesky's is its graphemes, here `len(text)`: one code point each."""
    [link] = re.findall(r"https://\S+", text)
    return len(text) - len(link) + X_URL_WEIGHT


@pytest.fixture(scope="module")
def agency(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgencySystem]:
    system = start_agency_system(tmp_path_factory.mktemp("composer"))
    try:
        yield system
    finally:
        system.run.stop()


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "affiche-job-dating.png"
    path.write_bytes(png(64, 48))
    return path


# What the composer shows, found by what people perceive: accessible names and visible words.
def text_field(page: Page, lang: str = "fr") -> Locator:
    return page.get_by_role("textbox", name=named("Texte", lang), exact=True)


def alt_field(page: Page, lang: str = "fr") -> Locator:
    return page.get_by_role("textbox", name=named("Texte alternatif", lang), exact=True)


def network(page: Page, name: str) -> Locator:
    """A network's checkbox: its name (« X », « Bluesky »), the same in every language."""
    return page.get_by_role("checkbox", name=name, exact=True)


def page_of(page: Page, handle: str) -> Locator:
    """The checkbox of the agency's page with this handle: labelled by the page (its name and
    handle), never by a network's bare name."""
    return page.get_by_role("checkbox", name=re.compile(re.escape(f"@{handle}")))


def every_page(page: Page, lang: str = "fr") -> Locator:
    """« Toutes les pages de l’agence… », ticked at first: all its pages (5 at Lyon) on the chosen
    networks at once."""
    name = words(lang).ngettext(
        "All the agency's pages on the chosen networks (%(num)d page)",
        "All the agency's pages on the chosen networks (%(num)d pages)",
        LYON_PAGE_COUNT,
    ) % {"num": LYON_PAGE_COUNT}
    return page.get_by_role("checkbox", name=name, exact=True)


def button(page: Page, french: str, lang: str = "fr") -> Locator:
    return page.get_by_role("button", name=named(french, lang), exact=True)


def card(page: Page, name: str) -> Locator:
    """The preview card of the network named `name` (an article titled with the network's name)."""
    return page.get_by_role("article", name=name, exact=True)


def file_input(page: Page) -> Locator:
    return page.locator("input[type=file]")


def my_post(page: Page, text: str) -> Locator:
    """The entry of « Mes publications » that shows `text` (its beginning: a list may cut it)."""
    return page.locator("#post-list > li").filter(has_text=text[:60])


def assert_language(page: Page, lang: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator("html")).to_have_attribute("dir", LANGUAGES[lang])


def assert_layout_follows(page: Page, lang: str) -> None:
    """The writing column comes first in the reading direction (left in French, right in Arabic),
    the previews after it, and nothing runs off the page sideways."""
    writing, previews = text_field(page, lang).bounding_box(), card(page, "X").bounding_box()
    assert writing and previews
    first = writing["x"] < previews["x"] if LANGUAGES[lang] == "ltr" else writing["x"] > previews["x"]
    assert first, (lang, writing, previews)
    sideways = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert sideways <= 0, f"{lang}: the page is {sideways} px wider than the window"


def compose(
    page: Page, text: str, networks: list[str], lang: str = "fr", pages: tuple[str, ...] = ()
) -> None:
    """Write `text` and tick the networks; with `pages`, choose the pages one by one instead of the
    agency's selector and tick those with these handles (they may come ticked: `check` leaves them)."""
    text_field(page, lang).fill(text)
    for name in networks:
        network(page, name).check()
    if pages:
        every_page(page, lang).uncheck()
    for handle in pages:
        page_of(page, handle).check()


def attach(page: Page, image: Path, lang: str = "fr") -> None:
    file_input(page).set_input_files(image)
    alt_field(page, lang).fill(ALT_TEXT)


def two_parts(lang: str) -> str:
    return words(lang).ngettext("%(num)d part", "%(num)d parts", 2) % {"num": 2}


def assert_delivery_links(post: Locator) -> None:
    """One link per delivery, to the published post on its network (as the networks' own sites
    address them; the sandbox gives the same shapes)."""
    expect(post.locator('a[href^="https://x.com/"]')).to_have_count(1)
    expect(post.locator('a[href^="https://bsky.app/profile/"]')).to_have_count(1)


def alts(posts: list[dict[str, Any]]) -> list[str]:
    """The alt text of every image the network received with these posts."""
    return [medium["alt"] for post in posts for medium in post["media"]]


def sandbox_posts(agency: AgencySystem, network_id: str, ref: str) -> list[dict[str, Any]]:
    status, body = http("GET", f"{agency.sandbox}/_sandbox/posts?network={network_id}")
    assert status == 200, body
    mine = (f"Job dating {ref} ", f"jd-{ref}")  # the first part of a thread, and the last
    return [p for p in body["posts"] if any(marker in str(p["text"]) for marker in mine)]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_nodes_sign_in_page_passes_axe(agency: AgencySystem, browser_page: Page, lang: str) -> None:
    browser_page.goto(f"{agency.node()}/login?lang={lang}")
    assert_language(browser_page, lang)
    for field in ("Identifiant", "Mot de passe"):
        expect(browser_page.get_by_label(named(field, lang), exact=True)).to_be_visible()
    expect(button(browser_page, "Se connecter", lang)).to_be_visible()
    screenshot(browser_page, f"composer-login-{lang}")
    axe(browser_page, f"composer-login-{lang}")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_composer_passes_axe_empty_with_previews_and_with_its_posts(
    agency: AgencySystem, browser_page: Page, image: Path, lang: str
) -> None:
    page = browser_page
    listed = f"Atelier CV mardi 10 h à l'agence ({lang}) #emploi"
    agency.run.post(listed)  # hers (RelaisRun's token is claire's): « Mes publications » lists it
    sign_in(page, agency.node(), ADVISOR, lang)
    assert_language(page, lang)
    expect(text_field(page, lang)).to_be_visible()
    axe(page, f"composer-empty-{lang}")
    compose(page, job_dating(f"ax{lang}"), ["X", "Bluesky", "Mastodon"], lang)
    attach(page, image, lang)
    expect(card(page, "X")).to_contain_text(two_parts(lang), timeout=SLOW)
    axe(page, f"composer-previews-{lang}")
    expect(my_post(page, listed)).to_be_visible(timeout=LIVE)
    axe(page, f"composer-posts-{lang}")


def test_an_advisor_publishes_a_thread_on_x_and_one_post_on_bluesky_and_reads_the_links(
    agency: AgencySystem, browser_page: Page, image: Path
) -> None:
    page = browser_page
    text = job_dating("fr01")
    sign_in(page, agency.node(LYON), ADVISOR)
    assert_language(page, "fr")
    compose(page, text, ["X", "Bluesky"], pages=LYON_PAGES)  # its pages one by one
    # Each counter in the network's own measure, against its limit (X weighs, Bluesky counts).
    expect(card(page, "X")).to_contain_text(f"{x_length(text)} / 280", timeout=SLOW)
    expect(card(page, "Bluesky")).to_contain_text(f"{len(text)} / 300")
    expect(card(page, "X")).to_contain_text("2 parties")
    expect(card(page, "X")).to_contain_text("1/2")
    assert_layout_follows(page, "fr")
    expect(card(page, "X")).to_contain_text("2/2")
    expect(card(page, "Bluesky")).to_contain_text("Tient en un message")
    expect(card(page, "Bluesky")).not_to_contain_text("1/2")
    attach(page, image)
    screenshot(page, "composer-fr-previews")
    button(page, "Publier").click()
    post = my_post(page, text)
    expect(post).to_contain_text("Publiée", timeout=LIVE)
    assert_delivery_links(post)
    screenshot(page, "composer-fr-published")
    # What the networks received: X a thread of 2 posts, Bluesky one, each with the image and its alt.
    x_posts = sandbox_posts(agency, "x", "fr01")
    assert len(x_posts) == 2 and x_posts[1]["reply_to"] == x_posts[0]["remote_id"], x_posts
    assert alts(x_posts) == [ALT_TEXT]
    [bluesky] = sandbox_posts(agency, "bluesky", "fr01")
    assert bluesky["text"] == text and alts([bluesky]) == [ALT_TEXT]
    for elsewhere in ("mastodon", "linkedin", "facebook"):  # the agency's other pages: not chosen
        assert sandbox_posts(agency, elsewhere, "fr01") == [], elsewhere


def test_the_same_flow_in_arabic_right_to_left(agency: AgencySystem, browser_page: Page, image: Path) -> None:
    page = browser_page
    text = job_dating("ar01")
    sign_in(page, agency.node(LYON), ADVISOR, "ar")
    assert_language(page, "ar")
    compose(page, text, ["X", "Bluesky"], "ar")  # the networks keep their names; the agency's selector
    expect(card(page, "X")).to_contain_text(two_parts("ar"), timeout=SLOW)
    assert_layout_follows(page, "ar")
    expect(card(page, "Bluesky")).to_contain_text(named("Tient en un message", "ar"))
    attach(page, image, "ar")
    screenshot(page, "composer-ar-previews")
    button(page, "Publier", "ar").dblclick()  # one composed post: one post, however many clicks
    post = my_post(page, text)
    expect(post).to_contain_text(words("ar").status("published"), timeout=LIVE)
    assert_delivery_links(post)
    assert_language(page, "ar")
    screenshot(page, "composer-ar-published")
    axe(page, "composer-ar-published")
    expect(post).to_have_count(1)
    assert len(sandbox_posts(agency, "x", "ar01")) == 2 and len(sandbox_posts(agency, "bluesky", "ar01")) == 1


def test_a_regional_moderator_rejects_one_post_edits_another_and_the_advisor_reads_both(
    agency: AgencySystem, browser_page: Page, chromium: Browser
) -> None:
    page = browser_page
    rejected = "Forum de l'alternance samedi à Grenoble Europole : 40 entreprises recrutent #alternance"
    written = "Atelier numerique jeudi a Grenoble Europole : creer son espace candidat #emploi"
    edited = "Atelier numérique jeudi à Grenoble Europole : créer son espace candidat #emploi"
    sign_in(page, agency.node(GRENOBLE), REVIEWED_ADVISOR)
    for text in (rejected, written):
        compose(page, text, ["Mastodon"])
        button(page, "Publier").click()
        expect(my_post(page, text)).to_contain_text("En attente de validation", timeout=LIVE)

    # The moderator of Auvergne-Rhône-Alpes, at the hub, in a browser of her own.
    with guarded_context(chromium) as (context, guard):
        hub = context.new_page()
        hub.goto(f"{agency.hub}/login")
        hub.get_by_label("Identifiant", exact=True).fill(REGIONAL_MODERATOR)
        hub.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
        hub.get_by_role("button", name="Se connecter", exact=True).click()
        expect(hub).to_have_url(f"{agency.hub}/dashboard", timeout=SLOW)
        row = hub.locator("#s-queue tr").filter(has_text=rejected[:60])
        expect(row).to_have_count(1, timeout=LIVE)
        row.get_by_label("Motif").fill(REASON)
        row.get_by_role("button", name="Refuser").click()
        expect(hub.locator("#notice")).to_have_text("Refusée : le conseiller lira votre motif.")
        row = hub.locator("#s-queue tr").filter(has_text=written[:60])
        row.get_by_text("Modifier avant de valider").click()
        row.get_by_label("Texte").fill(edited)
        row.get_by_role("button", name="Valider").click()
        expect(row).to_have_count(0, timeout=LIVE)
    guard.check()

    post = my_post(page, rejected)
    expect(post).to_contain_text("Refusée", timeout=LIVE)
    expect(post).to_contain_text(REASON)  # as she wrote it, escaped: no markup made of it
    post = my_post(page, edited)
    expect(post).to_contain_text("Publiée", timeout=LIVE)
    expect(post).to_contain_text(f"Modifiée par un modérateur. Vous aviez écrit : {written}")
    screenshot(page, "composer-fr-rejected")
    axe(page, "composer-fr-rejected")
    status, body = http("GET", f"{agency.sandbox}/_sandbox/posts?network=mastodon")
    assert status == 200, body
    sent = [p["text"] for p in body["posts"] if "Grenoble Europole" in p["text"]]
    assert sent == [edited], sent  # the moderator's words only; nothing of the rejected post


def test_markup_written_by_an_advisor_is_shown_as_text_everywhere_and_never_run(
    agency: AgencySystem, browser_page: Page, tmp_path: Path
) -> None:
    """Text, file name and alt text carrying markup: shown as written in the previews (links,
    hashtags and mentions highlighted around it), the media list and « Mes publications »; no
    script runs and nothing is fetched from the host the markup names (the guard fails the test)."""
    page = browser_page
    trap = 'onerror="window.pwned=1"'
    text = (
        f'Offre <img src="http://127.0.0.2:9/t.png" {trap}> <b>cariste</b> @conseil '
        "https://ft.fr/offre?a=1&b=<i>2</i> #emploi"
    )
    hostile = tmp_path / f"<img src=x {trap}>.png"
    hostile.write_bytes(png(8, 8))
    sign_in(page, agency.node(LYON), ADVISOR)
    compose(page, text, ["Mastodon", "Bluesky"])
    expect(card(page, "Bluesky")).to_contain_text("<b>cariste</b>", timeout=SLOW)
    expect(card(page, "Mastodon")).to_contain_text(trap)  # (its link shown as Mastodon shows it)
    file_input(page).set_input_files(hostile)
    expect(page.locator("#compose")).to_contain_text(hostile.name)
    alt_field(page).fill("<script>window.pwned=1</script>")
    button(page, "Publier").click()
    post = my_post(page, text)
    expect(post).to_contain_text("Publiée", timeout=LIVE)
    expect(post).to_contain_text("<b>cariste</b>")
    assert page.evaluate("() => window.pwned") is None
    expect(page.locator("main b, main i, main script:not([type])")).to_have_count(0)
    expect(page.locator("main img")).to_have_count(0)  # none came from the text, the file name or alt


def test_a_draft_is_kept_at_the_node_resumed_and_deleted(agency: AgencySystem, browser_page: Page) -> None:
    page = browser_page
    text = "Brouillon : atelier « réussir son entretien » le 15 mars, à compléter #emploi"
    sign_in(page, agency.node(LYON), ADVISOR)
    compose(page, text, ["Mastodon"])
    page.locator("input[type=datetime-local]").fill("2030-03-15T10:30")
    button(page, "Enregistrer le brouillon").click()
    expect(page.get_by_role("status").filter(has_text="Brouillon enregistré.")).to_be_visible(timeout=SLOW)
    page.reload()  # a new document: what is listed now comes from the node
    draft = page.locator("#draft-list > li").filter(has_text=text)
    expect(draft).to_have_count(1, timeout=SLOW)
    expect(text_field(page)).to_have_value("")
    draft.get_by_role("button", name="Reprendre", exact=True).click()
    expect(text_field(page)).to_have_value(text)
    expect(network(page, "Mastodon")).to_be_checked()
    expect(network(page, "X")).not_to_be_checked()
    expect(page.locator("input[type=datetime-local]")).to_have_value("2030-03-15T10:30")  # Paris time
    draft.get_by_role("button", name="Supprimer", exact=True).click()
    expect(draft).to_have_count(0)
    page.reload()
    expect(page.locator("#draft-list")).to_contain_text("Aucun brouillon.")


def test_the_whole_flow_with_the_keyboard_alone(
    agency: AgencySystem, browser_page: Page, image: Path
) -> None:
    """Tab, typing, Space on a checkbox and Enter only; the file chooser, which is the system's own
    dialog, is answered with Playwright's set_input_files on the input that has the focus."""
    page = browser_page
    text = job_dating("kb01")
    page.goto(f"{agency.node(LYON)}/")
    expect(page).to_have_url(f"{agency.node(LYON)}/login")
    type_into(page, page.get_by_role("textbox", name="Identifiant", exact=True), ADVISOR)
    type_into(page, page.get_by_role("textbox", name="Mot de passe", exact=True), PASSWORD)
    activate(page, button(page, "Se connecter"))
    expect(page).to_have_url(f"{agency.node(LYON)}/", timeout=SLOW)

    type_into(page, text_field(page), text)
    tab_to(page, file_input(page))
    file_input(page).set_input_files(image)  # the focused input: what the chooser would fill
    type_into(page, alt_field(page), ALT_TEXT)
    for name in ("X", "Bluesky"):
        toggle(page, network(page, name))
        expect(network(page, name)).to_be_checked()
    expect(card(page, "X")).to_contain_text("2 parties", timeout=SLOW)
    schedule = page.locator("input[type=datetime-local]")
    type_moment(page, schedule, datetime(2030, 3, 15, 10, 30))
    expect(schedule).to_have_value("2030-03-15T10:30")
    expect(schedule).to_have_accessible_description(re.compile("heure de Paris"))  # the pages' zone
    activate(page, button(page, "Publier plus tard"))
    post = my_post(page, text)
    expect(post).to_contain_text("Programmée", timeout=LIVE)
    screenshot(page, "composer-fr-keyboard-scheduled")
    # 10:30 in Paris on 15 March 2030 (winter time, UTC+1) is 09:30 UTC: what the node was sent.
    status, body = http("GET", f"{agency.node(LYON)}/v1/posts?author=me", token=agency.run.token())
    assert status == 200, body
    [mine] = [p for p in body["posts"] if p["text"] == text]
    assert datetime.fromisoformat(mine["schedule_at"]) == datetime(2030, 3, 15, 9, 30, tzinfo=UTC)
    assert mine["networks"] == ["x", "bluesky"]


def test_with_the_hub_link_cut_the_advisor_signs_in_publishes_and_it_goes_once_the_link_is_back(
    agency: AgencySystem, browser_page: Page
) -> None:
    page = browser_page
    text = job_dating("ct01")
    with agency.hub_link_cut():
        sign_in(page, agency.node(LYON), ADVISOR)
        # The banner says so from the start (a status word saying it too comes later, not first).
        banner = page.get_by_role("status").filter(has_text=re.compile(r"^\s*en attente du hub", re.I))
        expect(banner).to_be_visible(timeout=LIVE)
        compose(page, text, ["X", "Bluesky"])
        # Computed at the node, link or not.
        expect(card(page, "X")).to_contain_text("2 parties", timeout=SLOW)
        button(page, "Publier").click()
        post = my_post(page, text)
        expect(post).to_contain_text("En attente du hub", timeout=LIVE)
        screenshot(page, "composer-fr-waiting-for-hub")
        axe(page, "composer-fr-waiting-for-hub")
        assert sandbox_posts(agency, "x", "ct01") == []  # kept at the node, not lost, not sent
    expect(post).to_contain_text("Publiée", timeout=LIVE)
    expect(banner).to_be_hidden(timeout=SLOW)
    assert_delivery_links(post)
    screenshot(page, "composer-fr-published-after-the-cut")
    assert len(sandbox_posts(agency, "x", "ct01")) == 2
    assert len(sandbox_posts(agency, "bluesky", "ct01")) == 1
