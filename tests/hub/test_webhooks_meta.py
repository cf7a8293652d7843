"""Meta's webhooks at the hub (issue #15 item 1): Facebook Page comments and Messenger messages.

The policy, written down from Meta's documentation ("Webhooks for Pages", "Messenger Platform:
webhook events", "Validating payloads") and the issue, not from the hub's answers:
- the handshake echoes `hub.challenge` (text/plain) only for `hub.mode=subscribe` with the
  configured verify token; anything else is 403;
- a POST is accepted only with `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body under
  the app secret>`; otherwise 401 with the JSON error shape, nothing published, the refusal in the
  audit (`permission.denied`) and no secret in the answer or the audit; the signature is checked
  before the body is read as JSON (a broken body with a bad signature is a 401, not a 400);
- a comment (`feed`, `item: comment`, `verb: add`) is one `InboxItemReceived` on
  `inbox.<agency>.<conversation>.received`: `item_id` the comment id, root and `remote_post_id` the
  Page post, kind `comment` under the post and `reply` under another comment; a Messenger message
  is kind `message` in the conversation of its sender (page-scoped id); the Page's own echoes and
  other feed changes are not items;
- pushed twice, it is one message on the bus; a Page the registry does not know is answered 200
  and nothing is published; identifiers never reach the bus; a body over 4 MiB is 413.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from structlog.testing import capture_logs

from shared.metrics import REGISTRY
from shared.schemas import conversation_key
from tests.hub.webhook_hub import (
    APP_SECRET,
    FACEBOOK_PAGE_ID,
    LYON,
    SECRETS,
    VERIFY_TOKEN,
    WebhookHub,
    webhook_hub,
)

__all__ = ["webhook_hub"]  # the fixture, used by name

POST_ID = f"{FACEBOOK_PAGE_ID}_555000111"
NIR = "1 85 05 78 006 084 91"  # 1850578006084 = 97 × 19078123774 + 6 → key 91 (tests/test_personal_data.py)
PHONE = "06 12 34 56 78"
EMAIL = "jeanne.martin@example.fr"


def comment(
    comment_id: str = f"{POST_ID}_9001",
    message: str = "Bonjour, le job dating est-il ouvert à tous ?",
    page_id: str = FACEBOOK_PAGE_ID,
    parent_id: str = POST_ID,
    verb: str = "add",
    item: str = "comment",
) -> dict[str, Any]:
    value = {
        "from": {"id": "7001", "name": "Jeanne Martin"},
        "post": {"status_type": "added_photos", "is_published": True},
        "message": message,
        "post_id": POST_ID,
        "comment_id": comment_id,
        "created_time": 1764928800,  # 2025-12-05T10:00:00Z
        "item": item,
        "parent_id": parent_id,
        "verb": verb,
    }
    return {
        "object": "page",
        "entry": [{"id": page_id, "time": 1764928801, "changes": [{"field": "feed", "value": value}]}],
    }


def messenger(
    mid: str = "m_AbC123", text: str = "Bonjour, j'ai une question", echo: bool = False
) -> dict[str, Any]:
    message: dict[str, Any] = {"mid": mid, "text": text}
    if echo:
        message["is_echo"] = True
    event = {
        "sender": {"id": "PSID-4242"},
        "recipient": {"id": FACEBOOK_PAGE_ID},
        "timestamp": 1764928800123,
        "message": message,
    }
    return {
        "object": "page",
        "entry": [{"id": FACEBOOK_PAGE_ID, "time": 1764928800200, "messaging": [event]}],
    }


async def test_the_handshake_echoes_the_challenge_for_the_configured_token(webhook_hub: WebhookHub) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    response = await webhook_hub.client.get("/webhooks/meta", params=query)
    assert response.status == 200
    assert response.content_type == "text/plain"
    assert await response.text() == "1158201444"


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN[:-1], "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {},
    ],
    ids=["wrong-token", "token-prefix", "wrong-mode", "no-token", "nothing"],
)
async def test_the_handshake_is_refused_otherwise(webhook_hub: WebhookHub, query: dict[str, str]) -> None:
    response = await webhook_hub.client.get("/webhooks/meta", params=query)
    assert response.status == 403
    body = await response.json()
    assert body["error"]["code"] == "verification_refused"
    assert VERIFY_TOKEN not in json.dumps(body)
    refusals = [e for e in webhook_hub.audit() if e["event"] == "permission.denied"]
    assert [json.loads(e["detail"])["route"] for e in refusals] == ["/webhooks/meta"]
    assert not any(secret in json.dumps(refusals) for secret in SECRETS)


async def test_a_signed_comment_is_one_masked_message_on_the_inbox(webhook_hub: WebhookHub) -> None:
    status, answer = await webhook_hub.push_meta(comment())
    assert (status, answer) == (200, {"published": 1, "duplicates": 0, "unknown_pages": 0})
    [(subject, item)] = await webhook_hub.inbox()
    conversation = conversation_key("facebook", POST_ID)
    assert subject == f"inbox.{LYON}.{conversation}.received"
    assert (item.agency, item.network, item.page, item.via) == (
        LYON,
        "facebook",
        f"{LYON}-facebook",
        "webhook",
    )
    assert (item.item_id, item.root_id, item.parent_id) == (f"{POST_ID}_9001", POST_ID, POST_ID)
    assert (item.kind, item.remote_post_id, item.conversation) == ("comment", POST_ID, conversation)
    assert (item.author_name, item.author_id) == ("Jeanne Martin", "7001")
    assert item.text == "Bonjour, le job dating est-il ouvert à tous ?"
    assert item.created_at == "2025-12-05T10:00:00Z"


async def test_a_reply_to_a_comment_is_a_reply_in_the_posts_conversation(webhook_hub: WebhookHub) -> None:
    parent = f"{POST_ID}_9001"
    status, _ = await webhook_hub.push_meta(comment(comment_id=f"{POST_ID}_9002", parent_id=parent))
    assert status == 200
    [(_, item)] = await webhook_hub.inbox()
    assert (item.kind, item.parent_id, item.root_id) == ("reply", parent, POST_ID)
    assert item.conversation == conversation_key("facebook", POST_ID)


async def test_a_messenger_message_is_a_conversation_per_person(webhook_hub: WebhookHub) -> None:
    status, answer = await webhook_hub.push_meta(messenger())
    assert (status, answer["published"]) == (200, 1)
    [(subject, item)] = await webhook_hub.inbox()
    assert subject == f"inbox.{LYON}.{conversation_key('facebook', 'PSID-4242')}.received"
    assert (item.kind, item.item_id, item.root_id, item.author_id) == (
        "message",
        "m_AbC123",
        "PSID-4242",
        "PSID-4242",
    )
    assert item.created_at == "2025-12-05T10:00:00Z"


@pytest.mark.parametrize(
    "payload",
    [
        messenger(echo=True),  # the Page's own message
        comment(verb="edited"),
        comment(verb="remove"),
        comment(item="reaction"),
        {"object": "user", "entry": [{"id": FACEBOOK_PAGE_ID, "changes": []}]},
    ],
    ids=["echo", "edited", "removed", "reaction", "other-object"],
)
async def test_what_is_not_a_question_is_acknowledged_and_not_published(
    webhook_hub: WebhookHub, payload: dict[str, Any]
) -> None:
    assert (await webhook_hub.push_meta(payload))[0] == 200
    assert await webhook_hub.inbox() == []


async def test_the_pages_own_comments_are_not_questions(webhook_hub: WebhookHub) -> None:
    """An agent's reply posted as the Page comes back as a feed change from the Page itself: it
    answers a question, it is not one (it would start a new clock)."""
    own = comment(comment_id=f"{POST_ID}_9003", parent_id=f"{POST_ID}_9001")
    own["entry"][0]["changes"][0]["value"]["from"] = {"id": FACEBOOK_PAGE_ID, "name": "France Travail Lyon"}
    assert (await webhook_hub.push_meta(own))[0] == 200
    assert await webhook_hub.inbox() == []


def _signature_cases() -> list[tuple[str, bytes, dict[str, str]]]:
    import hashlib
    import hmac

    body = json.dumps(comment()).encode()

    def sign(data: bytes, secret: str) -> str:
        return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()

    json_type = {"Content-Type": "application/json"}
    tampered = body.replace(b"ouvert", b"ferme")
    return [
        ("missing", body, json_type),
        ("empty", body, {**json_type, "X-Hub-Signature-256": ""}),
        (
            "other-secret",
            body,
            {**json_type, "X-Hub-Signature-256": f"sha256={sign(body, 'not-the-secret')}"},
        ),
        ("tampered-body", tampered, {**json_type, "X-Hub-Signature-256": f"sha256={sign(body, APP_SECRET)}"}),
        ("no-prefix", body, {**json_type, "X-Hub-Signature-256": sign(body, APP_SECRET)}),
        (
            "sha1",
            body,
            {
                **json_type,
                "X-Hub-Signature-256": "sha1=" + hmac.new(APP_SECRET.encode(), body, "sha1").hexdigest(),
            },
        ),
        ("truncated", body, {**json_type, "X-Hub-Signature-256": f"sha256={sign(body, APP_SECRET)[:-2]}"}),
        ("not-json-unsigned", b"{not json", {**json_type, "X-Hub-Signature-256": "sha256=00"}),
        ("non-ascii", body, {**json_type, "X-Hub-Signature-256": "sha256=é"}),
    ]


@pytest.mark.parametrize(
    ("case", "body", "headers"), _signature_cases(), ids=[c[0] for c in _signature_cases()]
)
async def test_an_unsigned_or_badly_signed_push_is_refused_and_audited(
    webhook_hub: WebhookHub, case: str, body: bytes, headers: dict[str, str]
) -> None:
    response = await webhook_hub.client.post("/webhooks/meta", data=body, headers=headers)
    assert response.status == 401, case
    answer = await response.json()
    assert answer["error"]["code"] == "invalid_signature"
    assert set(answer["error"]) == {"code", "message", "field"}
    assert await webhook_hub.inbox() == []
    refusals = [e for e in webhook_hub.audit() if e["event"] == "permission.denied"]
    assert len(refusals) == 1
    detail = json.loads(refusals[0]["detail"])
    assert (detail["status"], detail["route"], detail["method"]) == (401, "/webhooks/meta", "POST")
    everything = json.dumps(answer) + json.dumps(webhook_hub.audit())
    assert not any(secret in everything for secret in SECRETS)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'{"object": "page", "entry": "\xff\xfe"}',
        b"[" * 100_000,
        b'{"a":' * 100_000,
        b'{"object": "page", "entry": [{"id": "1", "changes": [{"field": "feed", "value": '
        + b"[" * 50_000
        + b"]" * 50_000
        + b"}]}]}",
        b'["object", "page"]',
        b'{"object": 1}',
    ],
    ids=["broken", "invalid-utf8", "nested-arrays", "nested-objects", "nested-value", "array", "wrong-type"],
)
async def test_a_signed_body_that_is_not_a_notification_is_a_400(
    webhook_hub: WebhookHub, body: bytes
) -> None:
    """Only Meta can sign, but a bug of theirs (or a leaked secret) must still get a 4xx, never a 500."""
    response = await webhook_hub.client.post("/webhooks/meta", data=body, headers=webhook_hub.signed(body))
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_json"
    assert await webhook_hub.inbox() == []


async def test_the_same_comment_pushed_twice_is_one_message(webhook_hub: WebhookHub) -> None:
    assert await webhook_hub.push_meta(comment()) == (
        200,
        {"published": 1, "duplicates": 0, "unknown_pages": 0},
    )
    assert await webhook_hub.push_meta(comment()) == (
        200,
        {"published": 0, "duplicates": 1, "unknown_pages": 0},
    )
    twice_in_one = comment()
    twice_in_one["entry"] = twice_in_one["entry"] * 2
    assert (await webhook_hub.push_meta(twice_in_one))[0] == 200
    assert len(await webhook_hub.inbox()) == 1


async def test_a_page_the_registry_does_not_know_is_acknowledged_and_not_published(
    webhook_hub: WebhookHub,
) -> None:
    labels = {"network": "facebook", "outcome": "unknown_page"}
    before = REGISTRY.get_sample_value("relais_webhook_items_total", labels) or 0.0
    with capture_logs() as logs:
        status, answer = await webhook_hub.push_meta(comment(page_id="999999999"))
    assert (status, answer) == (200, {"published": 0, "duplicates": 0, "unknown_pages": 1})
    assert await webhook_hub.inbox() == []
    assert REGISTRY.get_sample_value("relais_webhook_items_total", labels) == before + 1
    assert [entry["page_ref"] for entry in logs if entry["event"] == "webhook.unknown_page"] == ["999999999"]


async def test_no_secret_is_ever_logged(webhook_hub: WebhookHub) -> None:
    with capture_logs() as logs:
        await webhook_hub.push_meta(comment())
        await webhook_hub.push_meta(comment(), headers={"X-Hub-Signature-256": "sha256=00"})
        query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"}
        await webhook_hub.client.get("/webhooks/meta", params=query)
        await webhook_hub.client.get("/webhooks/meta", params={**query, "hub.verify_token": "x"})
    events = {entry["event"] for entry in logs}
    assert {"webhook.item_received", "webhook.refused"} <= events
    assert not any(secret in str(logs) for secret in SECRETS)


@pytest.mark.parametrize(
    "payload",
    [
        comment(message=f"Mon numéro de sécu est {NIR}, rappelez-moi au {PHONE} ou {EMAIL}"),
        messenger(text=f"NIR {NIR.replace(' ', '')} tel +33 6 12 34 56 78 mail {EMAIL}"),
    ],
    ids=["comment", "messenger"],
)
async def test_identifiers_never_reach_the_bus(webhook_hub: WebhookHub, payload: dict[str, Any]) -> None:
    assert (await webhook_hub.push_meta(payload))[0] == 200
    [(_, item)] = await webhook_hub.inbox()
    assert item.masked == ["nir", "phone", "email"]
    assert "⟦nir⟧" in item.text and "⟦phone⟧" in item.text and "⟦email⟧" in item.text
    info = await webhook_hub.js.stream_info("INBOX")
    raw = (await webhook_hub.js.get_msg("INBOX", info.state.last_seq)).data or b""
    compact = raw.replace(b" ", b"")  # however the digits were grouped
    for value in (b"1850578006084", b"612345678", b"jeanne.martin", b"example.fr"):
        assert value not in compact


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_over_the_bound_is_refused_with_413(webhook_hub: WebhookHub, chunked: bool) -> None:
    body = json.dumps({"object": "page", "entry": [], "pad": "x" * (4 * 1024 * 1024)}).encode()

    async def pieces() -> AsyncIterator[bytes]:  # no Content-Length: the bound counts what arrives
        for start in range(0, len(body), 256 * 1024):
            yield body[start : start + 256 * 1024]

    data = pieces() if chunked else io.BytesIO(body)
    response = await webhook_hub.client.post("/webhooks/meta", data=data, headers=webhook_hub.signed(body))
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "body_too_large"
    assert await webhook_hub.inbox() == []


async def test_a_thousand_changes_in_one_call_are_taken(webhook_hub: WebhookHub) -> None:
    """Meta's largest batch: 1,000 comments of a realistic size, all published, in one answer."""
    entry = comment()["entry"][0]
    changes = []
    for n in range(1000):
        value = {**entry["changes"][0]["value"], "comment_id": f"{POST_ID}_{n}", "message": "Bonjour " * 60}
        changes.append({"field": "feed", "value": value})
    status, answer = await webhook_hub.push_meta(
        {"object": "page", "entry": [{"id": FACEBOOK_PAGE_ID, "changes": changes}]}
    )
    assert (status, answer["published"]) == (200, 1000)


async def test_the_bus_unreachable_answers_503_so_that_meta_retries(webhook_hub: WebhookHub) -> None:
    from services.hub.keys import LINK

    link = webhook_hub.client.app[LINK]
    assert link.nc is not None
    await link.nc.close()
    status, answer = await webhook_hub.push_meta(comment())
    assert status == 503
    assert answer["error"]["code"] == "bus_unavailable"
