"""Facebook, Instagram, Threads, LinkedIn and YouTube read a published post's figures back (issue #15
item 6) from the real sandbox over HTTP: the figures as `POST /_sandbox/engagement` set them, None
where the network gives none, and the network's refusals in kinds the dispatcher acts on.

The expected values are the policy written in each adapter's docstring, by hand, not a recording:
- every one of the five gives likes, replies and views; shares too, except YouTube (None);
- Facebook leaves `shares` out while nobody shared a post: 0 then, not None;
- a post the network no longer has is `permanent`; a throttled read is `transient` and `throttled`
  with the wait the network said; a token the network refuses is `auth`, and never in the message.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from adapter_kit import Arm, media_for, page

from services.dispatcher.adapters import DeliveryError, PageAccount, adapter_for
from services.dispatcher.adapters.conversations import Engagement, EngagementReader
from services.dispatcher.adapters.facebook import FacebookAdapter
from services.dispatcher.adapters.figures import count
from shared.networks import NETWORKS

FIVE = ("facebook", "instagram", "threads", "linkedin", "youtube")
SET = {"likes": 12, "shares": 3, "replies": 5, "views": 340}
# What each network gives of SET, by the policy above.
EXPECTED = {
    "facebook": Engagement(likes=12, shares=3, replies=5, views=340),
    "instagram": Engagement(likes=12, shares=3, replies=5, views=340),
    "threads": Engagement(likes=12, shares=3, replies=5, views=340),
    "linkedin": Engagement(likes=12, shares=3, replies=5, views=340),
    "youtube": Engagement(likes=12, shares=None, replies=5, views=340),
}
UNTOUCHED = {
    "facebook": Engagement(likes=0, shares=0, replies=0, views=0),
    "instagram": Engagement(likes=0, shares=0, replies=0, views=0),
    "threads": Engagement(likes=0, shares=0, replies=0, views=0),
    "linkedin": Engagement(likes=0, shares=0, replies=0, views=0),
    "youtube": Engagement(likes=0, shares=None, replies=0, views=0),
}
# An id of the network's shape that the page never had.
NEVER_THERE = {
    "facebook": "lyon_1234567890",
    "instagram": "1234567890",
    "threads": "1234567890",
    "linkedin": "urn:li:share:1234567890",
    "youtube": "dQw4w9WgXcQ",
}


def _reader(network: str, http: aiohttp.ClientSession) -> EngagementReader:
    adapter: Any = adapter_for(network, http)
    reader: EngagementReader = adapter
    return reader


async def _published(
    network: str, http: aiohttp.ClientSession, base_url: str, handle: str = "lyon", text: str = "Forum, jeudi"
) -> str:
    account = page(network, handle, base_url)
    publication = await adapter_for(network, http).publish(
        account,
        [text],
        idempotency_key=f"k-{handle}-{text}",
        media=media_for(network, base_url),
    )
    return publication.remote_id


async def _set(base_url: str, network: str, remote_id: str, **figures: int) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{base_url}/_sandbox/engagement", json={"network": network, "remote_id": remote_id, **figures}
        ) as response,
    ):
        assert response.status == 200, await response.text()


async def _sandbox(base_url: str, method: str, path: str) -> Any:
    async with aiohttp.ClientSession() as session, session.request(method, f"{base_url}{path}") as response:
        assert response.status == 200, await response.text()
        return await response.json()


@pytest.mark.parametrize("network", FIVE)
def test_the_five_networks_register_reading_figures(network: str) -> None:
    assert "read_engagement" in NETWORKS[network].capabilities


@pytest.mark.parametrize("network", FIVE)
async def test_figures_arrive_as_set_and_none_where_the_network_gives_none(
    network: str, http: aiohttp.ClientSession, base_url: str, requests_seen: list[str]
) -> None:
    remote_id = await _published(network, http, base_url)
    reader = _reader(network, http)
    account = page(network, "lyon", base_url)

    assert await reader.read_engagement(account, remote_id) == UNTOUCHED[network]

    await _set(base_url, network, remote_id, **SET)
    assert await reader.read_engagement(account, remote_id) == EXPECTED[network]

    await _set(base_url, network, remote_id, views=341)  # the others keep their value
    assert await reader.read_engagement(account, remote_id) == replace(EXPECTED[network], views=341)
    token = account.credentials["token"]
    assert requests_seen and not [line for line in requests_seen if token in line]


async def test_a_facebook_video_post_is_read_as_its_page_post(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    adapter = FacebookAdapter(http, poll_interval=0.05)
    account = page("facebook", "lyon", base_url)
    video = await adapter.publish(
        account,
        ["Visite en vidéo"],
        idempotency_key="k-video",
        media=media_for("youtube", base_url),  # an MP4: Facebook takes the same
    )
    await _set(base_url, "facebook", f"lyon_{video.remote_id}", likes=4, views=90)

    assert await _reader("facebook", http).read_engagement(account, video.remote_id) == Engagement(
        likes=4, shares=0, replies=0, views=90
    )


@pytest.mark.parametrize("network", FIVE)
async def test_a_deleted_post_is_a_permanent_refusal(
    network: str, http: aiohttp.ClientSession, base_url: str
) -> None:
    remote_id = await _published(network, http, base_url)
    reader = _reader(network, http)
    account = page(network, "lyon", base_url)
    await reader.read_engagement(account, remote_id)

    await _sandbox(base_url, "DELETE", "/_sandbox/posts")  # the network no longer has it

    for gone in (remote_id, NEVER_THERE[network]):
        with pytest.raises(DeliveryError) as refused:
            await reader.read_engagement(account, gone)
        assert refused.value.kind == "permanent" and not refused.value.throttled
        assert "no longer" in refused.value.message


@pytest.mark.parametrize("network", ["facebook", "instagram", "threads", "linkedin"])
async def test_another_pages_post_is_refused_never_read(
    network: str, http: aiohttp.ClientSession, base_url: str
) -> None:
    """YouTube's statistics are public for any public video; these four show a post to its page only."""
    theirs = await _published(network, http, base_url, handle="paris")
    await _set(base_url, network, theirs, **SET)

    with pytest.raises(DeliveryError) as refused:
        await _reader(network, http).read_engagement(page(network, "lyon", base_url), theirs)
    assert refused.value.kind in ("permanent", "auth")
    assert "340" not in refused.value.message


