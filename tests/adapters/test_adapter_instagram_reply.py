"""The Instagram adapter answers people's comments (issue #15) with "IG Comment › Replies", and finds
the account's own reply again among a comment's replies, and nothing else.

Expected values come from the policy (the adapter's module docstring, Meta's documentation), not
from a recording."""

from __future__ import annotations

import time

import aiohttp
import pytest
from adapter_kit import Arm, Received, delete_audience, page, write_audience

from services.dispatcher.adapters import DeliveryError, UnknownOutcome
from services.dispatcher.adapters.conversations import ReplyTarget
from services.dispatcher.adapters.instagram import InstagramAdapter

ACCOUNT = "17841400000000001"


async def _comment(base_url: str, account: str = ACCOUNT, **extra: object) -> ReplyTarget:
    [item] = await write_audience(
        base_url, network="instagram", account=account, kind="comment", texts=["Horaires ?"], **extra
    )
    return ReplyTarget(item_id=item["id"], root_id=item["root_id"], kind="comment")


async def test_a_reply_lands_under_the_comment_once_and_is_found_again(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    account, adapter = page("instagram", ACCOUNT, base_url), InstagramAdapter(http)
    target = await _comment(base_url)
    before = time.time()

    publication = await adapter.reply(account, "De 9 h à 17 h.", target, idempotency_key="r1")

    stored = await received(network="instagram")
    assert [(p["remote_id"], p["text"], p["reply_to"]) for p in stored] == [
        (publication.remote_id, "De 9 h à 17 h.", target.item_id)
    ]
    assert "access_token" not in stored[0]["body"]
    found = await adapter.find_reply(account, "De 9 h  à 17 h.", target, since=before)
    assert found is not None and found.remote_id == publication.remote_id
    # A reply is not one of the account's media: publishing's read-back does not see it.
    assert await adapter.find(account, ["De 9 h à 17 h."], idempotency_key="r1", since=0) is None


async def test_a_reply_to_a_reply_joins_the_top_level_comment(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    account, adapter = page("instagram", ACCOUNT, base_url), InstagramAdapter(http)
    top = await _comment(base_url)
    [answer] = await write_audience(
        base_url,
        network="instagram",
        account=ACCOUNT,
        kind="comment",
        parent=top.item_id,
        texts=["Et samedi ?"],
    )
    target = ReplyTarget(item_id=answer["id"], root_id=top.root_id, kind="reply")

    await adapter.reply(account, "Fermé le samedi.", target, idempotency_key="r1")

    assert [p["reply_to"] for p in await received(network="instagram")] == [top.item_id]
    assert await adapter.find_reply(account, "Fermé le samedi.", top, since=time.time()) is not None
    assert await adapter.find_reply(account, "Fermé le samedi.", target, since=time.time()) is not None


async def test_find_reply_ignores_peoples_answers_other_texts_and_older_replies(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    account, adapter = page("instagram", ACCOUNT, base_url), InstagramAdapter(http)
    target = await _comment(base_url)
    await write_audience(
        base_url, network="instagram", account=ACCOUNT, kind="comment", parent=target.item_id, texts=["Merci"]
    )
    assert await adapter.find_reply(account, "Merci", target, since=time.time()) is None

    await adapter.reply(account, "Merci", target, idempotency_key="r1")

    assert await adapter.find_reply(account, "Merci beaucoup", target, since=time.time()) is None
    assert await adapter.find_reply(account, "Merci", target, since=time.time() + 3600) is None
    assert await adapter.find_reply(account, "Merci", target, since=time.time() - 60) is not None


async def test_a_reply_whose_answer_is_lost_is_unknown_then_found_once(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, received: Received
) -> None:
    account, adapter = page("instagram", ACCOUNT, base_url), InstagramAdapter(http)
    target = await _comment(base_url)
    await arm("instagram", ACCOUNT, "disconnect_after_create")
    before = time.time()

    with pytest.raises(UnknownOutcome):
        await adapter.reply(account, "Bonjour", target, idempotency_key="r1")

    found = await adapter.find_reply(account, "Bonjour", target, since=before)
    assert found is not None
    assert [p["remote_id"] for p in await received(network="instagram")] == [found.remote_id]


async def test_reply_errors_are_mapped_to_their_kinds(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, received: Received
) -> None:
    account, adapter = page("instagram", ACCOUNT, base_url), InstagramAdapter(http)
    target = await _comment(base_url)

    await arm("instagram", ACCOUNT, "expired_token")
    with pytest.raises(DeliveryError) as expired:
        await adapter.reply(account, "Bonjour", target, idempotency_key="r1")
    assert expired.value.kind == "auth"

    await arm("instagram", ACCOUNT, "rate_limit")
    with pytest.raises(DeliveryError) as limited:
        await adapter.reply(account, "Bonjour", target, idempotency_key="r1")
    assert (limited.value.kind, limited.value.throttled) == ("transient", True)

    await delete_audience(base_url, "instagram", target.item_id)
    elsewhere = await _comment(base_url, account="17841400000000002")
    for gone in (target, elsewhere):
        with pytest.raises(DeliveryError) as refused:
            await adapter.reply(account, "Bonjour", gone, idempotency_key="r1")
        assert refused.value.kind == "permanent"
    assert await received(network="instagram") == []
