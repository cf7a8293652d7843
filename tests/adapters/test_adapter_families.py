"""Every adapter against its emulator, for each family of answer a network gives.

Success (and reading the post back), an expired token, invalid content, a rate limit with its
reset, a server error, and a timeout after the post was created (the unknown outcome that
reconciliation resolves, or that stays for a person where the network cannot be read back).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from adapter_kit import Arm, Received, media_for, page

from services.dispatcher.adapters import DeliveryError, PageAccount, UnknownOutcome, adapter_for
from services.dispatcher.adapters.base import RateHint
from services.dispatcher.outbox import part_links
from shared.networks import NETWORKS, render_for_network

HANDLES = {
    "linkedin": "123",
    "facebook": "1234",
    "instagram": "17841",
    "threads": "9001",
    "telegram": "ft_lyon",
}
THREADED = ("x", "mastodon", "bluesky", "threads", "telegram")


def account(network: str, base_url: str) -> PageAccount:
    return page(network, HANDLES.get(network, "lyon"), base_url)


def parts_for(network: str, text: str = "Forum de l'emploi (jeudi) à Lyon #emploi") -> list[str]:
    if network in THREADED:
        return [f"{text} 1/2", f"{text} 2/2"]
    return [render_for_network(network, text).parts[0].text if network == "linkedin" else text]


async def publish(http: aiohttp.ClientSession, network: str, base_url: str, **options: Any) -> Any:
    timeout = options.pop("timeout", None)
    adapter = adapter_for(network, http, timeout=timeout, observer=options.pop("observer", None))
    return await adapter.publish(
        account(network, base_url),
        options.pop("parts", parts_for(network)),
        idempotency_key="relais-1.page",
        media=media_for(network, base_url),
    )


# Networks whose public URL for a post ends with its id, so every part of a thread has its own URL;
# elsewhere (Threads' permalinks use a shortcode) only the first part's URL is known.
PART_URLS_DERIVED = ("x", "mastodon", "bluesky", "telegram")


@pytest.mark.parametrize("network", NETWORKS)
async def test_every_part_carries_a_url_and_the_first_is_the_deliverys(
    network: str, http: aiohttp.ClientSession, base_url: str
) -> None:
    """A thread part's `url` was null on Facebook and LinkedIn while the delivery had one."""
    publication = await publish(http, network, base_url)

    links = part_links(publication.remote_id, publication.url, publication.part_ids)

    assert [link.remote_id for link in links] == list(publication.part_ids)
    assert links[0].url == publication.url
    if network in PART_URLS_DERIVED:
        assert all(link.url for link in links), links
        assert len({link.url for link in links}) == len(links)


@pytest.mark.parametrize("network", NETWORKS)
async def test_success_and_the_post_reads_back(
    network: str, http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    publication = await publish(http, network, base_url)

    posts = await received(network=network)
    assert len(posts) == len(parts_for(network))
    assert publication.remote_id and publication.url.startswith(("https://", base_url))
    assert len(publication.part_ids) == len(posts)
    adapter = adapter_for(network, http)
    if adapter.can_read_back:
        found = await adapter.find(
            account(network, base_url), parts_for(network), idempotency_key="relais-1.page", since=0.0
        )
        assert found is not None and found.part_ids == publication.part_ids
    else:
        with pytest.raises(NotImplementedError):
            await adapter.find(account(network, base_url), parts_for(network), idempotency_key="k", since=0.0)


@pytest.mark.parametrize("network", [n for n in NETWORKS if n != "telegram"])
async def test_nothing_is_found_for_a_post_never_published(
    network: str, http: aiohttp.ClientSession, base_url: str
) -> None:
    adapter = adapter_for(network, http)
    await publish(http, network, base_url)
    other = parts_for(network, "Jamais publié")
    assert (
        await adapter.find(account(network, base_url), other, idempotency_key="other.key", since=0.0) is None
    )


@pytest.mark.parametrize("network", NETWORKS)
async def test_an_expired_token_needs_the_page_reconnected(
    network: str, http: aiohttp.ClientSession, base_url: str, arm: Arm, received: Received
) -> None:
    await arm(network, HANDLES.get(network, "lyon"), "expired_token", times=0)

    with pytest.raises(DeliveryError) as caught:
        await publish(http, network, base_url)

    assert caught.value.kind == "auth" and caught.value.network_code
    assert "reconnect" in caught.value.message
    assert await received(network=network) == []


@pytest.mark.parametrize("network", NETWORKS)
async def test_invalid_content_is_permanent(
    network: str, http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    await arm(network, HANDLES.get(network, "lyon"), "invalid_content")

    with pytest.raises(DeliveryError) as caught:
        await publish(http, network, base_url)

    assert caught.value.kind == "permanent" and caught.value.network_code
    assert not caught.value.throttled


@pytest.mark.parametrize("network", NETWORKS)
async def test_a_rate_limit_is_a_wait_not_a_failure(
    network: str, http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    await arm(network, HANDLES.get(network, "lyon"), "rate_limit", seconds=120)

    with pytest.raises(DeliveryError) as caught:
        await publish(http, network, base_url)

    assert (caught.value.kind, caught.value.throttled) == ("transient", True)
    if network in ("x", "mastodon", "bluesky", "facebook", "telegram"):
        assert caught.value.retry_after is not None and 100 < caught.value.retry_after <= 121


@pytest.mark.parametrize("network", NETWORKS)
async def test_a_server_error_is_transient(
    network: str, http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    await arm(network, HANDLES.get(network, "lyon"), "server_error")

    with pytest.raises(DeliveryError) as caught:
        await publish(http, network, base_url)

    assert caught.value.kind == "transient" and not caught.value.throttled


@pytest.mark.parametrize("network", NETWORKS)
async def test_a_timeout_after_creation_is_an_unknown_outcome_that_reading_resolves(
    network: str, http: aiohttp.ClientSession, base_url: str, arm: Arm, received: Received
) -> None:
    await arm(network, HANDLES.get(network, "lyon"), "timeout_after_create", seconds=3)
    short = aiohttp.ClientTimeout(total=0.5)
    adapter = adapter_for(network, http, timeout=short)
    parts = parts_for(network)[:1]

    if network in ("youtube", "bluesky"):
        # These resolve it themselves: a YouTube upload session creates one video only and can be
        # asked how it ended; a Bluesky record key is fixed, so the adapter reads the record back.
        publication = await publish(http, network, base_url, timeout=short, parts=parts)
        [created] = await received(network=network)
        assert publication.remote_id == created["remote_id"]
        return
    with pytest.raises(UnknownOutcome) as caught:
        await publish(http, network, base_url, timeout=short, parts=parts)

    assert "may or may not exist" in caught.value.message
    [created] = await received(network=network)
    if adapter.can_read_back:
        found = await adapter.find(
            account(network, base_url), parts, idempotency_key="relais-1.page", since=0.0
        )
        assert found is not None and found.remote_id.endswith(created["remote_id"].split("/")[-1])


@pytest.mark.parametrize("network", ["x", "mastodon", "bluesky"])
async def test_rate_limit_headers_reach_the_observer(
    network: str, http: aiohttp.ClientSession, base_url: str
) -> None:
    hints: list[RateHint] = []

    await publish(http, network, base_url, observer=lambda _account, hint: hints.append(hint))

    page_hints = [hint for hint in hints if hint.scope == "page"]
    assert page_hints and all(h.remaining is not None and h.limit for h in page_hints)
    assert page_hints[-1].remaining is not None and page_hints[-1].remaining < page_hints[-1].limit  # type: ignore[operator]
