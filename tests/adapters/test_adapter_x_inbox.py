"""The X adapter reads what people send a page (`read_comments`) from the X emulator.

Expected answers come from docs.x.com ("User mention timeline"), written here by hand: newest
first, `since_id` for newer posts, `pagination_token` back in time; a post that `replied_to`
another answers it, its thread being the `conversation_id`.
"""

from __future__ import annotations

import aiohttp
import pytest
from adapter_kit import Arm, page
from reply_kit import people_write

from services.dispatcher.adapters import DeliveryError
from services.dispatcher.adapters.x import XAdapter


async def test_mentions_and_replies_oldest_first_with_their_thread(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    adapter, account = XAdapter(http), page("x", "lyon", base_url)
    ours = await adapter.publish(account, ["1/2 Forum", "2/2 Jeudi"], idempotency_key="d1")
    [mention] = await people_write(base_url, "x", account="lyon", texts=["Bonjour"], author="ana")
    reply, _ = await people_write(  # notified twice: X lists the post once
        base_url, "x", account="lyon", texts=["Où ?"], reply_to=ours.part_ids[1], duplicates=1
    )
    [nested] = await people_write(base_url, "x", account="lyon", texts=["Salle 2"], reply_to=reply["item_id"])

    batch = await adapter.read_comments(account, None)

    assert [item.item_id for item in batch.items] == [mention["item_id"], reply["item_id"], nested["item_id"]]
    first, second, third = batch.items
    assert (first.kind, first.text, first.root_id, first.parent_id, first.remote_post_id) == (
        "mention",
        "@lyon Bonjour",
        mention["item_id"],
        None,
        None,
    )
    assert (first.author_name, first.url) == ("ana", f"https://x.com/ana/status/{mention['item_id']}")
    assert (second.kind, second.parent_id, second.root_id, second.remote_post_id) == (
        "reply",
        ours.part_ids[1],
        ours.remote_id,  # the conversation is the thread's first post
        ours.part_ids[1],
    )
    assert (third.kind, third.parent_id, third.root_id) == ("reply", reply["item_id"], ours.remote_id)
    assert batch.cursor == nested["item_id"]

    again = await adapter.read_comments(account, batch.cursor)
    assert again.items == () and again.cursor == batch.cursor


async def test_a_read_goes_back_page_by_page_to_the_cursor(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    adapter, account = XAdapter(http), page("x", "lyon", base_url)
    await people_write(base_url, "x", account="lyon", count=1)
    cursor = (await adapter.read_comments(account, None)).cursor
    made = await people_write(base_url, "x", account="lyon", count=250)

    batch = await adapter.read_comments(account, cursor)

    assert [item.item_id for item in batch.items] == [item["item_id"] for item in made]


async def test_a_rate_limited_read_is_transient_and_says_when(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    await arm("x", "lyon", "rate_limit", seconds=30, on="read_comments")
    with pytest.raises(DeliveryError) as caught:
        await XAdapter(http).read_comments(page("x", "lyon", base_url), None)
    refused = caught.value
    assert (refused.kind, refused.throttled, refused.scope) == ("transient", True, "page")
    assert refused.retry_after is not None and 20 < refused.retry_after <= 31


async def test_a_revoked_token_is_an_auth_error(http: aiohttp.ClientSession, base_url: str) -> None:
    with pytest.raises(DeliveryError) as caught:
        await XAdapter(http).read_comments(page("x", "lyon", base_url, token="sbx-expired-lyon"), None)
    assert caught.value.kind == "auth"
