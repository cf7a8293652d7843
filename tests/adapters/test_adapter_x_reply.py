"""The X adapter answers people (`reply`) and finds an interrupted answer again (`find_reply`).

Expected behaviour, from docs.x.com, written by hand: a reply is `POST /2/tweets` with
`reply.in_reply_to_tweet_id` = the post answered; a post that is deleted or not visible is 403
(permanent, in words); X keeps no idempotency key, so `find_reply` reads the page's own timeline and
recognises a post that `replied_to` the item with this text, and nobody else's.
"""

from __future__ import annotations

import aiohttp
import pytest
from adapter_kit import Arm, Received, page
from reply_kit import answering, people_write

from services.dispatcher.adapters import DeliveryError
from services.dispatcher.adapters.base import UnknownOutcome
from services.dispatcher.adapters.conversations import ReplyTarget
from services.dispatcher.adapters.x import XAdapter

TEXT = "Bonjour, l'atelier CV a lieu jeudi à 14 h, salle 2."


async def test_a_reply_is_a_post_replying_to_the_item(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    adapter, account = XAdapter(http), page("x", "lyon", base_url)
    (question,) = await people_write(base_url, "x", "lyon", texts=["Quand est l'atelier CV ?"])

    published = await adapter.reply(account, TEXT, answering(question), idempotency_key="p1.x.lyon")

    (post,) = await received(network="x")
    assert post["body"] == {"text": TEXT, "reply": {"in_reply_to_tweet_id": question["item_id"]}}
    assert post["reply_to"] == question["item_id"]
    assert published.remote_id == post["remote_id"] and published.part_ids == (post["remote_id"],)
    assert published.url == f"https://x.com/lyon/status/{post['remote_id']}"


async def test_a_reply_to_an_unknown_post_fails_permanently_in_words(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    adapter, account = XAdapter(http), page("x", "lyon", base_url)

    with pytest.raises(DeliveryError) as refused:
        await adapter.reply(account, TEXT, ReplyTarget("4242", "4242", "mention"), idempotency_key="k")

    assert refused.value.kind == "permanent" and refused.value.network_code == "403"
    assert "deleted or not visible" in refused.value.message
    assert await received(network="x") == []


async def test_find_reply_finds_the_pages_own_answer_and_nothing_else(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    adapter, account = XAdapter(http), page("x", "lyon", base_url)
    question, other = await people_write(base_url, "x", "lyon", count=2)
    target = answering(question)

    assert await adapter.find_reply(account, TEXT, target, since=0.0) is None
    # A person answers with the same words; the page answers another question in other words (X
    # refuses the same text twice from one account).
    await people_write(base_url, "x", "lyon", texts=[TEXT], reply_to=question["item_id"])
    await adapter.reply(account, "Autre réponse", answering(other), idempotency_key="other")
    assert await adapter.find_reply(account, TEXT, target, since=0.0) is None
    assert await adapter.find_reply(account, "Autre réponse", target, since=0.0) is None

    published = await adapter.reply(account, TEXT, target, idempotency_key="this")

    found = await adapter.find_reply(account, TEXT, target, since=0.0)
    assert found is not None and found.remote_id == published.remote_id


async def test_an_interrupted_reply_is_found_again(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, received: Received
) -> None:
    adapter = XAdapter(http, timeout=aiohttp.ClientTimeout(total=1))
    account = page("x", "lyon", base_url)
    (question,) = await people_write(base_url, "x", "lyon", count=1)
    await arm("x", "lyon", "timeout_after_create", seconds=3)

    with pytest.raises(UnknownOutcome):
        await adapter.reply(account, TEXT, answering(question), idempotency_key="k")

    (post,) = await received(network="x")
    found = await adapter.find_reply(account, TEXT, answering(question), since=0.0)
    assert found is not None and found.remote_id == post["remote_id"]
