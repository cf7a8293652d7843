"""The Mastodon adapter reads what people send a page (`read_comments`) from the Mastodon emulator.

The expected answers are Mastodon's documented behaviour, written here by hand: notifications of
type `mention` after `min_id`, oldest first; a status with `in_reply_to_id` is a reply to it; a
`min_id` naming a notification deleted since still bounds the page (no expired cursor on Mastodon);
a `direct` status (a private message, notified as a mention) is a `message`, whether it answers
a status or not.
"""

from __future__ import annotations

import aiohttp
import pytest
from adapter_kit import Arm, page
from reply_kit import people_write

from services.dispatcher.adapters import DeliveryError, PageAccount
from services.dispatcher.adapters.base import RateHint
from services.dispatcher.adapters.mastodon import MastodonAdapter


async def purge(base_url: str, account: str, ids: list[str]) -> int:
    body = {"network": "mastodon", "account": account, "notification_ids": ids}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base_url}/_sandbox/incoming/purge", json=body) as response,
    ):
        assert response.status == 200
        purged: int = (await response.json())["purged"]
        return purged


async def test_mentions_and_replies_oldest_first_with_their_thread(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    adapter, account = MastodonAdapter(http), page("mastodon", "lyon", base_url)
    ours = await adapter.publish(account, ["Forum emploi jeudi"], idempotency_key="d1")
    mentions = await people_write(
        base_url, "mastodon", account="lyon", texts=["Bonjour & merci", "Horaires ?"]
    )
    replies = await people_write(
        base_url, "mastodon", account="lyon", texts=["Où ?"], reply_to=ours.remote_id, author="ana"
    )
    answer = await people_write(
        base_url, "mastodon", account="lyon", texts=["Salle 2"], reply_to=replies[0]["item_id"]
    )

    batch = await adapter.read_comments(account, None)

    assert [i.item_id for i in batch.items] == [m["item_id"] for m in (*mentions, *replies, *answer)]
    first, second, reply, nested = batch.items
    assert (first.kind, first.text, first.root_id, first.parent_id) == (
        "mention",
        "@lyon Bonjour & merci",
        first.item_id,
        None,
    )
    assert first.remote_post_id is None and first.created_at is not None
    assert (second.kind, second.text) == ("mention", "@lyon Horaires ?")
    assert (reply.kind, reply.parent_id, reply.root_id, reply.remote_post_id) == (
        "reply",
        ours.remote_id,
        ours.remote_id,
        ours.remote_id,
    )
    assert reply.author_name == "ana" and reply.author_id and reply.url
    assert (nested.kind, nested.parent_id) == ("reply", reply.item_id)
    assert batch.cursor == answer[-1]["notification_id"]

    again = await adapter.read_comments(account, batch.cursor)
    assert again.items == () and again.cursor == batch.cursor  # nothing new: the cursor stays


async def test_a_direct_status_is_a_private_message_never_a_public_mention(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    adapter, account = MastodonAdapter(http), page("mastodon", "lyon", base_url)
    ours = await adapter.publish(account, ["Forum emploi jeudi"], idempotency_key="d1")
    [public] = await people_write(base_url, "mastodon", account="lyon", texts=["Horaires ?"])
    [private] = await people_write(
        base_url, "mastodon", account="lyon", texts=["Mon dossier ?"], private=True
    )
    [aside] = await people_write(
        base_url, "mastodon", account="lyon", texts=["Et le mien ?"], reply_to=ours.remote_id, private=True
    )

    batch = await adapter.read_comments(account, None)

    assert [(i.item_id, i.kind) for i in batch.items] == [
        (public["item_id"], "mention"),
        (private["item_id"], "message"),
        (aside["item_id"], "message"),
    ]
    asked, answering = batch.items[1:]
    assert (asked.root_id, asked.parent_id) == (private["item_id"], None)
    assert (answering.parent_id, answering.remote_post_id) == (ours.remote_id, ours.remote_id)


async def test_only_mastodon_notifies_private_messages_in_the_sandbox(base_url: str) -> None:
    body = {"network": "bluesky", "account": "lyon", "texts": ["Mon dossier ?"], "private": True}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base_url}/_sandbox/incoming", json=body) as response,
    ):
        assert response.status == 400
        assert "['mastodon'] notify private messages" in (await response.json())["error"]


