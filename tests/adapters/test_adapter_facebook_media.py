"""The Facebook adapter's photos against the Graph API emulator: unpublished uploads attached to a
feed post, upload failures that never leave a post in doubt, and reconciliation of a post with photos."""

from __future__ import annotations

import hashlib
import struct

import aiohttp
import pytest
from adapter_kit import Arm, Received, page

from services.dispatcher.adapters import DeliveryError, PageAccount, UnknownOutcome
from services.dispatcher.adapters.base import Media, RateHint
from services.dispatcher.adapters.facebook import FacebookAdapter


def png(width: int = 40, height: int = 30, filler: bytes = b"pixels") -> bytes:
    """A PNG signature and header chunk, enough for a network to recognise the format and size."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + header + b"\x00" * 4 + filler


def photo(number: int, alt: str | None = None) -> Media:
    return Media(
        "image", data=png(filler=f"photo {number}".encode()), mime_type="image/png", alt=alt, id=f"m{number}"
    )


def sha256(item: Media) -> str:
    return hashlib.sha256(item.data or b"").hexdigest()


@pytest.fixture
def account(base_url: str) -> PageAccount:
    return page("facebook", "1234", base_url)


async def test_one_photo_is_uploaded_unpublished_then_attached(
    http: aiohttp.ClientSession,
    account: PageAccount,
    base_url: str,
    received: Received,
    requests_seen: list[str],
) -> None:
    image = photo(1, alt="Affiche du forum : 12 mai, salle B")

    publication = await FacebookAdapter(http).publish(
        account, ["Forum emploi"], idempotency_key="d", link="https://example.org/forum", media=[image]
    )

    [post] = await received(network="facebook")
    assert publication.remote_id == post["remote_id"]
    assert requests_seen == [f"POST {base_url}/v23.0/1234/photos", f"POST {base_url}/v23.0/1234/feed"]
    [attached] = post["media"]
    assert (attached["sha256"], attached["size"], attached["content_type"]) == (
        sha256(image),
        len(image.data or b""),
        "image/png",
    )
    assert attached["alt"] == "Affiche du forum : 12 mai, salle B"
    assert post["body"]["attached_media[0]"] == f'{{"media_fbid": "{attached["id"]}"}}'
    assert "link" not in post["body"]  # the photos take the link preview's place


async def test_several_photos_keep_their_order(
    http: aiohttp.ClientSession, account: PageAccount, received: Received
) -> None:
    images = [photo(1, alt="un"), photo(2), photo(3, alt="trois")]

    await FacebookAdapter(http).publish(account, ["Trois photos"], idempotency_key="d", media=images)

    [post] = await received(network="facebook")
    assert [m["sha256"] for m in post["media"]] == [sha256(image) for image in images]
    assert [m["alt"] for m in post["media"]] == ["un", None, "trois"]
    fbids = [post["body"][f"attached_media[{index}]"] for index in range(3)]
    assert fbids == [f'{{"media_fbid": "{m["id"]}"}}' for m in post["media"]]


@pytest.mark.parametrize(
    ("media", "words"),
    [
        (Media("video", data=b"\x00\x00\x00\x18ftypmp42", mime_type="video/mp4"), "only attachment"),
        (Media("image", url="https://example.org/a.png", mime_type="image/png", id="m9"), "bytes"),
    ],
)
async def test_videos_and_missing_bytes_are_refused_before_anything_is_sent(
    http: aiohttp.ClientSession, account: PageAccount, requests_seen: list[str], media: Media, words: str
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await FacebookAdapter(http).publish(account, ["x"], idempotency_key="d", media=[photo(1), media])

    assert caught.value.kind == "permanent" and words in caught.value.message
    assert requests_seen == []


# transport.send takes bytes: aiohttp warns above 1 MB (it would rather stream a file object).
@pytest.mark.parametrize(
    ("data", "code"),
    [(b"%PDF-1.7 not a picture", "324"), (png(filler=b"\x00" * (4 * 1024 * 1024)), "100")],
)
async def test_a_refused_photo_is_permanent_with_graphs_code(
    http: aiohttp.ClientSession, account: PageAccount, received: Received, data: bytes, code: str
) -> None:
    item = Media("image", data=data, mime_type="image/png", id="m1")

    with pytest.raises(DeliveryError) as caught:
        await FacebookAdapter(http).publish(account, ["x"], idempotency_key="d", media=[photo(0), item])

    assert (caught.value.kind, caught.value.network_code) == ("permanent", code)
    assert "image 2 of 2" in caught.value.message and "nothing was posted" in caught.value.message
    assert await received(network="facebook") == []


async def test_an_expired_token_at_upload_needs_the_page_reconnected(
    http: aiohttp.ClientSession, base_url: str, requests_seen: list[str]
) -> None:
    account = page("facebook", "1234", base_url, token="sbx-expired-facebook-1234")

    with pytest.raises(DeliveryError) as caught:
        await FacebookAdapter(http).publish(account, ["x"], idempotency_key="d", media=[photo(1)])

    assert (caught.value.kind, caught.value.network_code) == ("auth", "190")
    assert "sbx-expired-facebook-1234" not in caught.value.message
    assert requests_seen == [f"POST {base_url}/v23.0/1234/photos"]


async def test_a_throttled_upload_waits_and_tells_the_limiter(
    http: aiohttp.ClientSession, account: PageAccount, arm: Arm
) -> None:
    await arm("facebook", "1234", "rate_limit", seconds=120)
    hints: list[RateHint] = []
    adapter = FacebookAdapter(http, observer=lambda _account, hint: hints.append(hint))

    with pytest.raises(DeliveryError) as caught:
        await adapter.publish(account, ["x"], idempotency_key="d", media=[photo(1)])

    assert (caught.value.kind, caught.value.throttled, caught.value.network_code) == ("transient", True, "32")
    assert caught.value.retry_after is not None and 100 < caught.value.retry_after <= 121
    assert [hint.scope for hint in hints] == ["page"] and hints[0].remaining == 0


@pytest.mark.parametrize("mode", ["timeout", "server_error"])
async def test_a_failed_upload_is_transient_never_an_unknown_outcome(
    http: aiohttp.ClientSession, account: PageAccount, arm: Arm, received: Received, mode: str
) -> None:
    await arm("facebook", "1234", mode, seconds=3)
    adapter = FacebookAdapter(http, timeout=aiohttp.ClientTimeout(total=0.5))

    with pytest.raises(DeliveryError) as caught:
        await adapter.publish(account, ["x"], idempotency_key="d", media=[photo(1)])

    assert caught.value.kind == "transient" and not caught.value.maybe_created
    assert "nothing was posted" in caught.value.message
    assert await received(network="facebook") == []


async def test_a_post_with_photos_left_in_doubt_is_found_again(
    http: aiohttp.ClientSession, account: PageAccount, arm: Arm, received: Received
) -> None:
    await arm("facebook", "1234", "timeout_after_create", seconds=3)
    adapter = FacebookAdapter(http, timeout=aiohttp.ClientTimeout(total=0.5))
    images = [photo(1, alt="un"), photo(2, alt="deux")]

    with pytest.raises(UnknownOutcome):
        await adapter.publish(account, ["Deux photos du forum"], idempotency_key="d", media=images)
    found = await adapter.find(account, ["Deux photos du forum"], idempotency_key="d", since=0.0)

    [post] = await received(network="facebook")
    assert found is not None and found.remote_id == post["remote_id"]
    assert [m["sha256"] for m in post["media"]] == [sha256(image) for image in images]
