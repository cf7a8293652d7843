"""The Bluesky adapter against the PDS emulator: sessions, record keys, threads, errors."""

from __future__ import annotations

import re

import aiohttp
import pytest
from adapter_kit import Arm, Received, page

from services.dispatcher.adapters import DeliveryError
from services.dispatcher.adapters.bluesky import BlueskyAdapter, record_key
from services.dispatcher.adapters.conversations import Engagement
from services.sandbox.bluesky import did_for

TID = re.compile(r"[2-7a-j][2-7a-z]{12}")


def create_sessions(requests_seen: list[str]) -> int:
    return sum("com.atproto.server.createSession" in request for request in requests_seen)


async def test_single_post_uses_the_derived_record_key(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    publication = await BlueskyAdapter(http).publish(
        page("bluesky", "lyon", base_url), ["Atelier CV"], idempotency_key="d1"
    )

    rkey = record_key("d1", 0)
    [post] = await received(network="bluesky")
    assert publication.remote_id == f"at://{did_for('lyon')}/app.bsky.feed.post/{rkey}" == post["remote_id"]
    assert publication.url == f"https://bsky.app/profile/lyon.bsky.social/post/{rkey}"
    assert publication.part_ids == (publication.remote_id,)
    assert post["body"]["record"]["$type"] == "app.bsky.feed.post"
    assert post["body"]["record"]["createdAt"].endswith("Z")


async def test_thread_carries_root_and_parent_strong_refs(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    await BlueskyAdapter(http).publish(
        page("bluesky", "lyon", base_url), ["1/3", "2/3", "3/3"], idempotency_key="d1"
    )

    posts = await received(network="bluesky")
    records = [post["body"]["record"] for post in posts]
    params = {"repo": did_for("lyon"), "collection": "app.bsky.feed.post", "rkey": record_key("d1", 0)}
    async with http.get(f"{base_url}/xrpc/com.atproto.repo.getRecord", params=params) as response:
        first = await response.json()
    root = records[1]["reply"]["root"]
    assert "reply" not in records[0]
    assert root == records[1]["reply"]["parent"] == {"uri": posts[0]["remote_id"], "cid": first["cid"]}
    assert records[2]["reply"]["root"] == root
    assert records[2]["reply"]["parent"]["uri"] == posts[1]["remote_id"]


async def test_facets_are_passed_per_part(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    link: dict[str, object] = {
        "index": {"byteStart": 5, "byteEnd": 24},
        "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.org"}],
    }

    await BlueskyAdapter(http).publish(
        page("bluesky", "lyon", base_url),
        ["voir https://example.org", "fin"],
        idempotency_key="d1",
        facets=[[link], None],
    )

    first, second = (post["body"]["record"] for post in await received(network="bluesky"))
    assert first["facets"] == [link]
    assert "facets" not in second


async def test_never_sends_validate_false(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    await BlueskyAdapter(http).publish(page("bluesky", "lyon", base_url), ["a", "b"], idempotency_key="d1")

    assert all("validate" not in post["body"] for post in await received(network="bluesky"))


async def test_one_login_serves_many_posts(
    http: aiohttp.ClientSession, base_url: str, requests_seen: list[str]
) -> None:
    adapter, account = BlueskyAdapter(http), page("bluesky", "lyon", base_url)

    for number in range(3):
        await adapter.publish(account, [f"post {number}"], idempotency_key=f"d{number}")

    assert create_sessions(requests_seen) == 1


async def test_same_key_never_creates_a_second_record(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    adapter, account = BlueskyAdapter(http), page("bluesky", "lyon", base_url)

    first = await adapter.publish(account, ["1/2", "2/2"], idempotency_key="d1")
    again = await adapter.publish(account, ["1/2", "2/2"], idempotency_key="d1")

    assert again == first
    assert len(await received(network="bluesky")) == 2


@pytest.mark.parametrize("mode", ["disconnect_after_create", "timeout_after_create"])
async def test_a_lost_answer_is_resolved_by_reading_the_record_back(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, received: Received, mode: str
) -> None:
    await arm("bluesky", "lyon", mode, seconds=5)
    adapter = BlueskyAdapter(http, timeout=aiohttp.ClientTimeout(total=0.5))

    publication = await adapter.publish(page("bluesky", "lyon", base_url), ["Forum"], idempotency_key="d1")

    [post] = await received(network="bluesky")
    assert publication.remote_id == post["remote_id"]


async def test_an_expired_session_is_refreshed_once(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, requests_seen: list[str], received: Received
) -> None:
    adapter, account = BlueskyAdapter(http), page("bluesky", "lyon", base_url)
    await adapter.publish(account, ["before"], idempotency_key="d1")
    await arm("bluesky", "lyon", "expired_token")

    await adapter.publish(account, ["after"], idempotency_key="d2")

    assert sum("refreshSession" in request for request in requests_seen) == 1
    assert create_sessions(requests_seen) == 1
    assert [post["text"] for post in await received(network="bluesky")] == ["before", "after"]


async def test_an_expired_session_while_reading_figures_is_renewed_once(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, requests_seen: list[str]
) -> None:
    adapter, account = BlueskyAdapter(http), page("bluesky", "lyon", base_url)
    publication = await adapter.publish(account, ["Forum emploi"], idempotency_key="d1")
    await arm("bluesky", "lyon", "expired_token", on="read_engagement")

    figures = await adapter.read_engagement(account, publication.remote_id)

    assert figures == Engagement(likes=0, shares=0, replies=0, views=None)
    assert sum("refreshSession" in request for request in requests_seen) == 1
    assert create_sessions(requests_seen) == 1


async def test_figures_the_pds_keeps_refusing_need_reauth(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, requests_seen: list[str]
) -> None:
    adapter, account = BlueskyAdapter(http), page("bluesky", "lyon", base_url)
    publication = await adapter.publish(account, ["Forum emploi"], idempotency_key="d1")
    await arm("bluesky", "lyon", "expired_token", on="read_engagement", times=0)

    with pytest.raises(DeliveryError) as caught:
        await adapter.read_engagement(account, publication.remote_id)

    assert (caught.value.kind, caught.value.network_code) == ("auth", "ExpiredToken")
    assert sum("app.bsky.feed.getPosts" in request for request in requests_seen) == 2  # renewed once


async def test_wrong_app_password_needs_reauth(http: aiohttp.ClientSession, base_url: str) -> None:
    account = page("bluesky", "lyon", base_url, identifier="lyon.bsky.social", password="revoked")

    with pytest.raises(DeliveryError) as caught:
        await BlueskyAdapter(http).publish(account, ["x"], idempotency_key="d")

    assert (caught.value.kind, caught.value.network_code) == ("auth", "AuthenticationRequired")


async def test_a_token_the_pds_keeps_refusing_needs_reauth(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    await arm("bluesky", "lyon", "expired_token", times=0)

    with pytest.raises(DeliveryError) as caught:
        await BlueskyAdapter(http).publish(page("bluesky", "lyon", base_url), ["x"], idempotency_key="d")

    assert (caught.value.kind, caught.value.network_code) == ("auth", "ExpiredToken")


async def test_too_many_graphemes_is_permanent(http: aiohttp.ClientSession, base_url: str) -> None:
    with pytest.raises(DeliveryError) as caught:
        await BlueskyAdapter(http).publish(
            page("bluesky", "lyon", base_url), ["é" * 301], idempotency_key="d"
        )

    assert (caught.value.kind, caught.value.network_code) == ("permanent", "InvalidRequest")
    assert "grapheme too big" in caught.value.message


@pytest.mark.parametrize(
    ("mode", "kind", "code"),
    [
        ("rate_limit", "transient", "RateLimitExceeded"),
        ("server_error", "transient", "InternalServerError"),
        ("blocked", "permanent", "AccountTakedown"),
    ],
)
async def test_other_failures(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, mode: str, kind: str, code: str
) -> None:
    await arm("bluesky", "lyon", mode, seconds=90)

    with pytest.raises(DeliveryError) as caught:
        await BlueskyAdapter(http).publish(page("bluesky", "lyon", base_url), ["x"], idempotency_key="d")

    assert (caught.value.kind, caught.value.network_code) == (kind, code)
    if mode == "rate_limit":
        assert caught.value.retry_after is not None and 80 < caught.value.retry_after <= 91


def test_record_keys_are_deterministic_tids() -> None:
    keys = {record_key(key, index) for key in ("d1", "d2") for index in range(3)}

    assert record_key("d1", 0) == record_key("d1", 0)
    assert len(keys) == 6
    assert all(TID.fullmatch(key) for key in keys)
