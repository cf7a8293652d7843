"""The Mastodon adapter against the Mastodon emulator: threads, idempotency keys, error kinds."""

from __future__ import annotations

import aiohttp
import pytest
from adapter_kit import Arm, Received, page

from services.dispatcher.adapters import DeliveryError, UnknownOutcome
from services.dispatcher.adapters.mastodon import MastodonAdapter, part_key


async def test_single_status(http: aiohttp.ClientSession, base_url: str, received: Received) -> None:
    publication = await MastodonAdapter(http).publish(
        page("mastodon", "lyon", base_url), ["Forum"], idempotency_key="d1"
    )

    [post] = await received(network="mastodon")
    assert publication.remote_id == post["remote_id"]
    assert publication.url == f"{base_url}/@lyon/{post['remote_id']}"
    assert publication.part_ids == (post["remote_id"],)
    assert post["idempotency_key"] == "d1"
    assert post["body"]["visibility"] == "public"


async def test_thread_replies_to_the_previous_part(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    publication = await MastodonAdapter(http).publish(
        page("mastodon", "lyon", base_url), ["1/3", "2/3", "3/3"], idempotency_key="d1"
    )

    posts = await received(network="mastodon")
    assert publication.part_ids == tuple(post["remote_id"] for post in posts)
    assert [post["reply_to"] for post in posts] == [None, posts[0]["remote_id"], posts[1]["remote_id"]]
    assert [post["idempotency_key"] for post in posts] == ["d1", "d1:1", "d1:2"]


async def test_same_key_publishes_once(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    adapter, account = MastodonAdapter(http), page("mastodon", "lyon", base_url)

    first = await adapter.publish(account, ["1/2", "2/2"], idempotency_key="d1")
    again = await adapter.publish(account, ["1/2", "2/2"], idempotency_key="d1")

    assert again == first
    assert len(await received(network="mastodon")) == 2


async def test_retry_after_an_unknown_outcome_finds_the_same_status(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, received: Received
) -> None:
    account = page("mastodon", "lyon", base_url)
    await arm("mastodon", "lyon", "timeout_after_create", seconds=5)

    with pytest.raises(UnknownOutcome):
        await MastodonAdapter(http, timeout=aiohttp.ClientTimeout(total=0.3)).publish(
            account, ["Forum"], idempotency_key="d1"
        )
    publication = await MastodonAdapter(http).publish(account, ["Forum"], idempotency_key="d1")

    [post] = await received(network="mastodon")
    assert publication.remote_id == post["remote_id"]


async def test_interrupted_thread_resumes_without_duplicates(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    adapter, account = MastodonAdapter(http), page("mastodon", "lyon", base_url)
    with pytest.raises(DeliveryError) as caught:
        await adapter.publish(account, ["1/2", "x" * 501], idempotency_key="d1")

    publication = await adapter.publish(account, ["1/2", "2/2"], idempotency_key="d1")

    posts = await received(network="mastodon")
    assert caught.value.part_ids == (posts[0]["remote_id"],)
    assert publication.part_ids == (posts[0]["remote_id"], posts[1]["remote_id"])
    assert [post["text"] for post in posts] == ["1/2", "2/2"]


@pytest.mark.parametrize(
    ("token", "said"),
    [
        ("not-a-token", "The access token is invalid"),
        ("sbx-expired-mastodon-lyon", "The access token was revoked"),
    ],
)
async def test_refused_tokens_need_reauth(
    http: aiohttp.ClientSession, base_url: str, token: str, said: str
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await MastodonAdapter(http).publish(
            page("mastodon", "lyon", base_url, token=token), ["x"], idempotency_key="d"
        )

    assert (caught.value.kind, caught.value.network_code) == ("auth", "401")
    assert said in caught.value.message


async def test_validation_failure_is_permanent_with_mastodons_words(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await MastodonAdapter(http).publish(
            page("mastodon", "lyon", base_url), ["x" * 501], idempotency_key="d"
        )

    assert (caught.value.kind, caught.value.network_code) == ("permanent", "422")
    assert "Text character limit of 500 exceeded" in caught.value.message


async def test_rate_limit_is_transient_with_the_reset_hint(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    await arm("mastodon", "lyon", "rate_limit", seconds=300)

    with pytest.raises(DeliveryError) as caught:
        await MastodonAdapter(http).publish(page("mastodon", "lyon", base_url), ["x"], idempotency_key="d")

    assert (caught.value.kind, caught.value.network_code) == ("transient", "429")
    assert caught.value.retry_after is not None and 290 < caught.value.retry_after <= 301


@pytest.mark.parametrize(
    ("mode", "kind", "code"), [("server_error", "transient", "503"), ("blocked", "permanent", "403")]
)
async def test_other_failures(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, mode: str, kind: str, code: str
) -> None:
    await arm("mastodon", "lyon", mode)

    with pytest.raises(DeliveryError) as caught:
        await MastodonAdapter(http).publish(page("mastodon", "lyon", base_url), ["x"], idempotency_key="d")

    assert (caught.value.kind, caught.value.network_code) == (kind, code)


def test_part_keys_keep_the_delivery_key_for_the_first_part() -> None:
    assert [part_key("d1", index) for index in range(3)] == ["d1", "d1:1", "d1:2"]
