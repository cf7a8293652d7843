"""The node's inbox API tried as an attacker and with bad input: a real node (SQLite file, real
HTTP), its inbox filled by the follower's own code as the consumer would deliver it.

The policy, written by hand: the inbox is for the node's agency's advisors and for admins (another
agency's advisor 403, ops 403, nobody 401); the node holds only its own agency's conversations, so
another agency's is unknown (404) even when a bug upstream sends it here; a conversation goes to an
enabled advisor of this agency or back to the shared queue, anyone else is refused with 422 naming
`assignee` and nothing is written; every text is masked, in every view, whatever its publisher did;
every refusal has the JSON error shape.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import sqlite_utils

from services.intake.inbox_follower import apply_inbox_event
from services.intake.keys import DATABASE
from services.intake.settings import Settings
from shared.accounts import AdvisorAccount, open_session, store_advisor
from shared.i18n import ERROR_CODES, LOCALES, words
from shared.schemas import InboxEscalated, InboxItemReceived, encode, inbox_subject
from shared.tokens import issue_token, load_or_create_private_key
from tests.intake.conftest import AGENCY, Client, auth
from tests.intake.inbox_bus import RENNES, item


def deliver(db: sqlite_utils.Database, received: InboxItemReceived, subject_agency: str = AGENCY) -> None:
    """As the node's consumer hands it over (its filter is `inbox.<agency>.*.*`)."""
    subject = inbox_subject(subject_agency, received.conversation, "received")
    apply_inbox_event(db, AGENCY, subject, encode(received))


@pytest.fixture
def seeded(client: Client) -> InboxItemReceived:
    db = client.app[DATABASE]
    for username, agency, role, disabled in (
        ("claire", AGENCY, "advisor", False),
        ("karim", AGENCY, "advisor", False),
        ("ancien", AGENCY, "advisor", True),
        ("yann", RENNES, "advisor", False),  # another agency's (never mirrored here; if it were)
        ("modo", AGENCY, "moderator", False),
    ):
        store_advisor(db, AdvisorAccount(username, role, agency, "$argon2id$x", disabled, 1))
    question = item(AGENCY)
    deliver(db, question)
    return question


def error_of(body: dict[str, Any]) -> tuple[str, str | None]:
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}, body
    return body["error"]["code"], body["error"]["field"]


async def outbox_rows(client: Client) -> int:
    return int(client.app[DATABASE].execute("select count(*) from inbox_outbox").fetchone()[0])


@pytest.mark.parametrize(
    ("assignee", "why"),
    [
        ("nobody", "no such account"),
        ("ancien", "a disabled advisor"),
        ("yann", "another agency's advisor"),
        ("modo", "not an advisor"),
        ("claire ", "a near miss"),
        ("%", "a pattern"),
        ("x" * 201, "longer than any user id"),
    ],
)
async def test_a_conversation_goes_only_to_an_enabled_advisor_of_this_agency(
    client: Client, tokens: dict[str, str], seeded: InboxItemReceived, assignee: str, why: str
) -> None:
    response = await client.post(
        f"/v1/inbox/{seeded.conversation}/assign",
        json={"assignee": assignee},
        headers=auth(tokens["advisor"]),
    )
    assert response.status == 422, why
    assert error_of(await response.json())[1] == "assignee", why
    assert await outbox_rows(client) == 0, why
    [summary] = (await (await client.get("/v1/inbox", headers=auth(tokens["advisor"]))).json())[
        "conversations"
    ]
    assert summary["assignee"] == "", why


async def test_an_assignment_is_stored_before_its_answer_and_written_once_per_change(
    client: Client, tokens: dict[str, str], seeded: InboxItemReceived
) -> None:
    url = f"/v1/inbox/{seeded.conversation}/assign"
    steps = (("karim", 1, "pending"), ("karim", 1, "pending"), ("", 2, "new"), ("claire", 3, "pending"))
    for assignee, rows, status in steps:
        response = await client.post(url, json={"assignee": assignee}, headers=auth(tokens["advisor"]))
        assert response.status == 200
        answer = await response.json()
        assert (answer["assignee"], answer["status"]) == (assignee, status)
        assert await outbox_rows(client) == rows  # on disk (the node is offline: nothing relayed)
    mine = await (await client.get("/v1/inbox?assignee=me", headers=auth(tokens["advisor"]))).json()
    assert [c["id"] for c in mine["conversations"]] == [seeded.conversation]  # claire's token


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({}, 400, "missing_field", "assignee"),
        ({"assignee": 7}, 400, "invalid_type", "assignee"),
        ({"assignee": None}, 400, "invalid_type", "assignee"),
        ({"assignee": "karim", "by": "admin"}, 400, "unknown_field", "by"),
        (["karim"], 400, "invalid_body", None),
    ],
)
async def test_a_malformed_assignment_is_refused_in_the_error_shape(
    client: Client,
    tokens: dict[str, str],
    seeded: InboxItemReceived,
    body: Any,
    status: int,
    code: str,
    field: str | None,
) -> None:
    url = f"/v1/inbox/{seeded.conversation}/assign"
    response = await client.post(url, json=body, headers=auth(tokens["advisor"]))
    assert response.status == status
    assert error_of(await response.json()) == (code, field)
    headers = {**auth(tokens["advisor"]), "Content-Type": "application/json"}
    not_json = await client.post(url, data=b"{assignee", headers=headers)
    assert (not_json.status, error_of(await not_json.json())[0]) == (400, "invalid_json")
    assert await outbox_rows(client) == 0


