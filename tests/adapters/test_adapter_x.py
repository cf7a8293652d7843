"""The X adapter against the X emulator: threads, error kinds, rate-limit hints, unknown outcomes."""

from __future__ import annotations

import aiohttp
import pytest
from adapter_kit import Arm, Received, closed_port_url, page

from services.dispatcher.adapters import DeliveryError, UnknownOutcome
from services.dispatcher.adapters.x import XAdapter


async def test_single_post(http: aiohttp.ClientSession, base_url: str, received: Received) -> None:
    publication = await XAdapter(http).publish(
        page("x", "lyon", base_url), ["Atelier CV à Lyon"], idempotency_key="k1"
    )

    [post] = await received(network="x")
    assert publication.remote_id == post["remote_id"]
    assert publication.url == f"https://x.com/lyon/status/{post['remote_id']}"
    assert publication.part_ids == (post["remote_id"],)
    assert post["text"] == "Atelier CV à Lyon"


async def test_thread_replies_to_the_previous_part(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    publication = await XAdapter(http).publish(
        page("x", "lyon", base_url), ["1/3", "2/3", "3/3"], idempotency_key="k"
    )

    posts = await received(network="x")
    assert publication.part_ids == tuple(post["remote_id"] for post in posts)
    assert [post["reply_to"] for post in posts] == [None, posts[0]["remote_id"], posts[1]["remote_id"]]
    assert posts[1]["body"]["reply"] == {"in_reply_to_tweet_id": posts[0]["remote_id"]}


@pytest.mark.parametrize("token", ["not-a-token", "sbx-expired-x-lyon"])
async def test_refused_tokens_need_reauth(http: aiohttp.ClientSession, base_url: str, token: str) -> None:
    with pytest.raises(DeliveryError) as caught:
        await XAdapter(http).publish(page("x", "lyon", base_url, token=token), ["hello"], idempotency_key="k")

    assert (caught.value.kind, caught.value.network_code) == ("auth", "401")
    assert "reconnect" in caught.value.message


async def test_missing_token_needs_reauth(http: aiohttp.ClientSession, base_url: str) -> None:
    with pytest.raises(DeliveryError) as caught:
        await XAdapter(http).publish(page("x", "lyon", base_url, other="x"), ["hello"], idempotency_key="k")
    assert caught.value.kind == "auth"


async def test_duplicate_is_permanent_and_explained(http: aiohttp.ClientSession, base_url: str) -> None:
    adapter, account = XAdapter(http), page("x", "lyon", base_url)
    await adapter.publish(account, ["Salon emploi"], idempotency_key="k1")

    with pytest.raises(DeliveryError) as caught:
        await adapter.publish(account, ["Salon emploi"], idempotency_key="k2")

    assert (caught.value.kind, caught.value.network_code) == ("permanent", "403")
    assert "duplicate" in caught.value.message


async def test_invalid_text_is_permanent(http: aiohttp.ClientSession, base_url: str) -> None:
    with pytest.raises(DeliveryError) as caught:
        await XAdapter(http).publish(page("x", "lyon", base_url), ["é" * 281], idempotency_key="k")

    assert (caught.value.kind, caught.value.network_code) == ("permanent", "400")
    assert "too long" in caught.value.message


async def test_rate_limit_is_transient_with_the_reset_hint(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    await arm("x", "lyon", "rate_limit", seconds=120)

    with pytest.raises(DeliveryError) as caught:
        await XAdapter(http).publish(page("x", "lyon", base_url), ["hello"], idempotency_key="k")

    assert (caught.value.kind, caught.value.network_code) == ("transient", "429")
    assert caught.value.retry_after is not None and 110 < caught.value.retry_after <= 121


async def test_server_errors_are_transient(http: aiohttp.ClientSession, base_url: str, arm: Arm) -> None:
    await arm("x", "lyon", "server_error")

    with pytest.raises(DeliveryError) as caught:
        await XAdapter(http).publish(page("x", "lyon", base_url), ["hello"], idempotency_key="k")

    assert (caught.value.kind, caught.value.network_code, caught.value.retry_after) == (
        "transient",
        "503",
        None,
    )


async def test_a_failed_part_reports_the_parts_already_published(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await XAdapter(http).publish(page("x", "lyon", base_url), ["1/2", "é" * 281], idempotency_key="k")

    [first] = await received(network="x")
    assert caught.value.part_ids == (first["remote_id"],)
    assert "1 of 2 parts were already published" in caught.value.message


async def test_connection_lost_after_sending_is_an_unknown_outcome(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, received: Received
) -> None:
    await arm("x", "lyon", "disconnect_after_create")

    with pytest.raises(UnknownOutcome):
        await XAdapter(http).publish(page("x", "lyon", base_url), ["hello"], idempotency_key="k")

    assert len(await received(network="x")) == 1


async def test_timeout_after_sending_is_an_unknown_outcome(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    await arm("x", "lyon", "timeout_after_create", seconds=5)
    adapter = XAdapter(http, timeout=aiohttp.ClientTimeout(total=0.3))

    with pytest.raises(UnknownOutcome) as caught:
        await adapter.publish(page("x", "lyon", base_url), ["hello"], idempotency_key="k")

    assert "may or may not exist" in caught.value.message


async def test_connection_refused_is_transient_and_sent_nothing(http: aiohttp.ClientSession) -> None:
    with pytest.raises(DeliveryError) as caught:
        await XAdapter(http).publish(page("x", "lyon", closed_port_url()), ["hello"], idempotency_key="k")

    assert (caught.value.kind, caught.value.network_code) == ("transient", None)
    assert "nothing was sent" in caught.value.message
