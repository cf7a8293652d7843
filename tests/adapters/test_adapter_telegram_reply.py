"""The Telegram adapter answers a person's private message to the bot (issue #15): sendMessage to
their chat with `reply_parameters`; the Bot API cannot read a chat back, so `find_reply` says so.

Expected values come from the policy (the adapter's module docstring, the Bot API), not from a
recording."""

from __future__ import annotations

import aiohttp
import pytest
from adapter_kit import Arm, Received, delete_audience, page, write_audience

from services.dispatcher.adapters import DeliveryError, UnknownOutcome
from services.dispatcher.adapters.conversations import ReplyTarget
from services.dispatcher.adapters.telegram import TelegramAdapter

BOT = "lyon"


async def _message(base_url: str, account: str = BOT) -> ReplyTarget:
    [item] = await write_audience(
        base_url, network="telegram", account=account, kind="message", texts=["Mon rendez-vous ?"]
    )
    return ReplyTarget(item_id=item["id"], root_id=item["root_id"], kind="message")


async def test_an_answer_goes_to_the_persons_chat_once_replying_to_their_message(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    account, adapter = page("telegram", BOT, base_url), TelegramAdapter(http)
    target = await _message(base_url)
    chat, _, message_id = target.item_id.partition(":")

    publication = await adapter.reply(account, "Jeudi à 10 h.", target, idempotency_key="r1")

    [sent] = await received(network="telegram")
    assert (sent["remote_id"], sent["text"], sent["reply_to"]) == (
        publication.remote_id,
        "Jeudi à 10 h.",
        target.item_id,
    )
    assert sent["body"]["chat_id"] == int(chat) == int(target.root_id)
    assert sent["body"]["reply_parameters"] == {"message_id": int(message_id)}
    assert publication.remote_id.startswith(f"{chat}:") and publication.remote_id != target.item_id
    with pytest.raises(NotImplementedError, match="cannot read a chat back"):
        await adapter.find_reply(account, "Jeudi à 10 h.", target, since=0)


async def test_an_answer_does_not_disturb_the_channels_message_ids(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    account, adapter = page("telegram", BOT, base_url), TelegramAdapter(http)
    first = await adapter.publish(account, ["Premier"], idempotency_key="p1")
    await adapter.reply(account, "Réponse", await _message(base_url), idempotency_key="r1")
    second = await adapter.publish(account, ["Second"], idempotency_key="p2")
    assert int(second.remote_id) == int(first.remote_id) + 1


async def test_a_lost_answer_is_an_unknown_outcome(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, received: Received
) -> None:
    account, adapter = page("telegram", BOT, base_url), TelegramAdapter(http)
    target = await _message(base_url)
    await arm("telegram", BOT, "disconnect_after_create")

    with pytest.raises(UnknownOutcome):
        await adapter.reply(account, "Bonjour", target, idempotency_key="r1")
    assert len(await received(network="telegram")) == 1


async def test_answer_errors_are_mapped_to_their_kinds(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, received: Received
) -> None:
    account, adapter = page("telegram", BOT, base_url), TelegramAdapter(http)
    target = await _message(base_url)

    bad = page("telegram", BOT, base_url, token="sbx-expired-lyon")
    with pytest.raises(DeliveryError) as expired:
        await adapter.reply(bad, "Bonjour", target, idempotency_key="r1")
    assert expired.value.kind == "auth" and "sbx-expired-lyon" not in expired.value.message

    await arm("telegram", BOT, "rate_limit", seconds=7)
    with pytest.raises(DeliveryError) as limited:
        await adapter.reply(account, "Bonjour", target, idempotency_key="r1")
    assert (limited.value.kind, limited.value.throttled) == ("transient", True)
    assert limited.value.retry_after is not None and 5 <= limited.value.retry_after <= 7
    assert await received(network="telegram") == []


async def test_a_deleted_message_or_a_chat_that_never_wrote_is_a_permanent_refusal(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    account, adapter = page("telegram", BOT, base_url), TelegramAdapter(http)
    deleted = await _message(base_url)
    await delete_audience(base_url, "telegram", deleted.item_id)
    # Another bot's chat: this bot never heard from that person.
    elsewhere = await _message(base_url, account="paris")

    with pytest.raises(DeliveryError) as gone:
        await adapter.reply(account, "Bonjour", deleted, idempotency_key="r1")
    assert gone.value.kind == "permanent" and "deleted" in gone.value.message
    with pytest.raises(DeliveryError) as unknown:
        await adapter.reply(account, "Bonjour", elsewhere, idempotency_key="r1")
    assert unknown.value.kind == "permanent" and "never wrote to the bot" in unknown.value.message
    assert await received(network="telegram") == []


async def test_a_person_who_blocked_the_bot_is_a_permanent_refusal_not_a_reconnection(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    account, adapter = page("telegram", BOT, base_url), TelegramAdapter(http)
    target = await _message(base_url)
    await arm("telegram", BOT, "blocked")

    with pytest.raises(DeliveryError) as blocked:
        await adapter.reply(account, "Bonjour", target, idempotency_key="r1")

    assert blocked.value.kind == "permanent" and "blocked the bot" in blocked.value.message
