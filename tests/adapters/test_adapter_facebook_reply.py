"""The Facebook adapter answers people (issue #15): a comment under it (Graph API › Comments), a
private message through Messenger's Send API within its 24-hour window; `find_reply` finds the page's
own reply again, and nothing else.

Expected values come from the policy (the adapter's module docstring, Meta's documentation), not
from a recording."""

from __future__ import annotations

import time

import aiohttp
import pytest
from adapter_kit import Arm, Received, delete_audience, page, write_audience

from services.dispatcher.adapters import DeliveryError, UnknownOutcome
from services.dispatcher.adapters.conversations import ReplyTarget
from services.dispatcher.adapters.facebook import FacebookAdapter

PAGE = "1001"


async def _comment(base_url: str, account: str = PAGE, **extra: object) -> ReplyTarget:
    [item] = await write_audience(
        base_url, network="facebook", account=account, kind="comment", texts=["Où est l'agence ?"], **extra
    )
    return ReplyTarget(item_id=item["id"], root_id=item["root_id"], kind="comment")


async def _replies(http: aiohttp.ClientSession, base_url: str, comment_id: str) -> list[dict[str, object]]:
    async with http.get(
        f"{base_url}/v23.0/{comment_id}/comments", headers={"Authorization": f"Bearer sbx-facebook-{PAGE}"}
    ) as response:
        assert response.status == 200, await response.text()
        data: list[dict[str, object]] = (await response.json())["data"]
        return data


