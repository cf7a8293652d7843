"""Sharing a story at the agency's node (issue #16 item 3): a real node, its real SQLite outbox, offline.

The policy, written by hand: only an advocate whose consent stands shares, only to her connected
networks, only a story offered to the agency now; the stored post names her pseudonym (never the
user id), targets her personal pages only, carries the story's link and `share`; on X a text
near-identical to one of the story's suggested texts is refused at once (422 on `text`), elsewhere it
is taken; the text is checked with each network's rules with the link as that network carries it; a
resend with the same Idempotency-Key stores nothing more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlite_utils

from services.intake.keys import DATABASE
from services.intake.store import unrelayed_posts
from services.intake.stories import store_offer
from shared.advocacy.accounts import ShareOf, new_advocate_id, personal_page
from shared.advocacy.stories import OfferedStory
from shared.schemas import Target
from tests.intake.conftest import AGENCY, Client, auth, stored_posts

SUGGESTED = "Le salon de l'emploi ouvre jeudi à Lyon : venez rencontrer quarante recruteurs ! #AvecPoleEmploi"
OWN_WORDS = (
    "Jeudi, je serai au salon de Lyon avec mes collègues. Passez nous voir, on vous aide ! #AvecPoleEmploi"
)
LINK = "https://www.francetravail.fr/salon?ville=Lyon&utm_source=ancien"


def offer(story_id: str = "s-salon", *, days: int = 7, offered: bool = True) -> OfferedStory:
    return OfferedStory(
        id=story_id,
        topic="salons",
        topic_titles={"fr": "Salons"},
        required=True,
        link=LINK,
        texts={"fr": SUGGESTED},
        hashtag="#AvecPoleEmploi",
        expires_at=(datetime.now(UTC) + timedelta(days=days)).isoformat(),
        offered=offered,
    )


def enrol(db: sqlite_utils.Database, user: str, networks: dict[str, str], *, opted_out: bool = False) -> str:
    """An advocate row as enrolment writes it (services/intake/advocates.py, another part)."""
    advocate = new_advocate_id()
    now = datetime.now(UTC).isoformat()
    db.table("advocates").insert(
        {
            "advocate": advocate,
            "user": user,
            "consented_at": now,
            "consent_version": "2026-12",
            "consent_language": "fr",
            "consent_text": "J'accepte.",
            "opted_out_at": now if opted_out else None,
        }
    )
    for network, status in networks.items():
        db.table("advocate_accounts").insert(
            {"advocate": advocate, "network": network, "status": status, "handle": "", "updated_at": now}
        )
    return advocate


@pytest.fixture
def db(client: Client) -> sqlite_utils.Database:
    database: sqlite_utils.Database = client.app[DATABASE]
    store_offer(database, offer(), 1)
    store_offer(database, offer("s-expired", days=-1), 2)
    return database


async def share(client: Client, token: str, body: dict[str, Any], **headers: str) -> tuple[int, Any]:
    response = await client.post("/v1/shares", json=body, headers={**auth(token), **headers})
    return response.status, await response.json()


async def test_a_share_is_stored_under_the_pseudonym_to_her_personal_pages(
    client: Client, db: sqlite_utils.Database, tokens: dict[str, str]
) -> None:
    advocate = enrol(db, "claire", {"x": "connected", "mastodon": "connected"})
    body = {"story": "s-salon", "networks": ["x", "mastodon"], "text": OWN_WORDS}
    status, answer = await share(client, tokens["advisor"], body)
    assert status == 202, answer
    [post] = unrelayed_posts(db)
    assert post.post_id == answer["id"] and post.agency == AGENCY
    assert post.author == advocate  # never "claire"
    assert post.share == ShareOf(story="s-salon", advocate=advocate)
    assert post.targets == [
        Target("x", personal_page(advocate, "x")),
        Target("mastodon", f"{advocate}-mastodon"),
    ]
    assert post.link == LINK and post.text == OWN_WORDS
    assert post.policy == {"x": "reject", "mastodon": "reject"}  # one post per account, never a thread
    stored = db.execute("select author, share from posts").fetchone()
    assert "claire" not in stored[0] + stored[1]


@pytest.mark.parametrize(
    ("user", "networks", "opted_out", "sent", "expected"),
    [
        ("claire", {}, False, ["x"], (422, "network_not_connected", "networks[0]")),
        ("claire", {"x": "connected"}, True, ["x"], (403, "not_an_advocate", None)),
        ("claire", {"x": "needs_reauth"}, False, ["x"], (422, "network_not_connected", "networks[0]")),
        (
            "claire",
            {"x": "connected"},
            False,
            ["x", "linkedin"],
            (422, "network_not_connected", "networks[1]"),
        ),
        ("claire", {"x": "connected"}, False, ["instagram"], (422, "not_an_advocacy_network", "networks[0]")),
        ("someone-else", {"x": "connected"}, False, ["x"], (403, "not_an_advocate", None)),
    ],
)
async def test_only_an_advocate_shares_and_only_to_her_connected_networks(
    client: Client,
    db: sqlite_utils.Database,
    tokens: dict[str, str],
    user: str,
    networks: dict[str, str],
    opted_out: bool,
    sent: list[str],
    expected: tuple[int, str, str | None],
) -> None:
    enrol(db, user, networks, opted_out=opted_out)
    status, answer = await share(
        client, tokens["advisor"], {"story": "s-salon", "networks": sent, "text": OWN_WORDS}
    )
    assert (status, answer["error"]["code"], answer["error"]["field"]) == expected
    assert stored_posts(client) == 0


@pytest.mark.parametrize("story", ["s-expired", "s-unknown", "s-withdrawn"])
async def test_only_a_story_offered_now_is_shared(
    client: Client, db: sqlite_utils.Database, tokens: dict[str, str], story: str
) -> None:
    store_offer(db, offer("s-withdrawn", offered=False), 3)
    enrol(db, "claire", {"x": "connected"})
    status, answer = await share(
        client, tokens["advisor"], {"story": story, "networks": ["x"], "text": OWN_WORDS}
    )
    assert (status, answer["error"]["code"], answer["error"]["field"]) == (422, "story_not_offered", "story")
    assert stored_posts(client) == 0


@pytest.mark.parametrize(
    "text",
    [
        SUGGESTED,
        SUGGESTED.upper().replace("#AVECPOLEEMPLOI", "#AvecPoleEmploi"),  # case is not a new text
        SUGGESTED + " https://www.francetravail.fr/autre",  # nor an added link
        "Le salon de l'emploi ouvre jeudi à Lyon : venez rencontrer quarante recruteurs !!",  # nor no tag
    ],
)
async def test_x_refuses_at_once_a_text_near_identical_to_a_suggested_one(
    client: Client, db: sqlite_utils.Database, tokens: dict[str, str], text: str
) -> None:
    enrol(db, "claire", {"x": "connected", "linkedin": "connected"})
    status, answer = await share(
        client, tokens["advisor"], {"story": "s-salon", "networks": ["x"], "text": text}
    )
    assert (status, answer["error"]["code"], answer["error"]["field"]) == (422, "near_duplicate_text", "text")
    assert "own words" in answer["error"]["message"]
    status, _ = await share(
        client, tokens["advisor"], {"story": "s-salon", "networks": ["linkedin", "x"], "text": text}
    )
    assert status == 422 and stored_posts(client) == 0
    # The rule is X's: the suggested text goes to LinkedIn as it is.
    status, answer = await share(
        client, tokens["advisor"], {"story": "s-salon", "networks": ["linkedin"], "text": text}
    )
    assert status == 202, answer


async def test_the_text_is_checked_with_the_link_each_network_carries(
    client: Client, db: sqlite_utils.Database, tokens: dict[str, str]
) -> None:
    """X counts every link as 23 characters; Bluesky counts the tagged link in full: a text that fits
    with the bare link but not with its UTM tail is refused naming Bluesky."""
    enrol(db, "claire", {"x": "connected", "bluesky": "connected"})
    tail = len("&utm_source=bluesky&utm_medium=advocacy&utm_campaign=s-salon&utm_content=" + AGENCY)
    room = 300 - len(LINK) - 1  # Bluesky's 300 graphemes, the link after a space
    text = "a " * ((room - tail // 2) // 2)
    status, answer = await share(
        client, tokens["advisor"], {"story": "s-salon", "networks": ["x"], "text": text}
    )
    assert status == 202, answer
    status, answer = await share(
        client, tokens["advisor"], {"story": "s-salon", "networks": ["x", "bluesky"], "text": text}
    )
    assert status == 422 and answer["error"]["message"].startswith("bluesky:"), answer


async def test_a_resend_with_the_same_key_stores_one_share(
    client: Client, db: sqlite_utils.Database, tokens: dict[str, str]
) -> None:
    enrol(db, "claire", {"x": "connected"})
    body = {"story": "s-salon", "networks": ["x"], "text": OWN_WORDS}
    first = await share(client, tokens["advisor"], body, **{"Idempotency-Key": "k-1"})
    again = await share(client, tokens["advisor"], body, **{"Idempotency-Key": "k-1"})
    assert first[0] == again[0] == 202 and first[1]["id"] == again[1]["id"]
    other = await share(
        client, tokens["advisor"], {**body, "text": OWN_WORDS + " !"}, **{"Idempotency-Key": "k-1"}
    )
    assert (other[0], other[1]["error"]["code"]) == (422, "idempotency_key_reused")
    assert stored_posts(client) == 1


async def test_the_preview_shows_each_network_with_its_tagged_link(
    client: Client, db: sqlite_utils.Database, tokens: dict[str, str]
) -> None:
    enrol(db, "claire", {"x": "connected", "mastodon": "connected"})
    body = {
        "story": "s-salon",
        "networks": ["x", "mastodon"],
        "text": "Voyez https://example.org/a?utm_id=1 !",
    }
    response = await client.post("/v1/shares/preview", json=body, headers=auth(tokens["advisor"]))
    assert response.status == 200, await response.text()
    variants = (await response.json())["variants"]
    assert [v["network"] for v in variants] == ["x", "mastodon"]
    for variant in variants:
        shown = " ".join(part["text"] for part in variant["parts"])
        network = variant["network"]
        tags = f"utm_source={network}&utm_medium=advocacy&utm_campaign=s-salon&utm_content={AGENCY}"
        assert f"https://www.francetravail.fr/salon?ville=Lyon&{tags}" in shown
        assert f"https://example.org/a?{tags}" in shown  # the text's own link, old utm_ replaced
    assert stored_posts(client) == 0


async def test_the_preview_warns_on_x_alone_of_a_text_near_a_suggested_one(
    client: Client, db: sqlite_utils.Database, tokens: dict[str, str]
) -> None:
    enrol(db, "claire", {"x": "connected", "linkedin": "connected"})
    body = {"story": "s-salon", "networks": ["x", "linkedin"], "text": SUGGESTED}
    response = await client.post("/v1/shares/preview", json=body, headers=auth(tokens["advisor"]))
    assert response.status == 200, await response.text()
    x, linkedin = (await response.json())["variants"]
    assert [e["code"] for e in x["errors"]] == ["near_duplicate_text"] and x["fits"] is False
    assert linkedin["errors"] == [] and linkedin["fits"] is True
