"""The Bluesky adapter's images against the PDS emulator: uploads, embeds, resumes, errors."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import aiohttp
import pytest
from adapter_kit import Arm, Received, page

from services.dispatcher.adapters import DeliveryError, UnknownOutcome
from services.dispatcher.adapters import bluesky as bluesky_adapter
from services.dispatcher.adapters.base import Media
from services.dispatcher.adapters.bluesky import BlueskyAdapter
from tests.images import encoded, oriented_jpeg, png


def image(shade: int = 0, alt: str | None = "Affiche du forum") -> Media:
    return Media(
        "image", data=png(4 + shade, 3, shade=shade), mime_type="image/png", alt=alt, id=f"m-{shade}"
    )


def uploads(requests_seen: list[str]) -> int:
    return sum("com.atproto.repo.uploadBlob" in request for request in requests_seen)


def sha256(data: bytes | None) -> str:
    return hashlib.sha256(data or b"").hexdigest()


async def test_one_image_reaches_the_pds_with_its_bytes_and_alt(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    sent = image(alt="Affiche : forum de l'emploi, jeudi 14 h")

    await BlueskyAdapter(http).publish(
        page("bluesky", "lyon", base_url), ["Forum jeudi"], idempotency_key="d1", media=[sent]
    )

    [post] = await received(network="bluesky")
    [attached] = post["media"]
    assert (attached["sha256"], attached["size"]) == (sha256(sent.data), len(sent.data or b""))
    assert attached["alt"] == sent.alt and attached["content_type"] == "image/png"
    [embedded] = post["body"]["record"]["embed"]["images"]
    assert post["body"]["record"]["embed"]["$type"] == "app.bsky.embed.images"
    assert embedded["image"]["ref"]["$link"] == attached["id"] and attached["id"].startswith("bafkrei")
    assert embedded["aspectRatio"] == {"width": 4, "height": 3}
    assert "validate" not in post["body"]


async def test_the_aspect_ratio_is_the_shown_one_for_a_rotated_photo_and_a_webp(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    # A phone photo stored 640×480 with EXIF orientation 6 is shown upright, 480×640; a WebP has one.
    rotated = Media("image", data=oriented_jpeg(6), mime_type="image/jpeg", alt="Affiche", id="m-jpeg")
    webp = Media("image", data=encoded("WEBP", (300, 200)), mime_type="image/webp", alt="Plan", id="m-webp")

    await BlueskyAdapter(http).publish(
        page("bluesky", "lyon", base_url), ["Forum jeudi"], idempotency_key="d-ratio", media=[rotated, webp]
    )

    [post] = await received(network="bluesky")
    ratios = [image["aspectRatio"] for image in post["body"]["record"]["embed"]["images"]]
    assert ratios == [{"width": 480, "height": 640}, {"width": 300, "height": 200}]


async def test_several_images_keep_their_order_and_an_empty_alt_is_sent_empty(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    sent = [image(1), image(2, alt=None), image(3), image(4)]

    await BlueskyAdapter(http).publish(
        page("bluesky", "lyon", base_url), ["Quatre affiches"], idempotency_key="d1", media=sent
    )

    [post] = await received(network="bluesky")
    assert [item["sha256"] for item in post["media"]] == [sha256(m.data) for m in sent]
    assert [item["alt"] for item in post["media"]] == [
        "Affiche du forum",
        "",
        "Affiche du forum",
        "Affiche du forum",
    ]


async def test_a_thread_carries_the_images_on_its_first_post_only(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    await BlueskyAdapter(http).publish(
        page("bluesky", "lyon", base_url), ["1/3", "2/3", "3/3"], idempotency_key="d1", media=[image()]
    )

    first, *rest = await received(network="bluesky")
    assert len(first["media"]) == 1 and "embed" in first["body"]["record"]
    assert all(post["media"] == [] and "embed" not in post["body"]["record"] for post in rest)


async def test_resuming_a_thread_uploads_nothing_again(
    http: aiohttp.ClientSession, base_url: str, received: Received, requests_seen: list[str]
) -> None:
    adapter, account = BlueskyAdapter(http), page("bluesky", "lyon", base_url)
    # The first attempt published the first part (with its image), then stopped.
    first = await adapter.publish(account, ["1/2"], idempotency_key="d1", media=[image()])

    resumed = await adapter.publish(
        account, ["1/2", "2/2"], idempotency_key="d1", media=[image()], done=first.part_ids
    )

    assert uploads(requests_seen) == 1
    assert resumed.part_ids[0] == first.remote_id
    head, tail = await received(network="bluesky")
    assert len(head["media"]) == 1 and tail["media"] == []
    assert tail["body"]["record"]["reply"]["root"]["uri"] == first.remote_id


async def test_the_same_image_may_go_to_two_pages(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    adapter = BlueskyAdapter(http)

    for handle in ("lyon", "paris"):
        await adapter.publish(
            page("bluesky", handle, base_url), ["Forum"], idempotency_key="d1", media=[image()]
        )

    assert [len(post["media"]) for post in await received(network="bluesky")] == [1, 1]


@pytest.mark.parametrize(
    ("media", "words"),
    [
        (
            [image(1), Media("video", data=b"\x00\x00\x00\x18ftypmp42", mime_type="video/mp4")],
            "only attachment",
        ),
        ([Media("image", url="https://example.org/a.png", mime_type="image/png", id="m-9")], "bytes"),
        ([image(n) for n in range(5)], "at most 4"),
        ([Media("image", data=b"\x89PNG" + bytes(2_000_000), mime_type="image/png")], "2,000,000 bytes"),
    ],
)
async def test_what_bluesky_cannot_take_is_refused_before_sending_anything(
    http: aiohttp.ClientSession, base_url: str, requests_seen: list[str], media: list[Media], words: str
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await BlueskyAdapter(http).publish(
            page("bluesky", "lyon", base_url), ["x"], idempotency_key="d", media=media
        )

    assert caught.value.kind == "permanent" and words in caught.value.message
    assert requests_seen == []


async def test_an_upload_the_pds_finds_too_large_is_permanent(
    http: aiohttp.ClientSession, base_url: str, monkeypatch: pytest.MonkeyPatch, received: Received
) -> None:
    monkeypatch.setattr(
        bluesky_adapter, "_MEDIA_RULES", replace(bluesky_adapter._MEDIA_RULES, max_image_bytes=10**8)
    )  # let the PDS's own limit speak
    huge = Media("image", data=png() + bytes(5 * 1024 * 1024), mime_type="image/png")

    with pytest.raises(DeliveryError) as caught:
        await BlueskyAdapter(http).publish(
            page("bluesky", "lyon", base_url), ["x"], idempotency_key="d", media=[huge]
        )

    assert (caught.value.kind, caught.value.network_code) == ("permanent", "PayloadTooLarge")
    assert "larger than the PDS accepts" in caught.value.message
    assert await received(network="bluesky") == []


async def test_an_expired_session_during_the_upload_is_refreshed_once(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, requests_seen: list[str], received: Received
) -> None:
    adapter, account = BlueskyAdapter(http), page("bluesky", "lyon", base_url)
    await adapter.publish(account, ["before"], idempotency_key="d1")
    await arm("bluesky", "lyon", "expired_token")

    await adapter.publish(account, ["after"], idempotency_key="d2", media=[image()])

    assert sum("refreshSession" in request for request in requests_seen) == 1
    assert uploads(requests_seen) == 2
    assert [len(post["media"]) for post in await received(network="bluesky")] == [0, 1]


async def test_a_token_refused_at_upload_needs_reauth(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, received: Received
) -> None:
    await arm("bluesky", "lyon", "expired_token", times=0)

    with pytest.raises(DeliveryError) as caught:
        await BlueskyAdapter(http).publish(
            page("bluesky", "lyon", base_url), ["x"], idempotency_key="d", media=[image()]
        )

    assert (caught.value.kind, caught.value.network_code) == ("auth", "ExpiredToken")
    assert await received(network="bluesky") == []


async def test_a_rate_limited_upload_waits_for_the_reset(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    await arm("bluesky", "lyon", "rate_limit", seconds=90)

    with pytest.raises(DeliveryError) as caught:
        await BlueskyAdapter(http).publish(
            page("bluesky", "lyon", base_url), ["x"], idempotency_key="d", media=[image()]
        )

    error = caught.value
    assert (error.kind, error.network_code, error.throttled) == ("transient", "RateLimitExceeded", True)
    assert error.retry_after is not None and 80 < error.retry_after <= 91


@pytest.mark.parametrize("mode", ["timeout", "disconnect_after_create"])
async def test_a_lost_upload_answer_is_a_plain_retry_not_an_unknown_outcome(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, received: Received, mode: str
) -> None:
    await arm("bluesky", "lyon", mode, seconds=5)
    adapter = BlueskyAdapter(http, timeout=aiohttp.ClientTimeout(total=0.5))

    with pytest.raises(DeliveryError) as caught:
        await adapter.publish(page("bluesky", "lyon", base_url), ["x"], idempotency_key="d", media=[image()])

    assert not isinstance(caught.value, UnknownOutcome)
    assert caught.value.kind == "transient" and caught.value.part_ids == ()
    assert await received(network="bluesky") == []
