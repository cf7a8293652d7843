"""Instagram comments by Meta's webhook (issue #15 item 1, stretch).

The policy, from Meta's "Instagram webhooks" (`object: "instagram"`, `changes` of `field:
"comments"`, `value {id, text, from {id, username}, media {id}, parent_id?}`) and the issue: the
same signed endpoint as Facebook's; a comment is kind `comment` in the conversation of the media it
is under (`remote_post_id`), a reply (with `parent_id`) kind `reply` in the same conversation; the
account is found by its id among the registry's Instagram handles only; identifiers are masked.
"""

from __future__ import annotations

from typing import Any

from shared.schemas import conversation_key
from tests.hub.webhook_hub import FACEBOOK_PAGE_ID, INSTAGRAM_ACCOUNT_ID, LYON, WebhookHub, webhook_hub

__all__ = ["webhook_hub"]  # the fixture, used by name

MEDIA = "17900000000000042"


def instagram(
    comment_id: str = "17850000000000001",
    text: str = "Super ! C'est où ?",
    account: str = INSTAGRAM_ACCOUNT_ID,
    parent_id: str | None = None,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "from": {"id": "232323232", "username": "camille.dupont"},
        "media": {"id": MEDIA, "media_product_type": "FEED"},
        "id": comment_id,
        "text": text,
    }
    if parent_id:
        value["parent_id"] = parent_id
    return {
        "object": "instagram",
        "entry": [{"id": account, "time": 1764928800, "changes": [{"field": "comments", "value": value}]}],
    }


async def test_a_comment_is_an_item_in_its_medias_conversation(webhook_hub: WebhookHub) -> None:
    assert await webhook_hub.push_meta(instagram()) == (
        200,
        {"published": 1, "duplicates": 0, "unknown_pages": 0},
    )
    [(subject, item)] = await webhook_hub.inbox()
    conversation = conversation_key("instagram", MEDIA)
    assert subject == f"inbox.{LYON}.{conversation}.received"
    assert (item.network, item.page, item.kind, item.via) == (
        "instagram",
        f"{LYON}-instagram",
        "comment",
        "webhook",
    )
    assert (item.item_id, item.root_id, item.parent_id, item.remote_post_id) == (
        "17850000000000001",
        MEDIA,
        MEDIA,
        MEDIA,
    )
    assert (item.author_name, item.author_id, item.created_at) == (
        "camille.dupont",
        "232323232",
        "2025-12-05T10:00:00Z",
    )


async def test_a_reply_is_a_reply_in_the_same_conversation(webhook_hub: WebhookHub) -> None:
    assert (await webhook_hub.push_meta(instagram(comment_id="2", parent_id="17850000000000001")))[0] == 200
    [(_, item)] = await webhook_hub.inbox()
    assert (item.kind, item.parent_id, item.conversation) == (
        "reply",
        "17850000000000001",
        conversation_key("instagram", MEDIA),
    )


async def test_pushed_twice_it_is_one_item(webhook_hub: WebhookHub) -> None:
    await webhook_hub.push_meta(instagram())
    assert (await webhook_hub.push_meta(instagram()))[1]["duplicates"] == 1
    assert len(await webhook_hub.inbox()) == 1


async def test_only_instagram_accounts_are_looked_up(webhook_hub: WebhookHub) -> None:
    """The Facebook Page's id is no Instagram account: unknown, nothing published."""
    for account in (FACEBOOK_PAGE_ID, "1"):
        assert (await webhook_hub.push_meta(instagram(account=account)))[1]["unknown_pages"] == 1
    assert await webhook_hub.inbox() == []


async def test_identifiers_never_reach_the_bus(webhook_hub: WebhookHub) -> None:
    await webhook_hub.push_meta(instagram(text="écrivez-moi à camille@example.fr ou au 07 81 23 45 67"))
    [(_, item)] = await webhook_hub.inbox()
    assert item.text == "écrivez-moi à ⟦email⟧ ou au ⟦phone⟧"


async def test_the_accounts_own_comments_are_not_questions(webhook_hub: WebhookHub) -> None:
    own = instagram(comment_id="3", parent_id="17850000000000001")
    own["entry"][0]["changes"][0]["value"]["from"] = {
        "id": INSTAGRAM_ACCOUNT_ID,
        "username": "francetravail.lyon",
    }
    assert (await webhook_hub.push_meta(own))[0] == 200
    assert await webhook_hub.inbox() == []