async def test_another_agencys_conversation_is_unknown_here_even_when_sent_here_by_mistake(
    client: Client, tokens: dict[str, str], seeded: InboxItemReceived
) -> None:
    db = client.app[DATABASE]
    theirs = item(RENNES)
    deliver(db, theirs, subject_agency=RENNES)  # another agency's subject
    forged = item(RENNES)
    deliver(db, forged)  # our subject, another agency's body
    for conversation in (theirs.conversation, forged.conversation, "mastodon-000000000000000000000000"):
        shown = await client.get(f"/v1/inbox/{conversation}", headers=auth(tokens["advisor"]))
        assert (shown.status, error_of(await shown.json())) == (404, ("not_found", "conversation"))
        assigned = await client.post(
            f"/v1/inbox/{conversation}/assign", json={"assignee": "karim"}, headers=auth(tokens["advisor"])
        )
        assert (assigned.status, error_of(await assigned.json())) == (404, ("not_found", "conversation"))
    listed = await (await client.get("/v1/inbox", headers=auth(tokens["advisor"]))).json()
    assert [c["id"] for c in listed["conversations"]] == [seeded.conversation]
    assert db.execute("select count(*) from inbox_items").fetchone()[0] == 1
    assert await outbox_rows(client) == 0


async def test_only_this_agencys_advisors_and_admins_reach_the_inbox(
    client: Client, settings: Settings, tokens: dict[str, str], seeded: InboxItemReceived
) -> None:
    key = load_or_create_private_key(settings.data_dir / "keys" / "hub.pem")
    admin = issue_token(key, role="admin", subject="admin")
    moderator = issue_token(key, role="moderator", subject="m-in", region="ara")
    conversation = seeded.conversation
    routes = [
        ("GET", "/v1/inbox", None),
        ("GET", f"/v1/inbox/{conversation}", None),
        ("POST", f"/v1/inbox/{conversation}/assign", {"assignee": "karim"}),
    ]
    expected = {
        None: 401,
        tokens["expired"]: 401,
        tokens["other_agency"]: 403,
        tokens["ops"]: 403,
        moderator: 403,
        tokens["advisor"]: 200,
        admin: 200,
    }
    for method, path, body in routes:
        for token, status in expected.items():
            headers = auth(token) if token else {}
            response = await client.request(method, path, json=body, headers=headers)
            assert response.status == status, (method, path, status)
            if status != 200:
                error_of(await response.json())
    assert await outbox_rows(client) == 1  # the first allowed caller's; the admin's changed nothing


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?assignee=claire", "assignee"),  # someone else's: `me` only
        ("?assignee=", "assignee"),
        ("?queue=mine", "queue"),
    ],
)
async def test_the_inbox_filters_take_only_their_documented_values(
    client: Client, tokens: dict[str, str], seeded: InboxItemReceived, query: str, field: str
) -> None:
    response = await client.get(f"/v1/inbox{query}", headers=auth(tokens["advisor"]))
    assert (response.status, error_of(await response.json())) == (422, ("invalid_value", field))


async def test_the_shared_queue_and_my_conversations(
    client: Client, tokens: dict[str, str], seeded: InboxItemReceived
) -> None:
    other = item(AGENCY)
    deliver(client.app[DATABASE], other)
    assign = f"/v1/inbox/{other.conversation}/assign"
    assert (
        await client.post(assign, json={"assignee": "claire"}, headers=auth(tokens["advisor"]))
    ).status == 200

    async def ids(query: str) -> list[str]:
        body = await (await client.get(f"/v1/inbox{query}", headers=auth(tokens["advisor"]))).json()
        return [c["id"] for c in body["conversations"]]

    assert await ids("") == [seeded.conversation, other.conversation]  # the longest waiting first
    assert await ids("?assignee=me") == [other.conversation]
    assert await ids("?queue=shared") == [seeded.conversation]
    assert await ids("?assignee=me&queue=shared") == []  # both filters hold: none is in both


