"""The "Share a story" page at the agency's node (issue #16 item 2), against a real node in process (real
HTTP on loopback, real SQLite), offline.

The policy, written by hand: a signed-in advocate sees the stories offered to her agency now, those
of required topics first, each a choice with a label; the first one's suggested text in her
language is prefilled (French where the story has none in hers); the networks offered are her
connected ones only; every control has its label; French, Arabic (right to left) and English; the
script comes from the node. Someone who is not an advocate, or has no connected account, is told so
instead of the form. Without a session: to the sign-in page.
"""

from __future__ import annotations

import json

import msgspec
import pytest
import sqlite_utils

from services.intake.keys import DATABASE
from services.intake.stories import store_offer
from shared.accounts import create_user
from tests.accessible_page import AccessiblePage as Page
from tests.intake.conftest import AGENCY, Client, NodeFactory
from tests.intake.test_composer_page import PASSWORD, sign_in
from tests.intake.test_shares_node import SUGGESTED, enrol, offer

ARABIC = "يفتح معرض التوظيف يوم الخميس في ليون."
# The page's words, as written for it (French and English), never read from the catalogs.
NAMES = {
    "fr": {
        "title": "Partager une actualité",
        "text": "Votre texte",
        "share": "Partager",
        "now": "Partager maintenant",
    },
    "en": {"title": "Share a story", "text": "Your text", "share": "Share", "now": "Share now"},
}


@pytest.fixture
async def node(make_node: NodeFactory) -> Client:
    client = await make_node()
    db: sqlite_utils.Database = client.app[DATABASE]
    create_user(db, "claire", "advisor", None, PASSWORD, agency=AGENCY)
    optional = msgspec.structs.replace(
        offer("s-2-optional"), required=False, texts={"fr": "Optionnel.", "ar": ARABIC}
    )
    store_offer(db, optional, 1)
    store_offer(db, offer("s-1-required"), 2)
    store_offer(db, offer("s-0-expired", days=-1), 3)
    return client


async def page_of(client: Client, lang: str = "fr") -> Page:
    response = await client.get(f"/share?lang={lang}", allow_redirects=False)
    assert response.status == 200, await response.text()
    return Page(await response.text())


@pytest.mark.parametrize("lang", ["fr", "en", "ar"])
async def test_an_advocate_sees_her_stories_and_networks(node: Client, lang: str) -> None:
    enrol(
        node.app[DATABASE], "claire", {"x": "connected", "mastodon": "connected", "bluesky": "needs_reauth"}
    )
    await sign_in(node)
    page = await page_of(node, lang)
    assert page.html["lang"] == lang and page.html["dir"] == ("rtl" if lang == "ar" else "ltr")
    stories = [
        (control_id, attrs.get("value"))
        for control_id, (tag, attrs) in page.controls.items()
        if attrs.get("name") == "story"
    ]
    assert [value for _, value in stories] == [
        "s-1-required",
        "s-2-optional",
    ]  # required first; never the expired
    assert all(control_id in page.labels for control_id, _ in stories)
    networks = sorted(
        attrs.get("value") or "" for _, (_, attrs) in page.controls.items() if attrs.get("name") == "networks"
    )
    assert networks == ["mastodon", "x"]  # her connected accounts only
    for control_id in page.controls:
        assert control_id in page.labels, control_id  # every control is named
    data = json.loads(page.json_blocks["share-data"])
    expected = ARABIC if lang == "ar" else "Optionnel."
    assert data["texts"] == {"s-1-required": SUGGESTED, "s-2-optional": expected}
    if lang in NAMES:
        names = NAMES[lang]
        assert page.labels["text"] == names["text"] and names["share"] in page.buttons
        assert page.labels["when-now"] == names["now"]
    assert "/static/share.js" in page.urls


async def test_the_first_story_s_text_is_prefilled(node: Client) -> None:
    enrol(node.app[DATABASE], "claire", {"x": "connected"})
    await sign_in(node)
    response = await node.get("/share")
    assert SUGGESTED.replace("'", "&#39;") in await response.text()


@pytest.mark.parametrize(
    ("networks", "enrolled", "said"),
    [
        ({}, False, "Seuls les ambassadeurs partagent des actualités"),
        ({"x": "needs_reauth"}, True, "Aucun de vos comptes n’est connecté"),
    ],
)
async def test_who_cannot_share_is_told_why(
    node: Client, networks: dict[str, str], enrolled: bool, said: str
) -> None:
    if enrolled:
        enrol(node.app[DATABASE], "claire", networks)
    await sign_in(node)
    page = await page_of(node)
    assert not any(attrs.get("name") == "story" for _, attrs in page.controls.values())
    assert said in (await (await node.get("/share")).text())


async def test_without_a_session_the_page_asks_to_sign_in(node: Client) -> None:
    response = await node.get("/share", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (303, "/login")


async def test_the_script_is_served_by_the_node(node: Client) -> None:
    response = await node.get("/static/share.js")
    assert response.status == 200 and "/v1/shares/preview" in await response.text()