# The wait each network says, by its documentation: Facebook's usage header and Instagram's and
# Threads' Business Use Case header give minutes to regain access (the fault throttles 120 s); LinkedIn's
# daily throttle ends at midnight UTC, YouTube's quota at midnight Pacific time.
GRAPH_WAIT = 120.0
DAY = 24 * 3600.0


@pytest.mark.parametrize("network", FIVE)
async def test_a_throttled_read_is_transient_with_the_networks_wait(
    network: str, http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    remote_id = await _published(network, http, base_url)
    await _set(base_url, network, remote_id, **SET)
    reader = _reader(network, http)
    account = page(network, "lyon", base_url)
    await arm(network, "lyon", "rate_limit", seconds=120, on="read_engagement")

    with pytest.raises(DeliveryError) as refused:
        await reader.read_engagement(account, remote_id)

    error = refused.value
    assert (error.kind, error.throttled) == ("transient", True)
    assert error.retry_after is not None
    if network in ("facebook", "instagram", "threads"):
        assert error.retry_after == GRAPH_WAIT
    else:
        assert 0 < error.retry_after <= DAY
    # The fault was for one read: the next one reads the figures.
    assert await reader.read_engagement(account, remote_id) == EXPECTED[network]


@pytest.mark.parametrize("network", FIVE)
async def test_a_fault_armed_for_posting_never_hits_a_read_nor_the_reverse(
    network: str, http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    remote_id = await _published(network, http, base_url)
    await arm(network, "lyon", "server_error")  # for the next post

    assert await _reader(network, http).read_engagement(page(network, "lyon", base_url), remote_id)
    armed = (await _sandbox(base_url, "GET", "/_sandbox/faults"))["faults"]
    assert [(f["network"], f["on"]) for f in armed] == [(network, "post")]

    await _sandbox(base_url, "DELETE", "/_sandbox/faults")
    await arm(network, "lyon", "server_error", on="read_engagement")
    await _published(network, http, base_url, text="Forum, vendredi")  # publishing is not refused
    armed = (await _sandbox(base_url, "GET", "/_sandbox/faults"))["faults"]
    assert [(f["network"], f["on"]) for f in armed] == [(network, "read_engagement")]


@pytest.mark.parametrize("network", FIVE)
@pytest.mark.parametrize("token", ["sbx-expired-lyon", "not-a-token-of-this-page"])
async def test_a_refused_token_needs_the_page_reconnected_and_is_never_told(
    network: str, token: str, http: aiohttp.ClientSession, base_url: str
) -> None:
    remote_id = await _published(network, http, base_url)
    account = PageAccount(
        page_id=f"test-{network}-lyon",
        network=network,
        handle="lyon",
        credentials={"token": token},
        base_url=base_url,
    )

    with pytest.raises(DeliveryError) as refused:
        await _reader(network, http).read_engagement(account, remote_id)

    assert refused.value.kind == "auth"
    assert token not in refused.value.message and token not in repr(refused.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (17, 17),
        ("42", 42),
        (None, None),
        (-1, None),
        (True, None),
        ("", None),
        ("4.2", None),
        ("١٢", None),
        (3.0, None),
        ({"value": 1}, None),
    ],
)
def test_a_count_is_a_non_negative_integer_or_no_figure(value: object, expected: int | None) -> None:
    assert count(value) == expected


@pytest.mark.parametrize("network", FIVE)
@pytest.mark.parametrize(
    "suffix", ["/../../lyon/feed", "?fields=id,access_token", "#x", ",dQw4w9WgXcQ", "%2F.."]
)
async def test_a_remote_id_is_one_id_never_another_path_or_query(
    network: str, suffix: str, http: aiohttp.ClientSession, base_url: str
) -> None:
    """A delivery's remote id comes from the network's answer: whatever it holds, it names one post and
    reads nothing else (no other path, no other fields, no second video)."""
    remote_id = await _published(network, http, base_url)
    await _set(base_url, network, remote_id, **SET)
    reader, account = _reader(network, http), page(network, "lyon", base_url)

    with pytest.raises(DeliveryError) as refused:
        await reader.read_engagement(account, remote_id + suffix)
    assert refused.value.kind == "permanent"
    assert await reader.read_engagement(account, remote_id) == EXPECTED[network]  # the id itself reads
