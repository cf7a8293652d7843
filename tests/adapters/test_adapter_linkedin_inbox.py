"""The LinkedIn adapter reads the comments on the organization's recent posts (issue #15) from the
emulator's Get Comments on Shares: each once, oldest first, across reads and pages, per post from the
newest millisecond read; posts named by the dispatcher read too; errors in kinds.

Expected values come from the policy (the module docstring of the adapter), not from a recording."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import aiohttp
import pytest
from adapter_kit import Arm, page

from services.dispatcher.adapters import DeliveryError, PageAccount
from services.dispatcher.adapters.conversations import CursorExpired
from services.dispatcher.adapters.linkedin import LinkedInAdapter


async def _write(base_url: str, **body: Any) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base_url}/_sandbox/linkedin/comments", json=body) as response,
    ):
        assert response.status == 201, await response.text()
        items: list[dict[str, Any]] = (await response.json())["items"]
        return items


async def _post(http: aiohttp.ClientSession, account: PageAccount, text: str) -> str:
    publication = await LinkedInAdapter(http).publish(account, [text], idempotency_key=text)
    return publication.remote_id


async def test_comments_on_each_post_arrive_once_oldest_first_across_reads(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    account = page("linkedin", "123", base_url)
    forum, salon = await _post(http, account, "Forum emploi"), await _post(http, account, "Salon")
    adapter = LinkedInAdapter(http)
    [on_forum] = await _write(base_url, account="123", post=forum, texts=["Où ?"], created_ms=1_000)
    [on_salon] = await _write(base_url, account="123", post=salon, texts=["Quand ?"], created_ms=2_000)
    [later] = await _write(base_url, account="123", post=forum, texts=["Merci"], created_ms=3_000)

    batch = await adapter.read_comments(account, None)

    assert [(i.item_id, i.kind, i.text, i.remote_post_id) for i in batch.items] == [
        (on_forum["comment_urn"], "comment", "Où ?", forum),
        (on_salon["comment_urn"], "comment", "Quand ?", salon),
        (later["comment_urn"], "comment", "Merci", forum),
    ]
    first = batch.items[0]
    assert (first.root_id, first.parent_id, first.created_at) == (on_forum["comment_urn"], None, 1.0)
    assert first.author_id == "urn:li:person:citoyen1"
    assert first.url is not None and first.url.startswith(f"https://www.linkedin.com/feed/update/{forum}/")
    assert (await adapter.read_comments(account, batch.cursor)).items == ()

    [same_ms] = await _write(base_url, account="123", post=forum, texts=["Et moi"], created_ms=3_000)
    [newer] = await _write(base_url, account="123", post=salon, texts=["Lien ?"])
    after = await adapter.read_comments(account, batch.cursor)
    assert [i.item_id for i in after.items] == [same_ms["comment_urn"], newer["comment_urn"]]
    assert (await adapter.read_comments(account, after.cursor)).items == ()


async def test_every_page_of_a_posts_comments_is_read_and_each_comment_kept_once(
    http: aiohttp.ClientSession, base_url: str, requests_seen: list[str]
) -> None:
    account = page("linkedin", "123", base_url)
    forum = await _post(http, account, "Forum emploi")
    adapter = LinkedInAdapter(http)
    cursor = (await adapter.read_comments(account, None)).cursor
    written = await _write(base_url, account="123", post=forum, count=250, created_ms=5_000)
    requests_seen.clear()

    batch = await adapter.read_comments(account, cursor)

    assert sorted(i.item_id for i in batch.items) == sorted(c["comment_urn"] for c in written)
    assert sum("/comments?" in line for line in requests_seen) == 3
    assert (await adapter.read_comments(account, batch.cursor)).items == ()


async def test_posts_the_dispatcher_names_are_read_beyond_the_newest_ones(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    account = page("linkedin", "123", base_url)
    oldest = await _post(http, account, "Le tout premier")
    for number in range(20):  # the newest 20 posts push the first one out of the finder's window
        await _post(http, account, f"Annonce {number}")
    [question] = await _write(base_url, account="123", post=oldest, texts=["Encore valable ?"])
    adapter = LinkedInAdapter(http)

    assert (await adapter.read_comments(account, None)).items == ()
    named = dataclasses.replace(account, recent_posts=(oldest,))
    batch = await adapter.read_comments(named, None)
    assert [i.item_id for i in batch.items] == [question["comment_urn"]]


async def test_a_post_linkedin_no_longer_has_is_skipped_and_forgotten(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    account = page("linkedin", "123", base_url)
    forum = await _post(http, account, "Forum emploi")
    [question] = await _write(base_url, account="123", post=forum, texts=["Où ?"])
    gone = "urn:li:share:7000000000000000000"
    named = dataclasses.replace(account, recent_posts=(gone,))

    batch = await LinkedInAdapter(http).read_comments(named, json.dumps({"v": 1, "posts": {gone: [0, []]}}))

    assert [i.item_id for i in batch.items] == [question["comment_urn"]]
    assert gone not in json.loads(batch.cursor or "{}")["posts"]


async def test_read_errors_come_in_their_kinds(http: aiohttp.ClientSession, base_url: str, arm: Arm) -> None:
    account = page("linkedin", "123", base_url)
    await _post(http, account, "Forum emploi")
    adapter = LinkedInAdapter(http)
    cursor = (await adapter.read_comments(account, None)).cursor

    with pytest.raises(DeliveryError) as expired:
        await adapter.read_comments(page("linkedin", "123", base_url, token="sbx-expired-123"), cursor)
    assert (expired.value.kind, expired.value.network_code) == ("auth", "EXPIRED_ACCESS_TOKEN")

    # The finder is read first: a fault on reads meets the comments, after the posts were listed.
    await arm("linkedin", "123", "rate_limit", on="read_comments")
    with pytest.raises(DeliveryError) as throttled:
        await adapter.read_comments(account, cursor)
    assert (throttled.value.kind, throttled.value.throttled, throttled.value.scope) == (
        "transient",
        True,
        "app",
    )

    await arm("linkedin", "123", "server_error", on="read_comments")
    with pytest.raises(DeliveryError) as unavailable:
        await adapter.read_comments(account, cursor)
    assert unavailable.value.kind == "transient"

    await arm("linkedin", "123", "blocked", on="read_comments")
    with pytest.raises(DeliveryError) as denied:
        await adapter.read_comments(account, cursor)
    assert denied.value.kind == "auth" and "r_organization_social" in denied.value.message
    assert "sbx-linkedin-123" not in denied.value.message


@pytest.mark.parametrize(
    "cursor",
    ["not json", json.dumps({"v": 2, "posts": {}}), json.dumps({"v": 1, "posts": []})],
    ids=["garbage", "another version", "posts not a map"],
)
async def test_a_cursor_the_reader_cannot_read_is_expired(
    http: aiohttp.ClientSession, base_url: str, cursor: str
) -> None:
    with pytest.raises(CursorExpired):
        await LinkedInAdapter(http).read_comments(page("linkedin", "123", base_url), cursor)


async def test_comments_written_while_a_read_pages_are_neither_lost_nor_doubled(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, requests_seen: list[str]
) -> None:
    """`start` is an offset in a list shown newest first: new comments shift it under a read."""
    account = page("linkedin", "123", base_url)
    forum = await _post(http, account, "Forum emploi")
    adapter = LinkedInAdapter(http)
    cursor = (await adapter.read_comments(account, None)).cursor
    older = await _write(base_url, account="123", post=forum, count=150, created_ms=10_000)
    await arm("linkedin", "123", "slow", seconds=0.5, times=0, on="read_comments")
    requests_seen.clear()

    reading = asyncio.create_task(adapter.read_comments(account, cursor))
    for _wait in range(500):  # until the second page is asked (5 s at most)
        if sum("/comments?" in line for line in requests_seen) >= 2:
            break
        await asyncio.sleep(0.01)
    newer = await _write(base_url, account="123", post=forum, count=10, created_ms=20_000)
    batch = await reading

    assert sorted(i.item_id for i in batch.items) == sorted(c["comment_urn"] for c in older)
    async with http.delete(f"{base_url}/_sandbox/faults") as response:
        assert response.status == 200
    after = await adapter.read_comments(account, batch.cursor)
    assert sorted(i.item_id for i in after.items) == sorted(c["comment_urn"] for c in newer)


async def test_what_the_organization_writes_itself_is_read_past_never_returned(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    account = page("linkedin", "123", base_url)
    forum = await _post(http, account, "Forum emploi")
    [question] = await _write(base_url, account="123", post=forum, texts=["Où ?"], created_ms=1_000)
    await _write(
        base_url,
        account="123",
        post=forum,
        texts=["Salle B"],
        actor="urn:li:organization:123",
        created_ms=2_000,
    )
    adapter = LinkedInAdapter(http)

    batch = await adapter.read_comments(account, None)

    assert [i.item_id for i in batch.items] == [question["comment_urn"]]
    assert json.loads(batch.cursor or "{}")["posts"][forum][0] == 2.0  # read past the answer
