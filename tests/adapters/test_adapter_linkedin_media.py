"""The LinkedIn adapter's images against the Images and Posts API emulator: initializeUpload owned
by the author, the bytes put to the upload URL, one image as `media` or several as `multiImage`,
upload failures that never leave a post in doubt, and reconciliation of a post with images."""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import aiohttp
import pytest
from adapter_kit import Arm, Received, page

from services.dispatcher.adapters import DeliveryError, PageAccount, UnknownOutcome
from services.dispatcher.adapters.base import Media
from services.dispatcher.adapters.linkedin import LinkedInAdapter
from tests.images import encoded


def png(width: int = 40, height: int = 30, filler: bytes = b"pixels") -> bytes:
    """A PNG signature and header chunk, enough for a network to recognise the format and size."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + header + b"\x00" * 4 + filler


def image(number: int, alt: str | None = None, data: bytes | None = None) -> Media:
    data = data if data is not None else png(filler=f"image {number}".encode())
    return Media("image", data=data, mime_type="image/png", alt=alt, id=f"m{number}")


def sha256(item: Media) -> str:
    return hashlib.sha256(item.data or b"").hexdigest()


@pytest.fixture
def account(base_url: str) -> PageAccount:
    return page("linkedin", "123", base_url)


async def test_one_image_is_the_posts_media(
    http: aiohttp.ClientSession,
    account: PageAccount,
    base_url: str,
    received: Received,
    requests_seen: list[str],
) -> None:
    item = image(1, alt="Affiche du forum : 12 mai, salle B")

    publication = await LinkedInAdapter(http).publish(
        account, ["Forum emploi"], idempotency_key="d", media=[item]
    )

    [post] = await received(network="linkedin")
    assert publication.remote_id == post["remote_id"]
    [attached] = post["media"]
    assert (attached["sha256"], attached["content_type"]) == (sha256(item), "image/png")
    assert attached["alt"] == "Affiche du forum : 12 mai, salle B"
    assert post["body"]["content"] == {"media": {"id": attached["id"], "altText": attached["alt"]}}
    assert attached["id"].startswith("urn:li:image:")
    assert requests_seen[0] == f"POST {base_url}/rest/images?action=initializeUpload"
    assert requests_seen[1].startswith(f"PUT {base_url}/dms-uploads/")
    assert requests_seen[2] == f"POST {base_url}/rest/posts"


async def test_several_images_are_a_multi_image_post_in_order(
    http: aiohttp.ClientSession, account: PageAccount, received: Received
) -> None:
    images = [image(1, alt="un"), image(2), image(3, alt="trois")]

    await LinkedInAdapter(http).publish(account, ["Trois images"], idempotency_key="d", media=images)

    [post] = await received(network="linkedin")
    assert [m["sha256"] for m in post["media"]] == [sha256(item) for item in images]
    assert [m["alt"] for m in post["media"]] == ["un", None, "trois"]
    entries = post["body"]["content"]["multiImage"]["images"]
    assert [entry["id"] for entry in entries] == [m["id"] for m in post["media"]]
    assert [entry.get("altText") for entry in entries] == ["un", None, "trois"]


@pytest.mark.parametrize(
    ("media", "words"),
    [
        (
            [image(1), Media("video", data=b"\x00\x00\x00\x18ftypmp42", mime_type="video/mp4")],
            "only attachment",
        ),
        ([image(1), Media("image", url="https://example.org/a.png", id="m9")], "bytes"),
        ([image(n) for n in range(21)], "at most 20 attachments"),
    ],
)
async def test_videos_missing_bytes_and_too_many_images_are_refused_before_anything_is_sent(
    http: aiohttp.ClientSession,
    account: PageAccount,
    requests_seen: list[str],
    media: list[Media],
    words: str,
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await LinkedInAdapter(http).publish(account, ["x"], idempotency_key="d", media=media)

    assert caught.value.kind == "permanent" and words in caught.value.message
    assert requests_seen == []


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"%PDF-1.7 not a picture", "not a JPG, GIF or PNG"),
        (encoded("WEBP", (40, 30)), "not a JPG, GIF or PNG"),
        (png(10_000, 5_000), "pixels"),
    ],
)
async def test_a_refused_image_is_permanent_with_linkedins_code(
    http: aiohttp.ClientSession, account: PageAccount, received: Received, data: bytes, words: str
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await LinkedInAdapter(http).publish(
            account, ["x"], idempotency_key="d", media=[image(1), image(2, data=data)]
        )

    assert (caught.value.kind, caught.value.network_code) == ("permanent", "ILLEGAL_ARGUMENT")
    assert words in caught.value.message and "image 2 of 2" in caught.value.message
    assert await received(network="linkedin") == []


async def test_an_expired_token_at_upload_needs_the_page_reconnected(
    http: aiohttp.ClientSession, base_url: str, requests_seen: list[str]
) -> None:
    account = page("linkedin", "123", base_url, token="sbx-expired-linkedin-123")

    with pytest.raises(DeliveryError) as caught:
        await LinkedInAdapter(http).publish(account, ["x"], idempotency_key="d", media=[image(1)])

    assert (caught.value.kind, caught.value.network_code) == ("auth", "EXPIRED_ACCESS_TOKEN")
    assert "reconnect" in caught.value.message and "sbx-expired" not in caught.value.message
    assert requests_seen == [f"POST {base_url}/rest/images?action=initializeUpload"]


async def test_an_upload_for_another_organization_is_denied(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    account = page("linkedin", "999", base_url, token="sbx-linkedin-123")

    with pytest.raises(DeliveryError) as caught:
        await LinkedInAdapter(http).publish(account, ["x"], idempotency_key="d", media=[image(1)])

    assert (caught.value.kind, caught.value.network_code) == ("auth", "ACCESS_DENIED")


async def test_a_throttled_upload_waits(http: aiohttp.ClientSession, account: PageAccount, arm: Arm) -> None:
    await arm("linkedin", "123", "rate_limit")

    with pytest.raises(DeliveryError) as caught:
        await LinkedInAdapter(http).publish(account, ["x"], idempotency_key="d", media=[image(1)])

    assert (caught.value.kind, caught.value.throttled) == ("transient", True)
    assert caught.value.network_code == "TOO_MANY_REQUESTS"
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 24 * 3600


@pytest.mark.parametrize("mode", ["timeout", "server_error"])
async def test_a_failed_initialization_is_transient_never_an_unknown_outcome(
    http: aiohttp.ClientSession, account: PageAccount, arm: Arm, received: Received, mode: str
) -> None:
    await arm("linkedin", "123", mode, seconds=3)
    adapter = LinkedInAdapter(http, timeout=aiohttp.ClientTimeout(total=0.5))

    with pytest.raises(DeliveryError) as caught:
        await adapter.publish(account, ["x"], idempotency_key="d", media=[image(1)])

    assert caught.value.kind == "transient" and not caught.value.maybe_created
    assert "nothing was posted" in caught.value.message
    assert await received(network="linkedin") == []


@pytest.mark.parametrize("mode", ["timeout", "server_error"])
async def test_a_failed_put_of_the_bytes_is_transient_never_an_unknown_outcome(
    account: PageAccount, arm: Arm, received: Received, mode: str
) -> None:
    async def misbehave_on_put(_session: aiohttp.ClientSession, _context: Any, params: Any) -> None:
        if params.method == "PUT":
            await arm("linkedin", "123", mode, seconds=3)

    tracing = aiohttp.TraceConfig()
    tracing.on_request_start.append(misbehave_on_put)
    async with aiohttp.ClientSession(trace_configs=[tracing]) as session:
        adapter = LinkedInAdapter(session, timeout=aiohttp.ClientTimeout(total=0.5))
        with pytest.raises(DeliveryError) as caught:
            await adapter.publish(account, ["x"], idempotency_key="d", media=[image(1)])

    assert caught.value.kind == "transient" and "nothing was posted" in caught.value.message
    assert await received(network="linkedin") == []


async def test_a_post_with_images_left_in_doubt_is_found_again(
    http: aiohttp.ClientSession, account: PageAccount, arm: Arm, received: Received
) -> None:
    await arm("linkedin", "123", "timeout_after_create", seconds=3)
    adapter = LinkedInAdapter(http, timeout=aiohttp.ClientTimeout(total=0.5))
    images = [image(1, alt="un"), image(2, alt="deux")]

    with pytest.raises(UnknownOutcome):
        await adapter.publish(account, ["Deux images du forum"], idempotency_key="d", media=images)
    found = await adapter.find(account, ["Deux images du forum"], idempotency_key="d", since=0.0)

    [post] = await received(network="linkedin")
    assert found is not None and found.remote_id == post["remote_id"]
    assert [m["sha256"] for m in post["media"]] == [sha256(item) for item in images]
