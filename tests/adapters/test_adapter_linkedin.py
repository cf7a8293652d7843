"""The LinkedIn adapter against the Posts API emulator: commentary sent as given, headers, error
kinds, read-back. The formatter's rules (`shared/networks`) write the little text; the adapter
must not escape it a second time."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp
import pytest
from adapter_kit import Arm, Received, page
from hypothesis import given, settings
from hypothesis import strategies as st

from services.dispatcher.adapters import DeliveryError, UnknownOutcome
from services.dispatcher.adapters.linkedin import LinkedInAdapter
from services.sandbox.linkedin import read_little_text
from shared.networks import render_for_network
from shared.networks.linkedin import escape_little_text

TEXT = (
    "Atelier CV (lundi 3) à Lyon_Part-Dieu : inscrivez-vous ! #AvecPôleEmploi "
    "<gratuit> *2h* ~ [salle B] {x} | a@b \\ fin"
)


def little(text: str) -> str:
    """The commentary exactly as the formatter renders it (and previews show it)."""
    return render_for_network("linkedin", text).parts[0].text


async def test_the_formatters_commentary_is_sent_as_given_and_arrives_whole(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    commentary = little(TEXT)
    publication = await LinkedInAdapter(http).publish(
        page("linkedin", "123", base_url), [commentary], idempotency_key="d"
    )

    [post] = await received(network="linkedin")
    assert post["body"]["commentary"] == commentary  # no second escaping
    assert post["text"] == TEXT  # what LinkedIn's readers see
    assert publication.remote_id == post["remote_id"]
    assert publication.remote_id.startswith("urn:li:share:")
    assert publication.url == f"https://www.linkedin.com/feed/update/{publication.remote_id}/"
    assert post["body"]["author"] == "urn:li:organization:123"
    assert (post["body"]["visibility"], post["body"]["lifecycleState"]) == ("PUBLIC", "PUBLISHED")


async def test_unescaped_text_would_have_been_cut(base_url: str) -> None:
    headers = {
        "Authorization": "Bearer sbx-linkedin-123",
        "LinkedIn-Version": "202601",
        "X-Restli-Protocol-Version": "2.0.0",
    }
    body = {
        "author": "urn:li:organization:123",
        "commentary": TEXT,
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED"},
        "lifecycleState": "PUBLISHED",
    }
    async with aiohttp.ClientSession(headers=headers) as raw:
        async with raw.post(f"{base_url}/rest/posts", json=body) as created:
            urn = created.headers["x-restli-id"]
        async with raw.get(f"{base_url}/rest/posts/{quote(urn, safe='')}") as read:
            commentary = (await read.json())["commentary"]

    assert commentary == "Atelier CV "


async def test_sends_the_version_and_protocol_headers(http: aiohttp.ClientSession, base_url: str) -> None:
    adapter = LinkedInAdapter(http, version="201901")

    with pytest.raises(DeliveryError) as caught:
        await adapter.publish(page("linkedin", "123", base_url), ["x"], idempotency_key="d")

    assert (caught.value.kind, caught.value.network_code) == ("permanent", "NONEXISTENT_VERSION")
    assert "LinkedIn-Version" in caught.value.message


@pytest.mark.parametrize(
    ("token", "handle", "code"),
    [
        ("not-a-token", "123", "INVALID_ACCESS_TOKEN"),
        ("sbx-expired-linkedin-123", "123", "EXPIRED_ACCESS_TOKEN"),
        ("sbx-linkedin-123", "999", "ACCESS_DENIED"),
    ],
)
async def test_token_and_permission_refusals_need_reauth(
    http: aiohttp.ClientSession, base_url: str, token: str, handle: str, code: str
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await LinkedInAdapter(http).publish(
            page("linkedin", handle, base_url, token=token), ["x"], idempotency_key="d"
        )

    assert (caught.value.kind, caught.value.network_code) == ("auth", code)


async def test_duplicate_is_permanent(http: aiohttp.ClientSession, base_url: str) -> None:
    adapter, account = LinkedInAdapter(http), page("linkedin", "123", base_url)
    await adapter.publish(account, ["Forum"], idempotency_key="d1")

    with pytest.raises(DeliveryError) as caught:
        await adapter.publish(account, ["Forum"], idempotency_key="d2")

    assert (caught.value.kind, caught.value.network_code) == ("permanent", "UNPROCESSABLE_ENTITY")
    assert "duplicate" in caught.value.message


async def test_invalid_content_is_permanent_with_linkedins_422(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    await arm("linkedin", "123", "invalid_content")

    with pytest.raises(DeliveryError) as caught:
        await LinkedInAdapter(http).publish(page("linkedin", "123", base_url), ["x"], idempotency_key="d")

    assert (caught.value.kind, caught.value.network_code) == ("permanent", "UNPROCESSABLE_ENTITY")
    assert "commentary" in caught.value.message


async def test_an_unknown_outcome_is_found_again_by_reading_the_page(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, received: Received
) -> None:
    adapter, account = LinkedInAdapter(http), page("linkedin", "123", base_url)
    commentary = little("Job dating (jeudi) #emploi")
    await adapter.publish(account, [little("Une autre publication")], idempotency_key="other")
    await arm("linkedin", "123", "disconnect_after_create")

    with pytest.raises(UnknownOutcome):
        await adapter.publish(account, [commentary], idempotency_key="d")
    found = await adapter.find(account, [commentary], idempotency_key="d", since=0.0)

    posts = await received(network="linkedin")
    assert found is not None and found.remote_id == posts[-1]["remote_id"]
    assert await adapter.find(account, [little("Jamais publié")], idempotency_key="x", since=0.0) is None


async def test_daily_throttle_waits_until_midnight_utc(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    await arm("linkedin", "123", "rate_limit")

    with pytest.raises(DeliveryError) as caught:
        await LinkedInAdapter(http).publish(page("linkedin", "123", base_url), ["x"], idempotency_key="d")

    assert (caught.value.kind, caught.value.network_code) == ("transient", "TOO_MANY_REQUESTS")
    assert caught.value.throttled and caught.value.scope == "app"
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 24 * 3600


async def test_server_errors_are_transient(http: aiohttp.ClientSession, base_url: str, arm: Arm) -> None:
    await arm("linkedin", "123", "server_error")

    with pytest.raises(DeliveryError) as caught:
        await LinkedInAdapter(http).publish(page("linkedin", "123", base_url), ["x"], idempotency_key="d")

    assert caught.value.kind == "transient"


async def test_threads_are_refused(http: aiohttp.ClientSession, base_url: str, received: Received) -> None:
    with pytest.raises(DeliveryError) as caught:
        await LinkedInAdapter(http).publish(
            page("linkedin", "123", base_url), ["1/2", "2/2"], idempotency_key="d"
        )

    assert caught.value.kind == "permanent"
    assert await received() == []


@settings(database=None)  # keep no example database in the working tree
@given(st.text())
def test_the_shared_rules_escaping_reads_back_as_written(plain: str) -> None:
    escaped = escape_little_text(plain)
    assert read_little_text(escaped) == (escaped, plain)
