"""The inbox pages at the agency node (issue #15 item 4), against a real node in process (real HTTP on
loopback, real SQLite file), its inbox filled by the follower's own code.

The policy, written by hand:
- only a signed-in advisor of the node's agency reads them; without a session, `/inbox` and a
  conversation send to the sign-in form (303 /login);
- the node holds only its agency's conversations: another agency's id (even one whose item reached
  this node's file by mistake of a subject) is a 404 page, like one that does not exist;
- a citizen's text is shown masked (the identifier named, never its value) and escaped; the
  private-channel notice appears only when something was masked;
- the reply form posts to the replies API; without the session's CSRF token a reply (and an
  assignment) is refused 403 `csrf` and nothing is stored;
- a Hide button is offered on a comment only on a network whose registry entry can hide comments;
- `/?reply_to=<conversation>` leads to the conversation's reply form; the composer links to the inbox.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec
import pytest

from services.intake.keys import DATABASE
from services.intake.saved_replies import store_saved_reply
from services.intake.store import unrelayed_posts
from shared.accounts import create_user
from shared.i18n import SAVED_REPLY_VARIABLES
from shared.networks import NETWORKS
from shared.saved_replies import VARIABLES, SavedReplyRecord
from shared.schemas import InboxItemReceived, conversation_key
from tests.accessible_page import AccessiblePage as Page
from tests.intake.conftest import AGENCY, Client, NodeFactory
from tests.intake.inbox_bus import RENNES, item
from tests.intake.test_composer_page import PASSWORD, sign_in
from tests.intake.test_inbox_replies import deliver

PHONE = "06 12 34 56 78"


@pytest.fixture
async def node(make_node: NodeFactory) -> Client:
    client = await make_node()
    db = client.app[DATABASE]
    create_user(db, "claire", "advisor", None, PASSWORD, agency=AGENCY)
    create_user(db, "malik", "advisor", None, PASSWORD, agency=AGENCY)
    create_user(db, "yann", "advisor", None, PASSWORD, agency=RENNES)
    record = SavedReplyRecord(
        id="rdv-prive",
        language="fr",
        title="Passer en privé",
        body="Bonjour {auteur}, écrivez-nous ({lien}).",
        version=1,
    )
    assert store_saved_reply(db, record)
    return client


@pytest.fixture
def question(node: Client) -> InboxItemReceived:
    first = item(AGENCY, text=f"Rappelez-moi au {PHONE} <script>alert(1)</script>")
    deliver(node.app[DATABASE], first)
    return first


async def page(client: Client, path: str, status: int = 200) -> Page:
    response = await client.get(path, allow_redirects=False)
    assert response.status == status, await response.text()
    return Page(await response.text())


async def test_without_a_session_the_pages_send_to_sign_in(node: Client, question: InboxItemReceived) -> None:
    for path in ("/inbox", f"/inbox/{question.conversation}"):
        response = await node.get(path, allow_redirects=False)
        assert (response.status, response.headers.get("Location")) == (303, "/login"), path


async def test_the_list_shows_the_agencys_conversations_and_filters_them(
    node: Client, question: InboxItemReceived
) -> None:
    await sign_in(node)
    shown = await page(node, "/inbox")
    [table] = shown.tables
    assert len(table.rows) == 2  # the header row and the one conversation
    assert "Nouveau" in " ".join(table.texts()[1]) or "nouveau" in " ".join(table.texts()[1]).lower()
    assert f"/inbox/{question.conversation.replace(':', '%3A')}" in shown.urls
    assert not (await page(node, "/inbox?status=resolved")).tables
    assert not (await page(node, "/inbox?mine=1")).tables  # nobody holds it yet
    assigned = await node.post(
        f"/v1/inbox/{question.conversation}/assign", json={"assignee": "claire"}, headers=await csrf(node)
    )
    assert assigned.status == 200, await assigned.text()
    assert len((await page(node, "/inbox?mine=1")).tables) == 1


async def csrf(client: Client) -> dict[str, str]:
    text = await (await client.get("/")).text()
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', text)
    assert found, text
    return {"X-CSRF-Token": found.group(1)}


async def test_a_conversation_is_shown_masked_escaped_with_the_private_channel_notice(
    node: Client, question: InboxItemReceived
) -> None:
    await sign_in(node)
    response = await node.get(f"/inbox/{question.conversation}")
    text = await response.text()
    assert response.status == 200, text
    assert PHONE not in text and "<script>alert" not in text
    assert "numéro de téléphone" in text
    assert "Des données personnelles ont été masquées" in text or "message privé" in text
    shown = Page(text)
    assert shown.labels["reply-text"] == "Texte"
    assert "Envoyer la réponse" in shown.buttons
    data = json.loads(shown.json_blocks["inbox-data"])
    assert data["network"] == "mastodon" and data["defaults"]["auteur"] == "Samira B."
    assert [s["id"] for s in data["saved"]] == ["rdv-prive"]
    assert set(shown.controls) >= {"assignee", "saved-reply", "reply-text"}


async def test_no_private_channel_notice_without_masked_data(node: Client) -> None:
    plain = item(AGENCY, text="Le forum est-il ouvert samedi ?")
    deliver(node.app[DATABASE], plain)
    await sign_in(node)
    text = await (await node.get(f"/inbox/{plain.conversation}")).text()
    assert 'id="h-private"' not in text


async def test_another_agencys_conversation_is_a_404_like_a_missing_one(
    node: Client, question: InboxItemReceived
) -> None:
    elsewhere = item(RENNES, text="Bonjour Rennes")
    deliver(node.app[DATABASE], elsewhere, subject_agency=RENNES)  # the follower refuses it: not ours
    await sign_in(node)
    missing = await node.get("/inbox/mastodon:999999", allow_redirects=False)
    foreign = await node.get(f"/inbox/{elsewhere.conversation}", allow_redirects=False)
    assert missing.status == foreign.status == 404
    assert elsewhere.text not in await foreign.text()
    refused = await node.post(
        f"/v1/inbox/{elsewhere.conversation}/replies", json={"text": "Oui."}, headers=await csrf(node)
    )
    assert refused.status == 404
    assert unrelayed_posts(node.app[DATABASE]) == []


async def test_an_advisor_of_another_agency_cannot_sign_in_here(
    node: Client, question: InboxItemReceived
) -> None:
    login = await (await node.get("/login")).text()
    token = re.search(r'name="login_token" value="([^"]+)"', login)
    assert token
    form = {"login_token": token.group(1), "username": "yann", "password": PASSWORD}
    await node.post("/login", data=form, allow_redirects=False)
    response = await node.get(f"/inbox/{question.conversation}", allow_redirects=False)
    assert (response.status, response.headers.get("Location")) == (303, "/login")


@pytest.mark.parametrize("headers", [{}, {"X-CSRF-Token": "not-the-sessions"}])
async def test_a_reply_or_an_assignment_without_the_csrf_token_is_refused(
    node: Client, question: InboxItemReceived, headers: dict[str, str]
) -> None:
    await sign_in(node)
    base = f"/v1/inbox/{question.conversation}"
    for path, body in (
        (f"{base}/replies", {"text": "Oui."}),
        (f"{base}/assign", {"assignee": "claire"}),
    ):
        response = await node.post(path, json=body, headers=headers)
        assert response.status == 403, (path, await response.text())
        assert (await response.json())["error"]["code"] == "csrf"
    assert unrelayed_posts(node.app[DATABASE]) == []
    assert node.app[DATABASE].execute("select assignee from conversations").fetchone()[0] == ""


async def test_the_reply_form_sends_through_the_replies_api_with_the_session(
    node: Client, question: InboxItemReceived
) -> None:
    await sign_in(node)
    shown = await page(node, f"/inbox/{question.conversation}")
    data = json.loads(shown.json_blocks["inbox-data"])
    body = {"saved_reply": "rdv-prive", "values": {"lien": "https://example.org/rdv"}}
    response = await node.post(data["replies"], json=body, headers=await csrf(node))
    assert response.status == 202, await response.text()
    [post] = unrelayed_posts(node.app[DATABASE])
    assert (
        post.author == "claire" and post.text == "Bonjour Samira B., écrivez-nous (https://example.org/rdv)."
    )


async def test_hide_is_offered_only_where_the_network_can_hide_comments(node: Client) -> None:
    await sign_in(node)
    for network in ("mastodon", "instagram"):
        root = f"root-{network}"
        comment = msgspec.structs.replace(
            item(AGENCY),
            network=network,
            page=f"{AGENCY}-{network}",
            conversation=conversation_key(network, root),
            root_id=root,
        )
        deliver(node.app[DATABASE], comment)
        text = await (await node.get(f"/inbox/{comment.conversation}")).text()
        can_hide = "hide_comments" in NETWORKS[network].capabilities
        assert ('class="hide"' in text) is can_hide, network


async def test_the_composer_links_to_the_inbox_and_leads_a_reply_to_its_form(
    node: Client, question: InboxItemReceived
) -> None:
    await sign_in(node)
    composer = await page(node, "/")
    assert "/inbox" in composer.urls
    response = await node.get(f"/?reply_to={question.conversation}", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == f"/inbox/{question.conversation.replace(':', '%3A')}#reply"


@pytest.mark.parametrize(("lang", "direction", "heading"), [("ar", "rtl", "صندوق"), ("en", "ltr", "Inbox")])
async def test_the_pages_speak_arabic_right_to_left_and_english(
    node: Client, question: InboxItemReceived, lang: str, direction: str, heading: str
) -> None:
    await sign_in(node)
    for path in (f"/inbox?lang={lang}", f"/inbox/{question.conversation}?lang={lang}"):
        shown = await page(node, path)
        assert (shown.html.get("lang"), shown.html.get("dir")) == (lang, direction), path
    listing: Any = await (await node.get(f"/inbox?lang={lang}")).text()
    assert heading in listing


def test_every_saved_reply_variable_has_its_label_in_the_catalogs() -> None:
    assert SAVED_REPLY_VARIABLES == tuple(VARIABLES)
