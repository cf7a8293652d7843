"""Answering from the node (`POST /v1/inbox/{conversation}/replies`), tried as an attacker and with
bad input: a real node (SQLite file, real HTTP), offline, its inbox filled by the follower's own
code as its consumer would deliver it.

The policy, written by hand:
- only the node's agency's advisors (and admins) reply: another agency's advisor 403, ops 403,
  nobody 401;
- the node holds only its own agency's conversations: another agency's is a 404 exactly like one
  that does not exist;
- what a reply answers (`reply_to`) is filled in by the node from its own inbox, never taken from a
  client: `POST /v1/posts` with a `reply_to` is a 422 naming it, and nothing is stored;
- the item answered is the conversation's latest, or `item_id` when it is one of the conversation's
  items (another conversation's: 422 naming `item_id`);
- a reply goes to exactly the conversation's page as one part: a text over the network's limit is
  a 422 naming the limit (never a thread), and it is checked as a post's text is;
- a saved reply is filled in with the values given, `{auteur}` and `{agence}` known to the node; an
  unknown one, or a variable left without a value, is a 422 and nothing is stored;
- the reply is stored in the node's outbox like a post (202 once on disk), and relayed with its
  `reply_to`;
- the conversation is resolved when the reply's delivery is published, and reopened when the
  person writes after the reply (not by an item dated before it, which arrived late).
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import sqlite_utils

from services.intake.follower import apply_event
from services.intake.inbox_follower import apply_inbox_event
from services.intake.keys import DATABASE
from services.intake.saved_replies import find_saved_reply, store_saved_reply
from services.intake.store import unrelayed_posts
from shared.accounts import AdvisorAccount, store_advisor
from shared.saved_replies import SavedReplyRecord
from shared.schemas import (
    DeliveryUpdated,
    InboxItemReceived,
    PostApproved,
    ReplyTo,
    Variant,
    conversation_key,
    encode,
    inbox_subject,
)
from tests.intake.conftest import AGENCY, PAGES, Client, NodeFactory, auth, stored_posts
from tests.intake.inbox_bus import RENNES, item

SAVED = [
    {
        "id": "rdv-prive",
        "language": "fr",
        "title": "Passer en message privé",
        "body": "Bonjour {auteur}, écrivez-nous en message privé : l'agence {agence} vous répond ({lien}).",
    },
    {"id": "merci", "language": "ar", "title": "شكرا", "body": "شكرا {auteur}"},
]


def deliver(db: sqlite_utils.Database, received: InboxItemReceived, subject_agency: str = AGENCY) -> None:
    subject = inbox_subject(subject_agency, received.conversation, "received")
    apply_inbox_event(db, AGENCY, subject, encode(received))


def error_of(body: dict[str, Any]) -> tuple[str, str | None]:
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}, body
    return body["error"]["code"], body["error"]["field"]


@pytest.fixture
async def node(make_node: NodeFactory) -> Client:
    client = await make_node()
    for record in SAVED:  # as the node's consumer of the hub's catalogue stores them
        assert store_saved_reply(client.app[DATABASE], SavedReplyRecord(**record, version=1))
    return client


@pytest.fixture
def question(node: Client) -> InboxItemReceived:
    first = item(AGENCY, text="Bonjour, le forum de l'emploi est-il ouvert samedi ?")
    deliver(node.app[DATABASE], first)
    return first


def follow_up(to: InboxItemReceived, created_at: str | None = None) -> InboxItemReceived:
    """The same person again, in the same thread."""
    again = item(to.agency, text="Et faut-il s'inscrire ?", root=to.root_id)
    return again if created_at is None else msgspec.structs.replace(again, created_at=created_at)


async def reply(node: Client, conversation: str, body: dict[str, Any], token: str) -> tuple[int, Any]:
    response = await node.post(f"/v1/inbox/{conversation}/replies", json=body, headers=auth(token))
    return response.status, await response.json()


async def test_a_reply_is_stored_as_a_post_to_the_conversations_page_with_what_it_answers(
    node: Client, question: InboxItemReceived, tokens: dict[str, str]
) -> None:
    later = follow_up(question)
    deliver(node.app[DATABASE], later)
    status, body = await reply(
        node, question.conversation, {"text": "Oui, de 9 h à 13 h."}, tokens["advisor"]
    )
    assert status == 202, body
    assert body["status"] == "queued"
    [post] = unrelayed_posts(node.app[DATABASE])  # offline: it waits in the outbox, on disk
    shown = await node.get(f"/v1/posts/{body['id']}", headers=auth(tokens["advisor"]))
    assert (await shown.json())["reply_to"] == {
        "conversation": question.conversation,
        "item_id": later.item_id,
    }
    assert post.post_id == body["id"] and post.author == "claire" and post.text == "Oui, de 9 h à 13 h."
    assert [(t.network, t.page) for t in post.targets] == [("mastodon", PAGES["mastodon"])]
    assert post.selectors == [] and post.policy == {"mastodon": "reject"}
    assert post.reply_to == ReplyTo(
        conversation=question.conversation,
        network="mastodon",
        page=PAGES["mastodon"],
        item_id=later.item_id,  # the latest item
        root_id=question.root_id,
        kind="comment",
    )


async def test_a_reply_answers_the_item_named_when_it_is_the_conversations(
    node: Client, question: InboxItemReceived, tokens: dict[str, str]
) -> None:
    deliver(node.app[DATABASE], follow_up(question))
    body = {"text": "Oui.", "item_id": question.item_id}
    status, answer = await reply(node, question.conversation, body, tokens["advisor"])
    assert status == 202, answer
    [post] = unrelayed_posts(node.app[DATABASE])
    assert post.reply_to is not None and post.reply_to.item_id == question.item_id


async def test_an_item_of_another_conversation_is_refused_naming_item_id(
    node: Client, question: InboxItemReceived, tokens: dict[str, str]
) -> None:
    elsewhere = item(AGENCY, text="Autre fil")
    deliver(node.app[DATABASE], elsewhere)
    for item_id in (elsewhere.item_id, "no-such-item"):
        body = {"text": "Oui.", "item_id": item_id}
        status, answer = await reply(node, question.conversation, body, tokens["advisor"])
        assert status == 422 and error_of(answer) == ("unknown_item", "item_id"), answer
    assert stored_posts(node) == 0


async def test_another_agencys_conversation_is_unknown_here(
    node: Client, question: InboxItemReceived, tokens: dict[str, str]
) -> None:
    theirs = item(RENNES)
    deliver(node.app[DATABASE], theirs, subject_agency=RENNES)  # a bug upstream: the node drops it
    answers = [
        await reply(node, conversation, {"text": "Oui."}, tokens["advisor"])
        for conversation in (theirs.conversation, "mastodon-000000000000000000000000")
    ]
    assert answers[0] == answers[1]
    status, body = answers[0]
    assert status == 404 and error_of(body) == ("not_found", "conversation")
    assert stored_posts(node) == 0


async def test_only_the_agencys_advisors_reply(
    node: Client, question: InboxItemReceived, tokens: dict[str, str]
) -> None:
    for token, expected in ((tokens["other_agency"], 403), (tokens["ops"], 403), (tokens["expired"], 401)):
        status, body = await reply(node, question.conversation, {"text": "Oui."}, token)
        assert status == expected, body
        error_of(body)
    response = await node.post(f"/v1/inbox/{question.conversation}/replies", json={"text": "Oui."})
    assert response.status == 401
    assert stored_posts(node) == 0


async def test_a_forged_reply_to_in_a_post_is_refused(node: Client, tokens: dict[str, str]) -> None:
    forged = {
        "conversation": "mastodon-0123456789abcdef01234567",
        "network": "mastodon",
        "page": "rennes-sud-mastodon",
        "item_id": "1",
        "root_id": "1",
        "kind": "comment",
    }
    for reply_to in (forged, {**forged, "page": PAGES["mastodon"]}, None, "x"):
        body = {"text": "Bonjour", "networks": ["mastodon"], "reply_to": reply_to}
        response = await node.post("/v1/posts", json=body, headers=auth(tokens["advisor"]))
        assert response.status == 422
        assert error_of(await response.json()) == ("reply_to_not_allowed", "reply_to")
    assert stored_posts(node) == 0


async def test_a_reply_is_one_part_a_text_over_the_networks_limit_is_refused(
    node: Client, question: InboxItemReceived, tokens: dict[str, str]
) -> None:
    status, body = await reply(node, question.conversation, {"text": "mot " * 200}, tokens["advisor"])
    assert status == 422 and error_of(body) == ("too_long", "text"), body
    assert "500" in body["error"]["message"]  # Mastodon's limit, named
    for text in ("   ", "Bonjour {inconnu}"):  # what POST /v1/posts refuses in a text, refused here too
        status, body = await reply(node, question.conversation, {"text": text}, tokens["advisor"])
        assert status in (400, 422) and error_of(body)[1] == "text", body
    status, body = await reply(
        node, question.conversation, {"text": "Oui", "pages": ["x"]}, tokens["advisor"]
    )
    assert status == 400 and error_of(body) == ("unknown_field", "pages"), body
    assert stored_posts(node) == 0


async def test_a_saved_reply_is_filled_in(
    node: Client, question: InboxItemReceived, tokens: dict[str, str]
) -> None:
    body = {"saved_reply": "rdv-prive", "values": {"lien": "https://m.me/lyon", "agence": "Lyon Part-Dieu"}}
    status, answer = await reply(node, question.conversation, body, tokens["advisor"])
    assert status == 202, answer
    [post] = unrelayed_posts(node.app[DATABASE])
    assert post.text == (
        "Bonjour Samira B., écrivez-nous en message privé : l'agence Lyon Part-Dieu vous répond"
        " (https://m.me/lyon)."
    )


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"saved_reply": "nope"}, 422, "unknown_saved_reply", "saved_reply"),
        ({"saved_reply": "rdv-prive", "values": {"agence": "Lyon"}}, 422, "missing_value", "values"),
        ({"saved_reply": "merci", "text": "Oui"}, 400, "conflicting_fields", "saved_reply"),
        ({"values": {"lien": "x"}, "text": "Oui"}, 400, "conflicting_fields", "values"),
        ({"saved_reply": "merci", "values": {"auteur": 3}}, 400, "invalid_type", "values[...]"),
        ({}, 400, "missing_field", "text"),
    ],
)
async def test_a_saved_reply_that_cannot_be_filled_is_refused(
    node: Client,
    question: InboxItemReceived,
    tokens: dict[str, str],
    body: dict[str, Any],
    status: int,
    code: str,
    field: str,
) -> None:
    answer_status, answer = await reply(node, question.conversation, body, tokens["advisor"])
    assert answer_status == status and error_of(answer) == (code, field), answer
    assert stored_posts(node) == 0


def publish(db: sqlite_utils.Database, post_id: str, page: str, occurred_at: str) -> None:
    """The hub's news of a post published on `page`, as the node hears it: approved, then published
    (the result, first of its subject or redelivered)."""
    variant = Variant("mastodon", page, ["Oui."], agency=AGENCY)
    approved = PostApproved(
        post_id=post_id, agency=AGENCY, occurred_at=occurred_at, approved_by="policy", variants=[variant]
    )
    apply_event(db, f"decisions.{AGENCY}.{post_id}.approved", encode(approved))
    event = DeliveryUpdated(
        post_id=post_id,
        agency=AGENCY,
        occurred_at=occurred_at,
        network="mastodon",
        page=page,
        status="published",
        remote_id="1150001",
        url="https://mastodon.example/@lyon/1150001",
    )
    apply_event(db, f"deliveries.{AGENCY}.{post_id}.published", encode(event))


def conversation_of(node: Client, conversation: str) -> dict[str, Any]:
    row = node.app[DATABASE].execute(
        "select status, assignee, answered_by_post from conversations where id = ?", [conversation]
    )
    return dict(zip(("status", "assignee", "answered_by_post"), row.fetchone(), strict=True))


async def test_the_conversation_is_resolved_when_its_reply_is_published_and_reopened_by_a_later_item(
    node: Client, question: InboxItemReceived, tokens: dict[str, str]
) -> None:
    db = node.app[DATABASE]
    store_advisor(db, AdvisorAccount("claire", "advisor", AGENCY, "$argon2id$x", False, 1))
    response = await node.post(
        f"/v1/inbox/{question.conversation}/assign",
        json={"assignee": "claire"},
        headers=auth(tokens["advisor"]),
    )
    assert response.status == 200
    status, answer = await reply(node, question.conversation, {"text": "Oui."}, tokens["advisor"])
    assert status == 202
    # Another post's delivery published: not a reply, nothing changes.
    other = await node.post(
        "/v1/posts", json={"text": "Forum samedi", "networks": ["mastodon"]}, headers=auth(tokens["advisor"])
    )
    publish(db, (await other.json())["id"], PAGES["mastodon"], "2026-12-07T10:00:00Z")
    assert conversation_of(node, question.conversation)["status"] == "pending"

    publish(db, answer["id"], PAGES["mastodon"], "2026-12-07T10:00:00.000Z")
    publish(db, answer["id"], PAGES["mastodon"], "2026-12-07T10:00:00.000Z")  # redelivered
    assert conversation_of(node, question.conversation) == {
        "status": "resolved",
        "assignee": "claire",
        "answered_by_post": answer["id"],
    }
    # An item the person sent before the reply, arriving late: answered by it.
    deliver(db, follow_up(question, "2026-12-07T09:59:00+01:00"))
    assert conversation_of(node, question.conversation)["status"] == "resolved"
    # Written after the reply: back to its advisor.
    deliver(db, follow_up(question, "2026-12-07T10:00:01Z"))
    assert conversation_of(node, question.conversation)["status"] == "pending"
    listed = await node.get("/v1/inbox", headers=auth(tokens["advisor"]))
    assert [c["status"] for c in (await listed.json())["conversations"]] == ["pending"]


async def test_a_resent_reply_is_stored_once(
    node: Client, question: InboxItemReceived, tokens: dict[str, str]
) -> None:
    """The same Idempotency-Key and body (an answer lost, a double click): the first reply, once. The
    same key for another conversation is another request: refused, nothing stored."""
    elsewhere = item(AGENCY, text="Autre fil")
    deliver(node.app[DATABASE], elsewhere)
    headers = {**auth(tokens["advisor"]), "Idempotency-Key": "0b6f3c1e-reply"}
    answers = []
    for _ in range(2):
        response = await node.post(
            f"/v1/inbox/{question.conversation}/replies", json={"text": "Oui."}, headers=headers
        )
        answers.append((response.status, await response.json(), response.headers.get("Idempotent-Replayed")))
    assert [(status, replayed) for status, _, replayed in answers] == [(202, None), (202, "true")]
    assert answers[0][1]["id"] == answers[1][1]["id"]
    response = await node.post(
        f"/v1/inbox/{elsewhere.conversation}/replies", json={"text": "Oui."}, headers=headers
    )
    assert response.status == 422
    assert error_of(await response.json()) == ("idempotency_key_reused", "Idempotency-Key")
    assert stored_posts(node) == 1


async def test_the_node_keeps_the_latest_valid_version_of_each_saved_reply(node: Client) -> None:
    """As the hub replicates them: a redelivered or older version changes nothing; one the hub should
    never have sent (an unknown variable) is not kept, the version before stays."""
    db = node.app[DATABASE]
    newer = SavedReplyRecord(id="merci", language="ar", title="شكرا", body="شكرا جزيلا {auteur}", version=3)
    assert store_saved_reply(db, newer)
    older = SavedReplyRecord(id="merci", language="ar", title="شكرا", body="شكرا", version=2)
    assert not store_saved_reply(db, older) and not store_saved_reply(db, newer)
    broken = SavedReplyRecord(id="merci", language="ar", title="شكرا", body="شكرا {agnce}", version=4)
    assert not store_saved_reply(db, broken)
    saved = find_saved_reply(db, "merci")
    assert saved is not None and saved.body == "شكرا جزيلا {auteur}"


@pytest.mark.parametrize("network", ["instagram", "youtube"])
async def test_a_reply_is_a_comment_it_needs_no_media(
    node: Client, tokens: dict[str, str], network: str
) -> None:
    """Instagram's and YouTube's posts need an image or a video; an answer to a comment does not."""
    base = item(AGENCY, text="Bonjour, le salon est-il gratuit ?")
    comment = msgspec.structs.replace(
        base, network=network, page=PAGES[network], conversation=conversation_key(network, base.root_id)
    )
    deliver(node.app[DATABASE], comment)
    status, body = await reply(node, comment.conversation, {"text": "Oui, gratuit."}, tokens["advisor"])
    assert status == 202, body
    [post] = unrelayed_posts(node.app[DATABASE])
    assert [(t.network, t.page) for t in post.targets] == [(network, PAGES[network])]
