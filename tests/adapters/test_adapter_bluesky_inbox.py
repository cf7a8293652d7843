"""The Bluesky adapter reads what people send a page (`read_comments`) from the Bluesky emulator.

Expected answers come from docs.bsky.app (`app.bsky.notification.listNotifications`), written here
by hand: reasons `mention` and `reply`; the record's `reply.root` and `reply.parent` give the thread
and the post answered; the API's cursor pages back in time, so the page's cursor is the newest
`indexedAt` read, and a read goes back until it meets it.
"""

from __future__ import annotations

import aiohttp
import pytest
from adapter_kit import Arm, page
from reply_kit import people_write

from services.dispatcher.adapters import DeliveryError
from services.dispatcher.adapters.bluesky import BlueskyAdapter


async def test_mentions_and_replies_oldest_first_with_their_thread(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    adapter, account = BlueskyAdapter(http), page("bluesky", "lyon", base_url)
    ours = await adapter.publish(account, ["1/2 Forum", "2/2 Jeudi"], idempotency_key="d1")
    [mention] = await people_write(base_url, "bluesky", account="lyon", texts=["@lyon bonjour"], author="ana")
    [reply] = await people_write(
        base_url, "bluesky", account="lyon", texts=["Où ?"], reply_to=ours.part_ids[1]
    )
    [nested] = await people_write(
        base_url, "bluesky", account="lyon", texts=["Salle 2"], reply_to=reply["item_id"]
    )

    batch = await adapter.read_comments(account, None)

    assert [item.item_id for item in batch.items] == [mention["item_id"], reply["item_id"], nested["item_id"]]
    first, second, third = batch.items
    assert (first.kind, first.text, first.root_id, first.parent_id, first.remote_post_id) == (
        "mention",
        "@lyon bonjour",
        mention["item_id"],
        None,
        None,
    )
    assert first.author_name == "ana" and first.author_id.startswith("did:plc:")
    assert (
        first.url
        == f"https://bsky.app/profile/ana.citoyens.example/post/{mention['item_id'].rsplit('/', 1)[-1]}"
    )
    # A reply to the thread's second part: its root is the thread's first post, ours.
    assert (second.kind, second.parent_id, second.root_id, second.remote_post_id) == (
        "reply",
        ours.part_ids[1],
        ours.remote_id,
        ours.part_ids[1],
    )
    assert (third.kind, third.parent_id, third.root_id) == ("reply", reply["item_id"], ours.remote_id)
    assert batch.cursor is not None

    again = await adapter.read_comments(account, batch.cursor)
    # Only the one at the cursor's instant again (the reader's key drops it): nothing new is lost.
    assert [item.item_id for item in again.items] == [nested["item_id"]] and again.cursor == batch.cursor


async def test_a_read_goes_back_page_by_page_to_the_cursor(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    adapter, account = BlueskyAdapter(http), page("bluesky", "lyon", base_url)
    await people_write(base_url, "bluesky", account="lyon", count=1)
    cursor = (await adapter.read_comments(account, None)).cursor
    made = await people_write(base_url, "bluesky", account="lyon", count=250)  # three pages of 100

    batch = await adapter.read_comments(account, cursor)

    new = [item.item_id for item in batch.items][1:]  # the first is the one at the cursor's instant
    assert new == [item["item_id"] for item in made]


async def test_a_rate_limited_read_is_transient_and_says_when(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    await arm("bluesky", "lyon", "rate_limit", seconds=30, on="read_comments")
    with pytest.raises(DeliveryError) as caught:
        await BlueskyAdapter(http).read_comments(page("bluesky", "lyon", base_url), None)
    refused = caught.value
    assert (refused.kind, refused.throttled) == ("transient", True)
    assert refused.retry_after is not None and 20 < refused.retry_after <= 31


async def test_a_server_error_is_transient_and_a_takedown_permanent(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    adapter, account = BlueskyAdapter(http), page("bluesky", "lyon", base_url)
    await arm("bluesky", "lyon", "server_error", on="read_comments")
    with pytest.raises(DeliveryError) as failed:
        await adapter.read_comments(account, None)
    await arm("bluesky", "lyon", "blocked", on="read_comments")
    with pytest.raises(DeliveryError) as taken_down:
        await adapter.read_comments(account, None)
    assert failed.value.kind == "transient" and taken_down.value.kind == "permanent"


async def test_an_expired_session_is_renewed_once(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, requests_seen: list[str]
) -> None:
    adapter, account = BlueskyAdapter(http), page("bluesky", "lyon", base_url)
    await adapter.read_comments(account, None)  # logged in
    await arm("bluesky", "lyon", "expired_token", on="read_comments")
    await people_write(base_url, "bluesky", account="lyon", count=1)

    batch = await adapter.read_comments(account, None)

    assert len(batch.items) == 1
    assert sum("refreshSession" in seen for seen in requests_seen) == 1
