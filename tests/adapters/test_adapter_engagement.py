"""Mastodon, Bluesky, X and SlideShare read a published post's figures (`read_engagement`) from their
emulators.

Expected answers are each network's documentation, written here by hand:
- Mastodon "View a single status": favourites, reblogs (shares), replies; no views;
- Bluesky `app.bsky.feed.getPosts`: likes, reposts + quotes (shares), replies; no views;
- X "Post lookup" `public_metrics`: likes, retweets + quotes (shares), replies, impressions (views);
- SlideShare "Get Slideshow" `detailed=1`: favorites (likes), comments (replies), views; no shares.
A figure the network does not give is None, never 0; one it gives and nobody touched is 0. A post
deleted on the network is a permanent error (its reads stop); a rate limit on the read is transient
and throttled; a fault armed for these reads touches no other request of the page.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from adapter_kit import Arm, page
from aiohttp.test_utils import TestServer

from services.dispatcher.adapters import DeliveryError
from services.dispatcher.adapters.base import NetworkAdapter
from services.dispatcher.adapters.bluesky import BlueskyAdapter
from services.dispatcher.adapters.conversations import Engagement
from services.dispatcher.adapters.mastodon import MastodonAdapter
from services.dispatcher.adapters.slideshare import SlideShareAdapter
from services.dispatcher.adapters.x import XAdapter
from services.sandbox.store import STORE

NETWORKS = ["mastodon", "bluesky", "x", "slideshare"]
HANDLES = {"mastodon": "lyon", "bluesky": "lyon.bsky.social", "x": "lyon", "slideshare": "lyon"}
SET = {"likes": 4, "shares": 3, "replies": 2, "views": 50}
# What each network shows of SET, by its documentation.
SHOWN = {
    "mastodon": Engagement(likes=4, shares=3, replies=2, views=None),
    "bluesky": Engagement(likes=4, shares=3, replies=2, views=None),
    "x": Engagement(likes=4, shares=3, replies=2, views=50),
    "slideshare": Engagement(likes=4, shares=None, replies=2, views=50),
}
UNTOUCHED = {
    "mastodon": Engagement(likes=0, shares=0, replies=0, views=None),
    "bluesky": Engagement(likes=0, shares=0, replies=0, views=None),
    "x": Engagement(likes=0, shares=0, replies=0, views=0),
    "slideshare": Engagement(likes=0, shares=None, replies=0, views=0),
}


def reader(network: str, http: aiohttp.ClientSession) -> Any:
    adapters: dict[str, type[NetworkAdapter]] = {
        "mastodon": MastodonAdapter,
        "bluesky": BlueskyAdapter,
        "x": XAdapter,
        "slideshare": SlideShareAdapter,
    }
    return adapters[network](http)


async def published(network: str, adapter: Any, base_url: str, server: TestServer) -> str:
    """A post of the page on the network: published by the adapter, or (SlideShare, whose
    conversion takes a while) stored on the emulator as a converted slideshow."""
    if network != "slideshare":
        account = page(network, HANDLES[network], base_url)
        publication = await adapter.publish(account, ["Forum emploi"], idempotency_key="first")
        return str(publication.remote_id)
    store = server.app[STORE]
    post = store.add(network="slideshare", account="lyon", remote_id="1234567890", text="Forum", body={})
    return str(post.remote_id)


async def set_figures(base_url: str, network: str, remote_id: str, **figures: int) -> None:
    body = {"network": network, "remote_id": remote_id, **figures}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base_url}/_sandbox/engagement", json=body) as response,
    ):
        assert response.status == 200, await response.text()


@pytest.mark.parametrize("network", NETWORKS)
async def test_the_figures_are_the_networks_in_its_own_terms(
    http: aiohttp.ClientSession, base_url: str, sandbox_server: TestServer, network: str
) -> None:
    adapter = reader(network, http)
    assert "read_engagement" in adapter.capabilities
    account = page(network, HANDLES[network], base_url)
    remote_id = await published(network, adapter, base_url, sandbox_server)

    untouched = await adapter.read_engagement(account, remote_id)
    await set_figures(base_url, network, remote_id, **SET)
    shown = await adapter.read_engagement(account, remote_id)

    assert untouched == UNTOUCHED[network]
    assert shown == SHOWN[network]


@pytest.mark.parametrize("network", NETWORKS)
async def test_a_deleted_post_is_a_permanent_error(
    http: aiohttp.ClientSession, base_url: str, sandbox_server: TestServer, network: str
) -> None:
    adapter = reader(network, http)
    remote_id = await published(network, adapter, base_url, sandbox_server)
    async with aiohttp.ClientSession() as session, session.delete(f"{base_url}/_sandbox/posts") as response:
        assert response.status == 200

    with pytest.raises(DeliveryError) as caught:
        await adapter.read_engagement(page(network, HANDLES[network], base_url), remote_id)

    assert caught.value.kind == "permanent" and not caught.value.throttled


@pytest.mark.parametrize("network", NETWORKS)
async def test_a_rate_limited_read_is_throttled_and_touches_nothing_else(
    http: aiohttp.ClientSession, base_url: str, sandbox_server: TestServer, arm: Arm, network: str
) -> None:
    adapter = reader(network, http)
    account = page(network, HANDLES[network], base_url)
    remote_id = await published(network, adapter, base_url, sandbox_server)
    owner = HANDLES[network].split(".")[0]
    await arm(network, owner, "rate_limit", seconds=30, on="read_engagement")

    if network != "slideshare":  # the page's other calls do not take the fault armed for this read
        await adapter.publish(account, ["Salon de l'alternance"], idempotency_key="other")
    with pytest.raises(DeliveryError) as caught:
        await adapter.read_engagement(account, remote_id)
    again = await adapter.read_engagement(account, remote_id)  # the fault was for one read

    assert (caught.value.kind, caught.value.throttled) == ("transient", True)
    assert caught.value.retry_after is not None and caught.value.retry_after > 0
    assert again == UNTOUCHED[network]
