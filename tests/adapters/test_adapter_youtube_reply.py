"""The YouTube adapter answers people's comments (issue #15) with comments.insert under the thread's
first comment, and finds the channel's own reply again with comments.list, and nothing else.

Expected values come from the policy (the adapter's module docstring, YouTube's documentation), not
from a recording."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest
from adapter_kit import Arm, Received, media_for, page

from services.dispatcher.adapters import DeliveryError, PageAccount, UnknownOutcome
from services.dispatcher.adapters.conversations import ReplyTarget
from services.dispatcher.adapters.youtube import YouTubeAdapter


async def _write(base_url: str, **body: Any) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base_url}/_sandbox/youtube/comments", json=body) as response,
    ):
        assert response.status == 201, await response.text()
        items: list[dict[str, Any]] = (await response.json())["items"]
        return items


async def _thread(
    http: aiohttp.ClientSession, base_url: str, handle: str = "lyon"
) -> tuple[PageAccount, str]:
    account = page("youtube", handle, base_url)
    await YouTubeAdapter(http).publish(
        account, ["Atelier CV"], idempotency_key=f"k-{handle}", media=media_for("youtube", base_url)
    )
    [comment] = await _write(base_url, account=handle, texts=["Quand a lieu l'atelier ?"])
    return account, str(comment["id"])


async def _replies(http: aiohttp.ClientSession, base_url: str, thread: str) -> list[dict[str, Any]]:
    async with http.get(
        f"{base_url}/youtube/v3/comments",
        params={"part": "snippet", "parentId": thread, "textFormat": "plainText"},
        headers={"Authorization": "Bearer sbx-youtube-lyon"},
    ) as response:
        assert response.status == 200, await response.text()
        items: list[dict[str, Any]] = (await response.json())["items"]
        return items


async def test_a_reply_lands_in_the_thread_once_and_is_found_again(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    account, thread = await _thread(http, base_url)
    adapter, target = YouTubeAdapter(http), ReplyTarget(item_id=thread, root_id=thread, kind="comment")
    before = time.time()

    publication = await adapter.reply(account, "Mardi à 10 h.", target, idempotency_key="r1")

    [answer] = await _replies(http, base_url, thread)
    assert (answer["id"], answer["snippet"]["textDisplay"]) == (publication.remote_id, "Mardi à 10 h.")
    assert answer["snippet"]["parentId"] == thread
    assert f"&lc={publication.remote_id}" in publication.url
    stored = [p for p in await received(network="youtube") if p["reply_to"]]
    assert [(p["remote_id"], p["reply_to"]) for p in stored] == [(publication.remote_id, thread)]
    found = await adapter.find_reply(account, "Mardi à  10 h.", target, since=before)
    assert found is not None and found.remote_id == publication.remote_id
    # The answer is not one of the channel's videos: publishing's read-back still finds the video alone.
    assert await adapter.find(account, ["Mardi à 10 h."], idempotency_key="r1", since=0) is None
    video = await adapter.find(account, ["Atelier CV"], idempotency_key="k-lyon", since=0)
    assert video is not None and video.remote_id != publication.remote_id


async def test_a_reply_to_a_reply_goes_under_the_threads_first_comment(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    account, thread = await _thread(http, base_url)
    [person] = await _write(base_url, account="lyon", reply_to=thread, texts=["Et le jeudi ?"])
    adapter = YouTubeAdapter(http)

    await adapter.reply(
        account, "Jeudi aussi.", ReplyTarget(person["id"], thread, "reply"), idempotency_key="r1"
    )

    replies = await _replies(http, base_url, thread)
    assert [r["snippet"]["textDisplay"] for r in replies] == ["Et le jeudi ?", "Jeudi aussi."]


async def test_find_reply_ignores_peoples_answers_other_texts_and_older_replies(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    account, thread = await _thread(http, base_url)
    adapter, target = YouTubeAdapter(http), ReplyTarget(thread, thread, "comment")
    await _write(base_url, account="lyon", reply_to=thread, texts=["Merci"])
    assert await adapter.find_reply(account, "Merci", target, since=time.time()) is None

    await adapter.reply(account, "Merci", target, idempotency_key="r1")

    assert await adapter.find_reply(account, "Merci !", target, since=time.time()) is None
    assert await adapter.find_reply(account, "Merci", target, since=time.time() + 3600) is None
    assert await adapter.find_reply(account, "Merci", target, since=time.time() - 60) is not None


async def test_a_reply_whose_answer_is_lost_is_unknown_then_found_once(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    account, thread = await _thread(http, base_url)
    adapter, target = YouTubeAdapter(http), ReplyTarget(thread, thread, "comment")
    await arm("youtube", "lyon", "disconnect_after_create")
    before = time.time()

    with pytest.raises(UnknownOutcome):
        await adapter.reply(account, "Bonjour", target, idempotency_key="r1")

    found = await adapter.find_reply(account, "Bonjour", target, since=before)
    assert found is not None
    assert [r["id"] for r in await _replies(http, base_url, thread)] == [found.remote_id]


async def test_reply_errors_are_mapped_to_their_kinds(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    account, thread = await _thread(http, base_url)
    adapter, target = YouTubeAdapter(http), ReplyTarget(thread, thread, "comment")

    await arm("youtube", "lyon", "expired_token")
    with pytest.raises(DeliveryError) as expired:
        await adapter.reply(account, "Bonjour", target, idempotency_key="r1")
    assert expired.value.kind == "auth"

    await arm("youtube", "lyon", "rate_limit")
    with pytest.raises(DeliveryError) as limited:
        await adapter.reply(account, "Bonjour", target, idempotency_key="r1")
    assert (limited.value.kind, limited.value.throttled, limited.value.network_code) == (
        "transient",
        True,
        "quotaExceeded",
    )

    await arm("youtube", "lyon", "blocked")
    with pytest.raises(DeliveryError) as disabled:
        await adapter.reply(account, "Bonjour", target, idempotency_key="r1")
    assert (disabled.value.kind, disabled.value.network_code) == ("permanent", "commentsDisabled")
    assert await _replies(http, base_url, thread) == []


async def test_a_deleted_or_another_channels_comment_is_a_permanent_refusal(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    account, thread = await _thread(http, base_url)
    _other, elsewhere = await _thread(http, base_url, handle="paris")
    adapter = YouTubeAdapter(http)
    async with http.delete(f"{base_url}/_sandbox/youtube/comments/{thread}") as response:
        assert response.status == 200

    for gone in (thread, elsewhere):
        with pytest.raises(DeliveryError) as refused:
            await adapter.reply(account, "Bonjour", ReplyTarget(gone, gone, "comment"), idempotency_key="r1")
        assert (refused.value.kind, refused.value.network_code) == ("permanent", "parentCommentNotFound")


async def test_an_answer_costs_fifty_units_of_the_days_quota(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    """ "Quota": comments.insert costs 50 units of the 10,000 a day that reads share: 200 answers."""
    account, thread = await _thread(http, base_url)
    adapter, target = YouTubeAdapter(http), ReplyTarget(thread, thread, "comment")
    for number in range(199):
        await adapter.reply(account, f"Réponse {number}", target, idempotency_key=f"r{number}")
    # 9,950 units spent: 50 are left, for one more answer (and not even a read after it).
    await adapter.reply(account, "La dernière", target, idempotency_key="last")
    with pytest.raises(DeliveryError) as spent:
        await adapter.reply(account, "Une de trop", target, idempotency_key="over")
    assert spent.value.network_code == "quotaExceeded"
