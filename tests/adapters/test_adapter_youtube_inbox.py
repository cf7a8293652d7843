"""The YouTube adapter reads what people write on the channel (issue #15) from the emulator's
commentThreads.list and comments.list: each comment and reply once, oldest first, across reads and
pages, never losing one written in the same second as the last one read; errors in kinds.

Expected values come from the policy (the module docstring of the adapter), not from a recording."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from adapter_kit import Arm, media_for, page

from services.dispatcher.adapters import DeliveryError, PageAccount
from services.dispatcher.adapters.conversations import CursorExpired, InboxBatch
from services.dispatcher.adapters.youtube import YouTubeAdapter
from shared.schemas import INBOX_KINDS


async def _write(base_url: str, **body: Any) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base_url}/_sandbox/youtube/comments", json=body) as response,
    ):
        assert response.status == 201, await response.text()
        items: list[dict[str, Any]] = (await response.json())["items"]
        return items


async def _channel_with_video(
    http: aiohttp.ClientSession, base_url: str, handle: str = "lyon"
) -> tuple[PageAccount, str]:
    account = page("youtube", handle, base_url)
    video = await YouTubeAdapter(http).publish(
        account, ["Atelier CV"], idempotency_key=f"k-{handle}", media=media_for("youtube", base_url)
    )
    return account, video.remote_id


async def test_comments_and_replies_arrive_once_oldest_first_across_reads(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    account, video = await _channel_with_video(http, base_url)
    adapter = YouTubeAdapter(http)
    [first] = await _write(
        base_url,
        account="lyon",
        texts=["Horaires <samedi> & dimanche ?"],
        published_at="2026-12-01T09:00:00Z",
    )
    [second] = await _write(
        base_url, account="lyon", texts=["Adresse ?"], published_at="2026-12-01T09:05:00Z"
    )
    [answer] = await _write(
        base_url,
        account="lyon",
        reply_to=first["id"],
        texts=["Moi aussi"],
        published_at="2026-12-01T09:07:00Z",
    )

    batch = await adapter.read_comments(account, None)

    assert [(i.item_id, i.kind, i.text) for i in batch.items] == [
        (first["id"], "comment", "Horaires <samedi> & dimanche ?"),
        (second["id"], "comment", "Adresse ?"),
        (answer["id"], "reply", "Moi aussi"),
    ]
    reply = batch.items[2]
    assert (reply.root_id, reply.parent_id, reply.remote_post_id) == (first["id"], first["id"], video)
    top = batch.items[0]
    assert (top.root_id, top.parent_id, top.remote_post_id) == (first["id"], None, video)
    assert top.url == f"https://www.youtube.com/watch?v={video}&lc={first['id']}"
    assert all(item.kind in INBOX_KINDS and item.author_name for item in batch.items)

    again = await adapter.read_comments(account, batch.cursor)
    assert again.items == ()

    [late_reply] = await _write(base_url, account="lyon", reply_to=second["id"], texts=["Et le samedi ?"])
    [third] = await _write(base_url, account="lyon", texts=["Merci"])
    after = await adapter.read_comments(account, again.cursor)
    assert sorted(i.item_id for i in after.items) == sorted([late_reply["id"], third["id"]])
    assert (await adapter.read_comments(account, after.cursor)).items == ()


async def test_comments_written_in_the_second_already_read_are_not_lost(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    """YouTube dates comments to the second: the mark keeps the ids of its second."""
    account, _video = await _channel_with_video(http, base_url)
    adapter = YouTubeAdapter(http)
    second = "2026-12-01T10:00:00Z"
    earlier = await _write(base_url, account="lyon", count=3, published_at=second)
    batch = await adapter.read_comments(account, None)
    assert {i.item_id for i in batch.items} == {c["id"] for c in earlier}

    later = await _write(base_url, account="lyon", count=2, published_at=second)
    after = await adapter.read_comments(account, batch.cursor)
    assert {i.item_id for i in after.items} == {c["id"] for c in later}


async def test_a_read_pages_down_to_its_mark_and_keeps_every_thread_once(
    http: aiohttp.ClientSession, base_url: str, requests_seen: list[str]
) -> None:
    account, _video = await _channel_with_video(http, base_url)
    adapter = YouTubeAdapter(http)
    batch = await adapter.read_comments(account, None)
    assert batch.items == ()
    written = []
    for minute in range(25):  # 250 threads: three pages of 100, newest first
        written += await _write(
            base_url, account="lyon", count=10, published_at=f"2026-12-02T08:{minute:02d}:00Z"
        )
    requests_seen.clear()

    after = await adapter.read_comments(account, batch.cursor)

    assert len(after.items) == 250
    assert [i.item_id for i in after.items if i.created_at is not None] == [i.item_id for i in after.items]
    times = [i.created_at or 0.0 for i in after.items]
    assert times == sorted(times)
    assert {i.item_id for i in after.items} == {c["id"] for c in written}
    assert sum("/youtube/v3/commentThreads" in line for line in requests_seen) == 3
    requests_seen.clear()
    assert (await adapter.read_comments(account, after.cursor)).items == ()
    assert [line for line in requests_seen if "/youtube/v3/" in line] == [  # 1 quota unit when nothing is new
        line for line in requests_seen if "/youtube/v3/commentThreads" in line
    ]
    assert len(requests_seen) == 1


async def test_a_thread_with_more_replies_than_it_carries_is_read_whole(
    http: aiohttp.ClientSession, base_url: str, requests_seen: list[str]
) -> None:
    account, _video = await _channel_with_video(http, base_url)
    adapter = YouTubeAdapter(http)
    [thread] = await _write(base_url, account="lyon", texts=["Question"])
    replies = await _write(base_url, account="lyon", reply_to=thread["id"], count=7)

    batch = await adapter.read_comments(account, None)

    assert {i.item_id for i in batch.items if i.kind == "reply"} == {r["id"] for r in replies}
    assert any("/youtube/v3/comments?" in line for line in requests_seen)
    more = await _write(base_url, account="lyon", reply_to=thread["id"], count=2)
    after = await adapter.read_comments(account, batch.cursor)
    assert {i.item_id for i in after.items} == {r["id"] for r in more}


async def test_read_errors_come_in_their_kinds(http: aiohttp.ClientSession, base_url: str, arm: Arm) -> None:
    account, _video = await _channel_with_video(http, base_url)
    adapter = YouTubeAdapter(http)
    cursor = (await adapter.read_comments(account, None)).cursor

    expired = page("youtube", "lyon", base_url, token="sbx-expired-lyon")
    with pytest.raises(DeliveryError) as refused:
        await adapter.read_comments(expired, cursor)
    assert (refused.value.kind, refused.value.network_code) == ("auth", "authError")

    await arm("youtube", "lyon", "rate_limit", on="read_comments")
    with pytest.raises(DeliveryError) as quota:
        await adapter.read_comments(account, cursor)
    assert (quota.value.kind, quota.value.network_code, quota.value.throttled) == (
        "transient",
        "quotaExceeded",
        True,
    )
    assert quota.value.retry_after is not None and 0 < quota.value.retry_after <= 24 * 3600

    await arm("youtube", "lyon", "server_error", on="read_comments")
    with pytest.raises(DeliveryError) as unavailable:
        await adapter.read_comments(account, cursor)
    assert unavailable.value.kind == "transient"

    await arm("youtube", "lyon", "blocked", on="read_comments")
    with pytest.raises(DeliveryError) as disabled:
        await adapter.read_comments(account, cursor)
    assert (disabled.value.kind, disabled.value.network_code) == ("permanent", "commentsDisabled")
    assert "sbx-youtube-lyon" not in disabled.value.message


async def test_a_fault_armed_for_posts_is_left_to_the_post(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    account, _video = await _channel_with_video(http, base_url)
    await arm("youtube", "lyon", "server_error")
    await YouTubeAdapter(http).read_comments(account, None)
    async with http.get(f"{base_url}/_sandbox/faults") as response:
        faults = (await response.json())["faults"]
    assert [(f["mode"], f["on"]) for f in faults] == [("server_error", "post")]


@pytest.mark.parametrize(
    "cursor",
    ["not json", "[1, 2]", json.dumps({"v": 0}), json.dumps({"v": 1, "threads": ["x", []]})],
    ids=["garbage", "a list", "another version", "a bad mark"],
)
async def test_a_cursor_the_reader_cannot_read_is_expired(
    http: aiohttp.ClientSession, base_url: str, cursor: str
) -> None:
    account, _video = await _channel_with_video(http, base_url)
    with pytest.raises(CursorExpired):
        await YouTubeAdapter(http).read_comments(account, cursor)


async def test_a_cursor_naming_a_channel_youtube_no_longer_knows_is_expired(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    account, _video = await _channel_with_video(http, base_url)
    adapter = YouTubeAdapter(http)
    fields = json.loads((await adapter.read_comments(account, None)).cursor or "{}")
    gone = json.dumps({**fields, "channel": "UCdeletedchannel0000000"})
    with pytest.raises(CursorExpired):
        await adapter.read_comments(account, gone)
    fresh: InboxBatch = await adapter.read_comments(account, None)  # what the reader does next
    assert fresh.cursor is not None


async def test_threads_written_while_a_read_pages_are_neither_lost_nor_doubled(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, requests_seen: list[str]
) -> None:
    """A page token is an offset: new threads shift the listing under a read that is paging."""
    account, _video = await _channel_with_video(http, base_url)
    adapter = YouTubeAdapter(http)
    cursor = (await adapter.read_comments(account, None)).cursor
    older = await _write(base_url, account="lyon", count=150, published_at="2026-12-03T08:00:00Z")
    await arm("youtube", "lyon", "slow", seconds=0.5, times=0, on="read_comments")
    requests_seen.clear()

    reading = asyncio.create_task(adapter.read_comments(account, cursor))
    for _wait in range(500):  # until the second page is asked (5 s at most)
        if sum("/commentThreads" in line for line in requests_seen) >= 2:
            break
        await asyncio.sleep(0.01)
    newer = await _write(base_url, account="lyon", count=10, published_at="2026-12-03T09:00:00Z")
    batch = await reading

    ids = [i.item_id for i in batch.items]
    assert sorted(ids) == sorted(c["id"] for c in older)  # each once: the shifted ten are not doubled
    async with http.delete(f"{base_url}/_sandbox/faults") as response:
        assert response.status == 200
    after = await adapter.read_comments(account, batch.cursor)
    assert sorted(i.item_id for i in after.items) == sorted(c["id"] for c in newer)


async def test_the_cursor_follows_the_replies_of_a_bounded_number_of_threads(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    account, _video = await _channel_with_video(http, base_url)
    adapter = YouTubeAdapter(http)
    cursor = (await adapter.read_comments(account, None)).cursor
    written = []
    for minute in range(32):
        written += await _write(
            base_url, account="lyon", count=10, published_at=f"2026-12-04T08:{minute:02d}:00Z"
        )

    batch = await adapter.read_comments(account, cursor)

    assert len(batch.items) == 320
    followed = json.loads(batch.cursor or "{}")["replies"]
    assert len(followed) == 300
    assert {c["id"] for c in written[-100:]} <= set(followed)  # the newest threads are followed

    [newest] = await _write(base_url, account="lyon", texts=["Encore une"])
    after = await adapter.read_comments(account, batch.cursor)
    still = json.loads(after.cursor or "{}")["replies"]
    assert set(still) == {newest["id"], *(c["id"] for c in written[-299:])}  # the oldest followed is let go


async def test_what_the_channel_writes_itself_is_read_past_never_returned(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    """The inbox holds what people send: the channel's own answers are not questions."""
    account, _video = await _channel_with_video(http, base_url)
    adapter = YouTubeAdapter(http)
    [question] = await _write(base_url, account="lyon", texts=["Horaires ?"])
    [answer] = await _write(
        base_url, account="lyon", reply_to=question["id"], texts=["9h-17h"], as_channel=True
    )
    [own] = await _write(base_url, account="lyon", texts=["Rappel : fermé lundi"], as_channel=True)
    [follow_up] = await _write(base_url, account="lyon", reply_to=question["id"], texts=["Merci !"])

    batch = await adapter.read_comments(account, None)

    assert [i.item_id for i in batch.items] == [question["id"], follow_up["id"]]
    assert answer["id"] not in {i.item_id for i in batch.items} and own["id"] not in {
        i.item_id for i in batch.items
    }
    assert (await adapter.read_comments(account, batch.cursor)).items == ()
