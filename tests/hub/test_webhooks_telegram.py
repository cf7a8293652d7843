"""Telegram's webhook at the hub (issue #15 item 1): a bot's messages for one page.

The policy, from the Bot API's documentation (setWebhook's `secret_token`, sent back in
`X-Telegram-Bot-Api-Secret-Token`; an Update is retried until answered 2xx) and the issue:
- `POST /webhooks/telegram/{page}` takes an Update only with that page's own secret token: no
  token, another page's token, or a page without one is 401, nothing published, the refusal audited
  without any secret;
- a `message` is one `InboxItemReceived`, kind `message`, `item_id` `<chat id>:<message id>`, in
  the conversation of its chat (root the chat id), its parent the message it replies to;
- an Update delivered again (same `update_id`: Telegram's retry) is stored once;
- a page the registry does not know is answered 200 and nothing is published; other updates
  (edits, channel posts) are acknowledged and not items; identifiers never reach the bus.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from services.hub.keys import MIRROR
from shared.schemas import PAGES_BUCKET, conversation_key, page_key
from tests.hub.webhook_hub import LYON, SECRETS, TELEGRAM_PAGE, TELEGRAM_SECRET, WebhookHub, webhook_hub

__all__ = ["webhook_hub"]  # the fixture, used by name

CHAT = 5550001


def update(
    update_id: int = 700001, message_id: int = 12, text: str = "Bonjour, l'agence ouvre à quelle heure ?"
) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "from": {
                "id": CHAT,
                "is_bot": False,
                "first_name": "Karim",
                "last_name": "B.",
                "language_code": "fr",
            },
            "chat": {"id": CHAT, "first_name": "Karim", "type": "private"},
            "date": 1764928800,
            "text": text,
        },
    }


async def test_a_message_is_one_item_in_its_chats_conversation(webhook_hub: WebhookHub) -> None:
    status, answer = await webhook_hub.push_telegram(update())
    assert (status, answer) == (200, {"published": 1, "duplicates": 0, "unknown_pages": 0})
    [(subject, item)] = await webhook_hub.inbox()
    conversation = conversation_key("telegram", str(CHAT))
    assert subject == f"inbox.{LYON}.{conversation}.received"
    assert (item.network, item.page, item.agency, item.via) == ("telegram", TELEGRAM_PAGE, LYON, "webhook")
    assert (item.item_id, item.root_id, item.parent_id, item.kind) == (
        f"{CHAT}:12",
        str(CHAT),
        None,
        "message",
    )
    assert (item.author_name, item.author_id, item.created_at) == (
        "Karim B.",
        str(CHAT),
        "2025-12-05T10:00:00Z",
    )


async def test_a_reply_names_the_message_it_answers(webhook_hub: WebhookHub) -> None:
    replying = update(update_id=700002, message_id=13)
    replying["message"]["reply_to_message"] = {"message_id": 12, "chat": {"id": CHAT}, "date": 1764928700}
    assert (await webhook_hub.push_telegram(replying))[0] == 200
    [(_, item)] = await webhook_hub.inbox()
    assert item.parent_id == f"{CHAT}:12"


async def test_an_update_delivered_again_is_stored_once(webhook_hub: WebhookHub) -> None:
    for _ in range(3):  # Telegram retries until it is answered 2xx
        assert (await webhook_hub.push_telegram(update()))[0] == 200
    assert len(await webhook_hub.inbox()) == 1


@pytest.mark.parametrize(
    ("secret", "page"),
    [
        (None, TELEGRAM_PAGE),
        ("", TELEGRAM_PAGE),
        ("not-the-secret", TELEGRAM_PAGE),
        (TELEGRAM_SECRET[:-1], TELEGRAM_PAGE),
        (TELEGRAM_SECRET, f"{LYON}-facebook"),  # a page without a Telegram secret
        (TELEGRAM_SECRET, "nowhere"),
    ],
    ids=["missing", "empty", "wrong", "prefix", "other-page", "unknown-page"],
)
async def test_a_push_without_the_pages_secret_is_refused_and_audited(
    webhook_hub: WebhookHub, secret: str | None, page: str
) -> None:
    status, answer = await webhook_hub.push_telegram(update(), secret=secret, page=page)
    assert status == 401
    assert answer["error"]["code"] == "invalid_secret_token"
    assert await webhook_hub.inbox() == []
    refusals = [e for e in webhook_hub.audit() if e["event"] == "permission.denied"]
    assert [json.loads(e["detail"])["route"] for e in refusals] == ["/webhooks/telegram/{page}"]
    everything = json.dumps(answer) + json.dumps(webhook_hub.audit())
    assert not any(value in everything for value in SECRETS)


async def test_a_page_the_registry_does_not_know_is_acknowledged_and_not_published(
    webhook_hub: WebhookHub,
) -> None:
    """The page has a secret (it was configured) but the registry no longer lists it."""
    pages = await webhook_hub.js.key_value(PAGES_BUCKET)
    await pages.delete(page_key(LYON, TELEGRAM_PAGE))  # as the federation does when a page goes
    mirror = webhook_hub.client.app[MIRROR]
    for _ in range(100):
        if mirror.get(TELEGRAM_PAGE) is None:
            break
        await asyncio.sleep(0.05)
    status, answer = await webhook_hub.push_telegram(update())
    assert (status, answer) == (200, {"published": 0, "duplicates": 0, "unknown_pages": 1})
    assert await webhook_hub.inbox() == []


@pytest.mark.parametrize(
    "other",
    [
        {"update_id": 9, "edited_message": update()["message"]},
        {"update_id": 9, "channel_post": {**update()["message"], "chat": {"id": -100123, "type": "channel"}}},
        {"update_id": 9, "callback_query": {"id": "1", "from": {"id": 1, "first_name": "A"}}},
    ],
    ids=["edited", "channel-post", "callback"],
)
async def test_other_updates_are_acknowledged_and_not_items(
    webhook_hub: WebhookHub, other: dict[str, Any]
) -> None:
    assert (await webhook_hub.push_telegram(other))[0] == 200
    assert await webhook_hub.inbox() == []


async def test_identifiers_never_reach_the_bus(webhook_hub: WebhookHub) -> None:
    text = "Mon identifiant France Travail 1234567A, sécu 2 95 10 99 126 111 93, tel 0612345678"
    assert (await webhook_hub.push_telegram(update(text=text)))[0] == 200
    [(_, item)] = await webhook_hub.inbox()
    assert item.masked == ["nir", "france_travail", "phone"]
    info = await webhook_hub.js.stream_info("INBOX")
    raw = ((await webhook_hub.js.get_msg("INBOX", info.state.last_seq)).data or b"").replace(b" ", b"")
    for value in (b"1234567A", b"2951099126111", b"0612345678"):
        assert value not in raw


@pytest.mark.parametrize(
    "body",
    [{"message": "hello"}, {"update_id": "1"}, [1, 2], {"update_id": 1, "message": {"message_id": 1}}],
    ids=["message-not-object", "id-not-integer", "array", "no-chat"],
)
async def test_a_body_that_is_not_an_update_is_a_400(webhook_hub: WebhookHub, body: Any) -> None:
    status, answer = await webhook_hub.push_telegram(body)
    assert (status, answer["error"]["code"]) == (400, "invalid_json")
    assert await webhook_hub.inbox() == []


async def test_deep_nesting_is_a_400_not_a_500(webhook_hub: WebhookHub) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET, "Content-Type": "application/json"}
    for body in (b"[" * 100_000, b'{"update_id": 1, "message": ' + b'{"a":' * 50_000):
        response = await webhook_hub.client.post(
            f"/webhooks/telegram/{TELEGRAM_PAGE}", data=body, headers=headers
        )
        assert response.status == 400


async def test_a_body_over_the_bound_is_refused_with_413(webhook_hub: WebhookHub) -> None:
    status, answer = await webhook_hub.push_telegram(update(text="x" * (256 * 1024)))
    assert (status, answer["error"]["code"]) == (413, "body_too_large")
    assert await webhook_hub.inbox() == []
