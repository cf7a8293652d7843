"""The Facebook adapter against the Graph API emulator: link, error codes, usage-based hints."""

from __future__ import annotations

import aiohttp
import pytest
from adapter_kit import Arm, Received, page

from services.dispatcher.adapters import DeliveryError
from services.dispatcher.adapters.facebook import FacebookAdapter


async def test_post_with_link(
    http: aiohttp.ClientSession, base_url: str, received: Received, requests_seen: list[str]
) -> None:
    publication = await FacebookAdapter(http).publish(
        page("facebook", "1234", base_url),
        ["Forum emploi"],
        idempotency_key="d",
        link="https://example.org/forum",
    )

    [post] = await received(network="facebook")
    page_id, post_id = publication.remote_id.split("_")
    assert publication.remote_id == post["remote_id"]
    assert publication.url == f"https://www.facebook.com/{page_id}/posts/{post_id}"
    assert post["body"] == {"message": "Forum emploi", "link": "https://example.org/forum"}
    assert requests_seen == [f"POST {base_url}/v23.0/1234/feed"]


async def test_unversioned_path(http: aiohttp.ClientSession, base_url: str, requests_seen: list[str]) -> None:
    await FacebookAdapter(http, version="").publish(
        page("facebook", "1234", base_url), ["x"], idempotency_key="d"
    )
    assert requests_seen == [f"POST {base_url}/1234/feed"]


@pytest.mark.parametrize(
    ("token", "handle", "code", "why"),
    [
        ("sbx-expired-facebook-1234", "1234", "190", "the token expired"),
        ("not-a-token", "1234", "190", "Invalid OAuth access token"),
        ("sbx-facebook-1234", "9999", "200", "pages_manage_posts"),
    ],
)
async def test_token_and_permission_refusals_need_reauth(
    http: aiohttp.ClientSession, base_url: str, token: str, handle: str, code: str, why: str
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await FacebookAdapter(http).publish(
            page("facebook", handle, base_url, token=token), ["x"], idempotency_key="d"
        )

    assert (caught.value.kind, caught.value.network_code) == ("auth", code)
    assert why in caught.value.message


@pytest.mark.parametrize(
    ("mode", "kind", "code", "retry_after"),
    [
        ("rate_limit", "transient", "32", 600.0),
        ("blocked", "transient", "368", None),
        ("server_error", "transient", "2", None),
    ],
)
async def test_throttling_blocks_and_outages_are_transient(
    http: aiohttp.ClientSession,
    base_url: str,
    arm: Arm,
    mode: str,
    kind: str,
    code: str,
    retry_after: float | None,
) -> None:
    await arm("facebook", "1234", mode, seconds=600)

    with pytest.raises(DeliveryError) as caught:
        await FacebookAdapter(http).publish(page("facebook", "1234", base_url), ["x"], idempotency_key="d")

    assert (caught.value.kind, caught.value.network_code, caught.value.retry_after) == (
        kind,
        code,
        retry_after,
    )


async def test_duplicate_and_invalid_link_are_permanent(http: aiohttp.ClientSession, base_url: str) -> None:
    adapter, account = FacebookAdapter(http), page("facebook", "1234", base_url)
    await adapter.publish(account, ["Forum"], idempotency_key="d1")

    with pytest.raises(DeliveryError) as duplicate:
        await adapter.publish(account, ["Forum"], idempotency_key="d2")
    with pytest.raises(DeliveryError) as bad_link:
        await adapter.publish(account, ["Autre"], idempotency_key="d3", link="not a link")

    assert (duplicate.value.kind, duplicate.value.network_code) == ("permanent", "506")
    assert (bad_link.value.kind, bad_link.value.network_code) == ("permanent", "100")


async def test_threads_are_refused(http: aiohttp.ClientSession, base_url: str) -> None:
    with pytest.raises(DeliveryError) as caught:
        await FacebookAdapter(http).publish(
            page("facebook", "1234", base_url), ["1", "2"], idempotency_key="d"
        )
    assert caught.value.kind == "permanent"
