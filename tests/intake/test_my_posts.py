"""« Mes publications »: `GET /v1/posts?author=me` and what each post says to its advisor (its text,
the moderator's rejection reason or edit, its schedule and networks). In process (real SQLite, real
HTTP, the follower's own `apply_event` for the hub's news), then once on the whole system (a
moderator really edits and rejects at the hub). The policy, by hand: `?author=me` is the caller's
posts only; without it, the agency's posts (colleagues read each other's, unchanged); a moderator's
edit is what `text` shows and the advisor's own words stay in `original_text`, whatever the order
or number of the edits."""

from __future__ import annotations

from typing import Any

import pytest

from services.intake.follower import apply_event
from services.intake.keys import DATABASE
from services.intake.settings import Settings
from shared.accounts import AdvisorAccount, hash_password, open_session, store_advisor
from shared.schemas import PostEdited, PostRejected, encode
from shared.tokens import issue_token, load_or_create_private_key
from tests.harness import RelaisSystem, eventually, http
from tests.intake.conftest import AGENCY, Client, auth

Headers = dict[str, str]
CLAIRE_TEXT = "Atelier CV mardi à 14 h #emploi"
MODERATED_TEXT = "Atelier CV mardi 9 décembre à 14 h #emploi"


def nadia_session(client: Client) -> Headers:
    db = client.app[DATABASE]
    store_advisor(db, AdvisorAccount("nadia", "advisor", AGENCY, hash_password("a long password"), False, 1))
    opened = open_session(db, "nadia")
    return {"Cookie": f"relais_agency_session={opened.cookie}", "X-CSRF-Token": opened.csrf}


async def post(client: Client, headers: Headers, body: dict[str, Any]) -> str:
    response = await client.post("/v1/posts", json=body, headers=headers)
    assert response.status == 202, await response.text()
    return str((await response.json())["id"])


async def listed(client: Client, headers: Headers, query: str = "") -> list[dict[str, Any]]:
    response = await client.get(f"/v1/posts{query}", headers=headers)
    assert response.status == 200, await response.text()
    return list((await response.json())["posts"])


def edit(client: Client, post_id: str, text: str, revision: int) -> None:
    event = PostEdited(
        post_id=post_id,
        agency=AGENCY,
        occurred_at="2026-12-05T09:00:00Z",
        edited_by="moderatrice",
        revision=revision,
        text=text,
        diff="",
    )
    apply_event(client.app[DATABASE], f"decisions.{AGENCY}.{post_id}.edited", encode(event))


async def test_author_me_lists_the_callers_posts_only(
    client: Client, tokens: dict[str, str], settings: Settings
) -> None:
    claire, nadia = auth(tokens["advisor"]), nadia_session(client)
    first = await post(client, claire, {"text": CLAIRE_TEXT, "networks": ["bluesky", "x"]})
    theirs = await post(client, nadia, {"text": "Forum de l'emploi #Lyon", "networks": ["mastodon"]})
    scheduled = {"text": "Job dating", "networks": ["x"], "schedule_at": "2026-12-24T09:00:00Z"}
    second = await post(client, claire, scheduled)

    mine = await listed(client, claire, "?author=me")
    assert [p["id"] for p in mine] == [second, first]  # latest first
    assert [p["id"] for p in await listed(client, nadia, "?author=me")] == [theirs]
    # Without it, the agency's posts: colleagues read each other's (unchanged policy).
    assert [p["id"] for p in await listed(client, nadia)] == [second, theirs, first]
    assert (await client.get(f"/v1/posts/{first}", headers=nadia)).status == 200
    admin = issue_token(
        load_or_create_private_key(settings.data_dir / "keys" / "hub.pem"), role="admin", subject="a"
    )
    assert await listed(client, auth(admin), "?author=me") == []  # an admin's own: none
    assert len(await listed(client, auth(admin))) == 3

    summary = mine[1]
    assert set(summary) == {
        "id",
        "status",
        "created_at",
        "author",
        "text",
        "reason",
        "schedule_at",
        "networks",
        "edited",
    }
    assert (summary["author"], summary["text"], summary["reason"]) == ("claire", CLAIRE_TEXT, None)
    assert summary["networks"] == ["x", "bluesky"]  # distinct, in the registry's order
    assert (summary["schedule_at"], summary["edited"]) == (None, False)
    assert mine[0]["schedule_at"] == "2026-12-24T09:00:00+00:00" and mine[0]["networks"] == ["x"]


@pytest.mark.parametrize("author", ["claire", "", "ME", "me,nadia", "*"])
async def test_author_takes_me_only(client: Client, tokens: dict[str, str], author: str) -> None:
    """Another advisor's name is not a filter the API offers (the agency's list is the way)."""
    response = await client.get("/v1/posts", params={"author": author}, headers=auth(tokens["advisor"]))
    assert response.status == 422
    error = (await response.json())["error"]
    assert (error["code"], error["field"]) == ("invalid_value", "author")