async def test_a_reply_lands_under_the_comment_once_and_is_found_again(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    account, adapter = page("facebook", PAGE, base_url), FacebookAdapter(http)
    target = await _comment(base_url)
    before = time.time()

    publication = await adapter.reply(account, "Au 3 rue de la Paix.", target, idempotency_key="r1")

    replies = await _replies(http, base_url, target.item_id)
    assert [(r["id"], r["message"], r["from"]) for r in replies] == [
        (publication.remote_id, "Au 3 rue de la Paix.", {"id": PAGE, "name": PAGE})
    ]
    stored = await received(network="facebook")
    assert [(p["text"], p["reply_to"]) for p in stored] == [("Au 3 rue de la Paix.", target.item_id)]
    assert "access_token" not in stored[0]["body"]
    post, _, _ = target.root_id.partition("_")
    assert publication.url.startswith(f"https://www.facebook.com/{post}/posts/")
    assert publication.url.endswith(f"?comment_id={publication.remote_id}")
    found = await adapter.find_reply(account, " Au 3 rue  de la Paix. ", target, since=before)
    assert found is not None and found.remote_id == publication.remote_id


async def test_a_follow_up_is_answered_under_its_first_comment(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    """A reply cannot be replied to (Comment › `can_comment`): the answer goes under its parent."""
    account, adapter = page("facebook", PAGE, base_url), FacebookAdapter(http)
    first = await _comment(base_url)
    [follow_up] = await write_audience(
        base_url,
        network="facebook",
        account=PAGE,
        kind="comment",
        parent=first.item_id,
        texts=["Et samedi ?"],
    )
    target = ReplyTarget(item_id=follow_up["id"], root_id=first.root_id, kind="reply")

    publication = await adapter.reply(account, "Fermé le samedi.", target, idempotency_key="r1")

    assert [p["reply_to"] for p in await received(network="facebook")] == [first.item_id]
    replies = await _replies(http, base_url, first.item_id)
    assert [r["message"] for r in replies] == ["Et samedi ?", "Fermé le samedi."]
    found = await adapter.find_reply(account, "Fermé le samedi.", target, since=time.time() - 60)
    assert found is not None and found.remote_id == publication.remote_id


async def test_find_reply_ignores_peoples_answers_other_texts_and_older_replies(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    account, adapter = page("facebook", PAGE, base_url), FacebookAdapter(http)
    target = await _comment(base_url)
    # Someone else answers with the very text the page is about to send: not the page's reply.
    await write_audience(
        base_url, network="facebook", account=PAGE, kind="comment", parent=target.item_id, texts=["Merci"]
    )
    assert await adapter.find_reply(account, "Merci", target, since=time.time()) is None
    await adapter.reply(account, "Merci", target, idempotency_key="r1")

    assert await adapter.find_reply(account, "Merci !", target, since=time.time()) is None
    # Made long before `since` (more than the clock slack): an older answer, not this one.
    assert await adapter.find_reply(account, "Merci", target, since=time.time() + 3600) is None
    assert await adapter.find_reply(account, "Merci", target, since=time.time() - 60) is not None


async def test_a_reply_whose_answer_is_lost_is_unknown_then_found_once(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, received: Received
) -> None:
    account, adapter = page("facebook", PAGE, base_url), FacebookAdapter(http)
    target = await _comment(base_url)
    await arm("facebook", PAGE, "disconnect_after_create")
    before = time.time()

    with pytest.raises(UnknownOutcome):
        await adapter.reply(account, "Bonjour", target, idempotency_key="r1")

    found = await adapter.find_reply(account, "Bonjour", target, since=before)
    assert found is not None
    assert [p["remote_id"] for p in await received(network="facebook")] == [found.remote_id]


async def test_reply_errors_are_mapped_to_their_kinds(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    account, adapter = page("facebook", PAGE, base_url), FacebookAdapter(http)
    target = await _comment(base_url)

    await arm("facebook", PAGE, "expired_token")
    with pytest.raises(DeliveryError) as expired:
        await adapter.reply(account, "Bonjour", target, idempotency_key="r1")
    assert expired.value.kind == "auth"

    await arm("facebook", PAGE, "rate_limit", seconds=120)
    with pytest.raises(DeliveryError) as limited:
        await adapter.reply(account, "Bonjour", target, idempotency_key="r1")
    assert (limited.value.kind, limited.value.throttled) == ("transient", True)
    assert limited.value.retry_after == 120

    bad_token = page("facebook", PAGE, base_url, token="not-a-token")
    with pytest.raises(DeliveryError) as invalid:
        await adapter.reply(bad_token, "Bonjour", target, idempotency_key="r1")
    assert invalid.value.kind == "auth"
    assert "not-a-token" not in invalid.value.message


async def test_a_deleted_comment_or_another_pages_comment_is_a_permanent_refusal(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    account, adapter = page("facebook", PAGE, base_url), FacebookAdapter(http)
    deleted = await _comment(base_url)
    await delete_audience(base_url, "facebook", deleted.item_id)
    elsewhere = await _comment(base_url, account="2002")

    for target in (deleted, elsewhere):
        with pytest.raises(DeliveryError) as refused:
            await adapter.reply(account, "Bonjour", target, idempotency_key="r1")
        assert refused.value.kind == "permanent"
        assert "no longer shows" in refused.value.message
        with pytest.raises(DeliveryError):
            await adapter.find_reply(account, "Bonjour", target, since=time.time())
    assert await received(network="facebook") == []


async def _conversation(base_url: str, at: float | None = None) -> ReplyTarget:
    extra = {} if at is None else {"at": at}
    [item] = await write_audience(
        base_url, network="facebook", account=PAGE, kind="message", texts=["Mon dossier ?"], **extra
    )
    return ReplyTarget(item_id=item["id"], root_id=item["root_id"], kind="message")


async def test_a_private_message_is_answered_through_messenger_within_the_window(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    account, adapter = page("facebook", PAGE, base_url), FacebookAdapter(http)
    target = await _conversation(base_url, at=time.time() - 23 * 3600)

    publication = await adapter.reply(account, "Il est en cours.", target, idempotency_key="m1")

    assert publication.remote_id.startswith("m_")
    [sent] = await received(network="facebook")
    assert sent["remote_id"] == publication.remote_id and sent["text"] == "Il est en cours."
    assert sent["body"]["messaging_type"] == "RESPONSE"
    assert f'"id": "{target.root_id}"' in sent["body"]["recipient"]
    # Not a feed post: the page's feed does not show what it sent privately.
    assert await adapter.find(account, ["Il est en cours."], idempotency_key="m1", since=0) is None
    with pytest.raises(NotImplementedError, match="Messenger"):
        await adapter.find_reply(account, "Il est en cours.", target, since=0)


async def test_a_private_message_past_24_hours_is_refused_in_plain_words(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    account, adapter = page("facebook", PAGE, base_url), FacebookAdapter(http)
    target = await _conversation(base_url, at=time.time() - 25 * 3600)

    with pytest.raises(DeliveryError) as refused:
        await adapter.reply(account, "Il est en cours.", target, idempotency_key="m1")

    assert (refused.value.kind, refused.value.network_code) == ("permanent", "10/2018278")
    assert "24 hours" in refused.value.message and "reconnect" not in refused.value.message
    assert await received(network="facebook") == []


async def test_a_person_who_never_wrote_cannot_be_messaged(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    account, adapter = page("facebook", PAGE, base_url), FacebookAdapter(http)
    stranger = ReplyTarget(item_id="m_unknown", root_id="424242", kind="message")

    with pytest.raises(DeliveryError) as refused:
        await adapter.reply(account, "Bonjour", stranger, idempotency_key="m1")

    assert refused.value.kind == "permanent"
    assert await received(network="facebook") == []
