"""The Mastodon adapter answers people (`reply`) and finds an interrupted answer again (`find_reply`).

Expected behaviour, from docs.joinmastodon.org, written by hand: a reply is `POST /api/v1/statuses`
with `in_reply_to_id` = the status answered and the delivery's `Idempotency-Key` (sent again within
the hour, the same status comes back); the answered status's visibility when narrower than `public`,
`direct` for a private message; it mentions the author (`@acct`, once, never the page itself: Mastodon
notifies only who a status mentions); an unknown status is 404 (a permanent failure, in words); the
answer is among the answered status's descendants (`GET /api/v1/statuses/:id/context`), where
`find_reply` recognises the page's own by its text, and nobody else's.
"""

from __future__ import annotations

import aiohttp
import pytest
from adapter_kit import Arm, Received, page
from reply_kit import answering, people_write

from services.dispatcher.adapters import DeliveryError
from services.dispatcher.adapters.base import UnknownOutcome
from services.dispatcher.adapters.conversations import ReplyTarget
from services.dispatcher.adapters.mastodon import MastodonAdapter

TEXT = "Bonjour, l'atelier CV a lieu jeudi à 14 h, salle 2."


async def test_a_reply_is_a_status_under_the_item_with_the_delivery_key(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    adapter, account = MastodonAdapter(http), page("mastodon", "lyon", base_url)
    (question,) = await people_write(
        base_url, "mastodon", "lyon", texts=["Quand est l'atelier CV ?"], author="ana"
    )

    published = await adapter.reply(account, TEXT, answering(question), idempotency_key="p1.mastodon.lyon")

    (status,) = await received(network="mastodon")
    assert status["reply_to"] == question["item_id"]
    assert status["idempotency_key"] == "p1.mastodon.lyon"
    assert status["body"]["in_reply_to_id"] == question["item_id"]
    assert status["body"]["visibility"] == "public"
    assert status["text"] == f"@ana@citoyens.example {TEXT}"
    assert published.remote_id == status["remote_id"] and published.part_ids == (status["remote_id"],)
    assert published.url.endswith(status["remote_id"])


async def test_the_same_key_within_the_hour_is_the_same_status(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    adapter, account = MastodonAdapter(http), page("mastodon", "lyon", base_url)
    (question,) = await people_write(base_url, "mastodon", "lyon", count=1)

    first = await adapter.reply(account, TEXT, answering(question), idempotency_key="p1.mastodon.lyon")
    again = await adapter.reply(account, TEXT, answering(question), idempotency_key="p1.mastodon.lyon")

    assert again.remote_id == first.remote_id
    assert len(await received(network="mastodon")) == 1


@pytest.mark.parametrize(
    "text",
    [f"@ana@citoyens.example {TEXT}", f"Bonjour @ana, {TEXT}", f"@ANA {TEXT}"],
)
async def test_an_author_already_named_is_not_named_twice(
    http: aiohttp.ClientSession, base_url: str, received: Received, text: str
) -> None:
    adapter, account = MastodonAdapter(http), page("mastodon", "lyon", base_url)
    (question,) = await people_write(base_url, "mastodon", "lyon", count=1, author="ana")

    await adapter.reply(account, text, answering(question), idempotency_key="k")

    (status,) = await received(network="mastodon")
    assert status["text"] == text


async def test_a_reply_to_the_pages_own_status_takes_its_visibility_and_names_no_one(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    account = page("mastodon", "lyon", base_url)
    ours = await MastodonAdapter(http, visibility="unlisted").publish(account, ["Forum"], idempotency_key="p")
    target = ReplyTarget(item_id=ours.remote_id, root_id=ours.remote_id, kind="comment")

    await MastodonAdapter(http).reply(account, TEXT, target, idempotency_key="k")

    _post, status = await received(network="mastodon")
    assert (status["text"], status["body"]["visibility"]) == (TEXT, "unlisted")


async def test_a_private_message_is_answered_privately_and_the_answer_found_again(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    adapter, account = MastodonAdapter(http), page("mastodon", "lyon", base_url)
    (question,) = await people_write(base_url, "mastodon", "lyon", count=1, author="ana", private=True)
    target = answering(question, kind="message")

    sent = await adapter.reply(account, TEXT, target, idempotency_key="k")

    (status,) = await received(network="mastodon")
    assert status["body"]["visibility"] == "direct" and status["text"] == f"@ana@citoyens.example {TEXT}"
    # A private answer is a status in the thread the page can read: an answer in doubt is looked up.
    assert MastodonAdapter.private_replies_read_back
    found = await adapter.find_reply(account, TEXT, target, since=0.0)
    assert found is not None and found.remote_id == sent.remote_id


async def test_a_reply_to_an_unknown_status_fails_permanently_in_words(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    adapter, account = MastodonAdapter(http), page("mastodon", "lyon", base_url)
    target = ReplyTarget(item_id="4242", root_id="4242", kind="mention")

    with pytest.raises(DeliveryError) as refused:
        await adapter.reply(account, TEXT, target, idempotency_key="k")

    assert refused.value.kind == "permanent" and refused.value.network_code == "404"
    assert "no longer has the status this reply answers" in refused.value.message
    assert await received(network="mastodon") == []


async def test_find_reply_finds_the_pages_own_answer_and_nothing_else(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    adapter, account = MastodonAdapter(http), page("mastodon", "lyon", base_url)
    question, other = await people_write(base_url, "mastodon", "lyon", count=2)
    target = answering(question)
    since = 0.0

    assert await adapter.find_reply(account, TEXT, target, since=since) is None
    # A person answers the question with the same words, the page answers another question: neither
    # is the page's answer to this one.
    await people_write(base_url, "mastodon", "lyon", texts=[TEXT], reply_to=question["item_id"])
    await adapter.reply(account, TEXT, answering(other), idempotency_key="other")
    assert await adapter.find_reply(account, TEXT, target, since=since) is None

    published = await adapter.reply(account, TEXT, target, idempotency_key="this")

    found = await adapter.find_reply(account, TEXT, target, since=since)
    assert found is not None and found.remote_id == published.remote_id
    assert found.part_ids == (published.remote_id,)
    assert await adapter.find_reply(account, "Autre texte", target, since=since) is None


async def test_an_interrupted_reply_is_found_again(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, received: Received
) -> None:
    adapter = MastodonAdapter(http, timeout=aiohttp.ClientTimeout(total=1))
    account = page("mastodon", "lyon", base_url)
    (question,) = await people_write(base_url, "mastodon", "lyon", count=1)
    await arm("mastodon", "lyon", "timeout_after_create", seconds=3)

    with pytest.raises(UnknownOutcome):
        await adapter.reply(account, TEXT, answering(question), idempotency_key="k")

    (status,) = await received(network="mastodon")
    found = await adapter.find_reply(account, TEXT, answering(question), since=0.0)
    assert found is not None and found.remote_id == status["remote_id"]


async def test_find_reply_under_a_deleted_item_is_none(http: aiohttp.ClientSession, base_url: str) -> None:
    adapter, account = MastodonAdapter(http), page("mastodon", "lyon", base_url)
    target = ReplyTarget(item_id="4242", root_id="4242", kind="mention")

    assert await adapter.find_reply(account, TEXT, target, since=0.0) is None