async def test_another_agencys_advisor_lists_nothing_here(client: Client, tokens: dict[str, str]) -> None:
    response = await client.get("/v1/posts?author=me", headers=auth(tokens["other_agency"]))
    assert response.status == 403


async def test_a_moderators_edit_keeps_the_advisors_text(client: Client, tokens: dict[str, str]) -> None:
    claire = auth(tokens["advisor"])
    post_id = await post(client, claire, {"text": CLAIRE_TEXT, "networks": ["x"]})
    shown = await (await client.get(f"/v1/posts/{post_id}", headers=claire)).json()
    assert (shown["text"], shown["original_text"]) == (CLAIRE_TEXT, None)

    edit(client, post_id, MODERATED_TEXT, 1)
    edit(client, post_id, MODERATED_TEXT, 1)  # the same news redelivered
    shown = await (await client.get(f"/v1/posts/{post_id}", headers=claire)).json()
    assert (shown["text"], shown["original_text"]) == (MODERATED_TEXT, CLAIRE_TEXT)
    [summary] = await listed(client, claire, "?author=me")
    assert (summary["text"], summary["edited"]) == (MODERATED_TEXT, True)

    edit(client, post_id, MODERATED_TEXT + " (salle 2)", 2)  # a second edit: still her own words kept
    shown = await (await client.get(f"/v1/posts/{post_id}", headers=claire)).json()
    assert (shown["text"], shown["original_text"]) == (MODERATED_TEXT + " (salle 2)", CLAIRE_TEXT)

    edit(client, post_id, CLAIRE_TEXT, 3)  # edited back to her words: no change shown
    shown = await (await client.get(f"/v1/posts/{post_id}", headers=claire)).json()
    assert (shown["text"], shown["original_text"]) == (CLAIRE_TEXT, None)
    assert (await listed(client, claire, "?author=me"))[0]["edited"] is False


async def test_a_rejection_reason_reaches_the_advisors_list(client: Client, tokens: dict[str, str]) -> None:
    claire = auth(tokens["advisor"])
    post_id = await post(client, claire, {"text": CLAIRE_TEXT, "networks": ["x"]})
    rejected = PostRejected(
        post_id=post_id,
        agency=AGENCY,
        occurred_at="2026-12-05T09:00:00Z",
        rejected_by="moderatrice",
        reason="Précisez la date de l'atelier",
    )
    apply_event(client.app[DATABASE], f"decisions.{AGENCY}.{post_id}.rejected", encode(rejected))
    [summary] = await listed(client, claire, "?author=me")
    assert (summary["status"], summary["reason"]) == ("rejected", "Précisez la date de l'atelier")


def test_a_moderator_edits_one_post_and_rejects_another_and_the_advisor_reads_both(
    relais: RelaisSystem,
) -> None:
    """The whole way: posted at the node, held at the hub, edited or rejected by a moderator there,
    and told back to the node over the bus."""
    status, body = http(
        "PUT",
        f"{relais.hub_url}/v1/policies",
        {"scope": "default", "mode": "moderated"},
        token=relais.token("admin"),
    )
    assert status == 200, body
    node, advisor, moderator = relais.intake_url(), relais.token(), relais.token("moderator")
    ids = []
    for text in (CLAIRE_TEXT, "Offre en double #emploi"):
        status, accepted = relais.post({"text": text, "networks": ["mastodon"]})
        assert status == 202, accepted
        ids.append(accepted["id"])
    edited, rejected = ids

    def decided(post_id: str, decision: str, body: dict[str, str]) -> bool:
        url = f"{relais.hub_url}/v1/moderation/{post_id}/{decision}"
        return http("POST", url, body, token=moderator)[0] == 200

    eventually(lambda: decided(edited, "approve", {"text": MODERATED_TEXT}), timeout=30)
    eventually(lambda: decided(rejected, "reject", {"reason": "Offre déjà publiée"}), timeout=30)

    def mine() -> dict[str, dict[str, Any]] | None:
        status, body = http("GET", f"{node}/v1/posts?author=me", token=advisor)
        assert status == 200, body
        posts = {p["id"]: p for p in body["posts"]}
        done = posts[edited]["edited"] and posts[rejected]["status"] == "rejected"
        return posts if done else None

    posts = eventually(mine, timeout=30)
    assert posts[edited]["text"] == MODERATED_TEXT
    assert posts[rejected]["reason"] == "Offre déjà publiée"
    status, shown = http("GET", f"{node}/v1/posts/{edited}", token=advisor)
    assert status == 200 and (shown["text"], shown["original_text"]) == (MODERATED_TEXT, CLAIRE_TEXT)