async def test_identifiers_are_masked_in_every_view_even_when_the_publisher_let_them_through(
    client: Client, tokens: dict[str, str]
) -> None:
    db = client.app[DATABASE]
    leaked = msgspec.structs.replace(
        item(AGENCY, text="Appelez le 06 12 34 56 78 ou écrivez à jean@example.fr"),
        author_name="Jean 0612345679",  # a number in a display name
    )
    deliver(db, leaked)  # published unmasked, against the contract
    shown = await client.get(f"/v1/inbox/{leaked.conversation}?lang=fr", headers=auth(tokens["advisor"]))
    [seen] = (await shown.json())["items"]
    assert seen["text"] == "Appelez le ⟦phone⟧ ou écrivez à ⟦email⟧"
    assert seen["shown"] == (
        "Appelez le [numéro de téléphone — donnée masquée] ou écrivez à [adresse e-mail — donnée masquée]"
    )
    assert seen["masked"] == ["phone", "email"]
    assert seen["author_name"] == "Jean ⟦phone⟧"
    assert seen["notice"] == (
        "Ce message contenait des données personnelles (numéro de téléphone et adresse e-mail), masquées"
        " ici. Invitez la personne à poursuivre en message privé."
    )
    english = await client.get(f"/v1/inbox/{leaked.conversation}?lang=en", headers=auth(tokens["advisor"]))
    [seen] = (await english.json())["items"]
    assert seen["shown"] == "Appelez le [phone number — masked] ou écrivez à [e-mail address — masked]"
    # Nor is it anywhere in the node's file.
    stored = " ".join(str(row) for row in db.execute("select * from inbox_items"))
    assert "56 78" not in stored and "jean@" not in stored and "0612345679" not in stored


async def test_an_advisors_session_assigns_only_with_its_csrf_token(
    client: Client, seeded: InboxItemReceived
) -> None:
    """Signed in at the node (the composer's way): a page elsewhere may make the browser send the
    cookie, never the token (403 `csrf`), and nothing is written; reading needs no token."""
    opened = open_session(client.app[DATABASE], "claire")
    cookie = {"Cookie": f"relais_agency_session={opened.cookie}"}
    url = f"/v1/inbox/{seeded.conversation}/assign"
    for headers in (cookie, {**cookie, "X-CSRF-Token": "x" * 43}):
        response = await client.post(url, json={"assignee": "karim"}, headers=headers)
        assert (response.status, error_of(await response.json())) == (403, ("csrf", "X-CSRF-Token"))
    assert await outbox_rows(client) == 0
    assert (await client.get(f"/v1/inbox/{seeded.conversation}", headers=cookie)).status == 200
    signed = await client.post(
        url, json={"assignee": "karim"}, headers={**cookie, "X-CSRF-Token": opened.csrf}
    )
    assert (signed.status, (await signed.json())["assignee"]) == (200, "karim")
    assert await outbox_rows(client) == 1


@pytest.mark.parametrize("locale", LOCALES)
def test_the_assignee_refusal_is_worded_for_people(locale: str) -> None:
    """The composer shows error codes translated (shared/i18n): each language has its words."""
    assert "invalid_assignee" in ERROR_CODES
    worded = words(locale).error("invalid_assignee")
    assert worded != "invalid_assignee" and worded.strip(), locale


async def test_an_escalation_to_a_level_that_does_not_exist_changes_nothing(
    client: Client, tokens: dict[str, str], seeded: InboxItemReceived
) -> None:
    """Only `region` then `hub` (ESCALATION_LEVELS); anything else is a bug upstream, acknowledged
    (it would never apply) without touching the conversation."""
    db = client.app[DATABASE]

    def escalated(level: str) -> None:
        event = InboxEscalated(
            post_id="",
            agency=AGENCY,
            occurred_at="2026-12-07T10:00:00Z",
            conversation=seeded.conversation,
            network=seeded.network,
            page=seeded.page,
            level=level,
            deadline="2026-12-07T13:00:00+01:00",
            calendar="fr-metropole",
        )
        subject = inbox_subject(AGENCY, seeded.conversation, "escalated")
        apply_inbox_event(db, AGENCY, subject, encode(event))

    async def level() -> Any:
        shown = await client.get(f"/v1/inbox/{seeded.conversation}", headers=auth(tokens["advisor"]))
        return (await shown.json())["conversation"]["escalation"]

    for bogus in ("national", "", "HUB"):
        escalated(bogus)
        assert await level() is None, bogus
    escalated("region")
    assert await level() == "region"
    escalated("everyone")
    assert await level() == "region"