async def test_pages_after_the_cursor_lose_nothing(http: aiohttp.ClientSession, base_url: str) -> None:
    adapter, account = MastodonAdapter(http), page("mastodon", "lyon", base_url)
    await people_write(base_url, "mastodon", account="lyon", count=1)
    cursor = (await adapter.read_comments(account, None)).cursor
    made = await people_write(base_url, "mastodon", account="lyon", count=45)

    first = await adapter.read_comments(account, cursor)
    second = await adapter.read_comments(account, first.cursor)

    read = [item.item_id for item in (*first.items, *second.items)]
    assert len(first.items) == 40  # the page right after the cursor: the oldest newer ones
    assert read == [item["item_id"] for item in made]


async def test_a_cursor_naming_a_deleted_notification_still_bounds_the_page(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    adapter, account = MastodonAdapter(http), page("mastodon", "lyon", base_url)
    old = await people_write(base_url, "mastodon", account="lyon", count=2)
    cursor = (await adapter.read_comments(account, None)).cursor
    assert await purge(base_url, "lyon", [item["notification_id"] for item in old]) == 2
    new = await people_write(base_url, "mastodon", account="lyon", count=3)

    batch = await adapter.read_comments(account, cursor)

    assert [item.item_id for item in batch.items] == [item["item_id"] for item in new]


async def test_other_pages_items_are_not_read(http: aiohttp.ClientSession, base_url: str) -> None:
    await people_write(base_url, "mastodon", account="marseille", count=2)
    batch = await MastodonAdapter(http).read_comments(page("mastodon", "lyon", base_url), None)
    assert batch.items == () and batch.cursor is None


async def test_a_rate_limited_read_is_transient_and_says_when(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    hints: list[RateHint] = []

    def observe(account: PageAccount, hint: RateHint) -> None:
        hints.append(hint)

    adapter, account = MastodonAdapter(http, observer=observe), page("mastodon", "lyon", base_url)
    await arm("mastodon", "lyon", "rate_limit", seconds=30, on="read_comments")

    with pytest.raises(DeliveryError) as caught:
        await adapter.read_comments(account, None)

    refused = caught.value
    assert (refused.kind, refused.throttled, refused.network_code) == ("transient", True, "429")
    assert caught.value.retry_after is not None and 20 < caught.value.retry_after <= 30
    assert hints[-1].remaining == 0  # the page's bucket hears it, as from a post
    await adapter.read_comments(account, None)  # the fault was for one read
    assert hints[-1].remaining is not None and hints[-1].remaining > 0


async def test_a_server_error_on_read_is_transient(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    await arm("mastodon", "lyon", "server_error", on="read_comments")
    with pytest.raises(DeliveryError) as caught:
        await MastodonAdapter(http).read_comments(page("mastodon", "lyon", base_url), None)
    assert caught.value.kind == "transient"


async def test_faults_for_posts_and_for_reads_are_apart(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    """A dispatcher polling its pages never takes the fault a test armed for a post, nor the reverse."""
    adapter, account = MastodonAdapter(http), page("mastodon", "lyon", base_url)
    await arm("mastodon", "lyon", "server_error")
    await arm("mastodon", "lyon", "blocked", on="read_comments")

    with pytest.raises(DeliveryError) as read:
        await adapter.read_comments(account, None)
    with pytest.raises(DeliveryError) as posted:
        await adapter.publish(account, ["Forum"], idempotency_key="d1")

    assert read.value.network_code == "403" and posted.value.network_code == "503"


async def test_a_revoked_token_is_an_auth_error_without_the_token(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    account = page("mastodon", "lyon", base_url, token="sbx-expired-lyon-secret")
    with pytest.raises(DeliveryError) as caught:
        await MastodonAdapter(http).read_comments(account, None)
    assert caught.value.kind == "auth"
    assert "sbx-expired-lyon-secret" not in str(caught.value)
