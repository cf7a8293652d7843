"""The X adapter's media uploads against the X emulator: images, chunked videos, alt text, failures."""

from __future__ import annotations

import hashlib

import aiohttp
import pytest
from adapter_kit import Arm, Received, page

from services.dispatcher.adapters import DeliveryError, UnknownOutcome
from services.dispatcher.adapters.base import Media, RateHint
from services.dispatcher.adapters.x import XAdapter

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00moov" * 20


def image(name: str, *, alt: str | None = None, data: bytes = PNG, mime_type: str = "image/png") -> Media:
    return Media("image", data=data + name.encode(), mime_type=mime_type, alt=alt, id=name)


def media_calls(requests_seen: list[str]) -> list[str]:
    """The media requests sent, as `METHOD path` (query left out)."""
    calls = [request.split("?")[0] for request in requests_seen if "/2/media/" in request]
    return [f"{call.split()[0]} /2/media/{call.split('/2/media/')[1]}" for call in calls]


async def test_one_image_reaches_x_with_its_alt_text(
    http: aiohttp.ClientSession, base_url: str, received: Received, requests_seen: list[str]
) -> None:
    attached = image("m1", alt="Affiche du forum emploi de Lyon")

    publication = await XAdapter(http).publish(
        page("x", "lyon", base_url), ["Forum emploi"], idempotency_key="k", media=[attached]
    )

    [post] = await received(network="x")
    assert publication.remote_id == post["remote_id"]
    [stored] = post["media"]
    assert stored["sha256"] == hashlib.sha256(attached.data or b"").hexdigest()
    assert (stored["size"], stored["content_type"]) == (len(attached.data or b""), "image/png")
    assert stored["alt"] == "Affiche du forum emploi de Lyon"
    assert post["body"]["media"] == {"media_ids": [stored["id"]]}
    assert media_calls(requests_seen) == ["POST /2/media/upload", "POST /2/media/metadata"]


async def test_four_images_keep_their_order(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    images = [image(f"m{n}", alt=f"photo {n}" if n % 2 else None) for n in range(4)]

    await XAdapter(http).publish(page("x", "lyon", base_url), ["Photos"], idempotency_key="k", media=images)

    [post] = await received(network="x")
    assert [m["sha256"] for m in post["media"]] == [hashlib.sha256(i.data or b"").hexdigest() for i in images]
    assert [m["alt"] for m in post["media"]] == [None, "photo 1", None, "photo 3"]


async def test_a_video_goes_through_the_chunked_upload_and_waits_for_processing(
    http: aiohttp.ClientSession, base_url: str, received: Received, requests_seen: list[str]
) -> None:
    data = MP4 + b"\x01" * (2 * 1024 * 1024 + 512 * 1024)  # several segments
    video = Media("video", data=data, mime_type="video/mp4", alt="Interview", id="v1")

    await XAdapter(http).publish(page("x", "lyon", base_url), ["Vidéo"], idempotency_key="k", media=[video])

    [post] = await received(network="x")
    [stored] = post["media"]
    assert (stored["sha256"], stored["size"]) == (hashlib.sha256(data).hexdigest(), len(data))
    assert (stored["content_type"], stored["alt"]) == ("video/mp4", "Interview")
    media_id = stored["id"]
    calls = media_calls(requests_seen)
    appends = calls.count(f"POST /2/media/upload/{media_id}/append")
    assert appends >= 3  # segments stay small, whatever the file's size
    assert calls == [
        "POST /2/media/upload/initialize",
        *[f"POST /2/media/upload/{media_id}/append"] * appends,
        f"POST /2/media/upload/{media_id}/finalize",
        "GET /2/media/upload",  # STATUS, after the check_after_secs X asked for
        "POST /2/media/metadata",
    ]


async def test_a_large_image_is_uploaded_in_segments(
    http: aiohttp.ClientSession, base_url: str, received: Received, requests_seen: list[str]
) -> None:
    big = image("m1", data=PNG * 1000)

    await XAdapter(http).publish(page("x", "lyon", base_url), ["x"], idempotency_key="k", media=[big])

    [post] = await received(network="x")
    assert post["media"][0]["sha256"] == hashlib.sha256(big.data or b"").hexdigest()
    assert media_calls(requests_seen)[0] == "POST /2/media/upload/initialize"


async def test_a_gif_is_chunked_as_tweet_gif(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    gif = Media("image", data=b"GIF89a" + b"\x00" * 64, mime_type="image/gif", id="g1")

    await XAdapter(http).publish(page("x", "lyon", base_url), ["GIF"], idempotency_key="k", media=[gif])

    [post] = await received(network="x")
    assert post["media"][0]["content_type"] == "image/gif"


async def test_only_the_first_part_of_a_thread_carries_the_media(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    await XAdapter(http).publish(
        page("x", "lyon", base_url), ["1/2", "2/2"], idempotency_key="k", media=[image("m1")]
    )

    first, second = await received(network="x")
    assert len(first["media"]) == 1 and "media" in first["body"]
    assert second["media"] == [] and "media" not in second["body"]


async def test_resuming_a_thread_uploads_nothing_again(
    http: aiohttp.ClientSession, base_url: str, received: Received, requests_seen: list[str]
) -> None:
    adapter, account = XAdapter(http), page("x", "lyon", base_url)
    with pytest.raises(DeliveryError) as caught:
        await adapter.publish(account, ["1/2", "é" * 281], idempotency_key="k", media=[image("m1")])
    uploads_before = len(media_calls(requests_seen))

    publication = await adapter.publish(
        account, ["1/2", "2/2"], idempotency_key="k", media=[image("m1")], done=caught.value.part_ids
    )

    assert len(media_calls(requests_seen)) == uploads_before
    first, second = await received(network="x")
    assert publication.part_ids == (first["remote_id"], second["remote_id"])
    assert len(first["media"]) == 1 and second["media"] == []


@pytest.mark.parametrize(
    ("attached", "words"),
    [
        (image("m1", mime_type="image/svg+xml"), "not allowed"),
        (image("m1", data=b"\x00" * (5 * 1024 * 1024 + 1)), "File size exceeds 5242880 bytes"),
        (image("m1", alt="a" * 1001), "at most 1000 characters"),
    ],
)
async def test_media_x_refuses_is_permanent_with_its_code(
    http: aiohttp.ClientSession, base_url: str, received: Received, attached: Media, words: str
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await XAdapter(http).publish(
            page("x", "lyon", base_url), ["x"], idempotency_key="k", media=[attached]
        )

    assert (caught.value.kind, caught.value.network_code) == ("permanent", "400")
    assert words in caught.value.message and "m1" in caught.value.message
    assert await received(network="x") == []


async def test_a_video_x_cannot_process_is_permanent(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    broken = Media("video", data=b"not a video at all", mime_type="video/mp4", id="v1")

    with pytest.raises(DeliveryError) as caught:
        await XAdapter(http).publish(page("x", "lyon", base_url), ["x"], idempotency_key="k", media=[broken])

    assert (caught.value.kind, caught.value.network_code) == ("permanent", "InvalidMedia")
    assert "Unsupported video format" in caught.value.message
    assert await received(network="x") == []


@pytest.mark.parametrize(
    ("media", "words"),
    [
        ([Media("image", mime_type="image/png", id="m1")], "bytes of image 1 (m1) are missing"),
        ([image(f"m{n}") for n in range(5)], "at most 4 attachments"),
        ([image("m1"), Media("video", data=MP4, mime_type="video/mp4")], "single attachment"),
    ],
)
async def test_attachments_x_cannot_take_are_refused_before_any_upload(
    http: aiohttp.ClientSession, base_url: str, requests_seen: list[str], media: list[Media], words: str
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await XAdapter(http).publish(page("x", "lyon", base_url), ["x"], idempotency_key="k", media=media)

    assert (caught.value.kind, caught.value.network_code) == ("permanent", None)
    assert words in caught.value.message
    assert requests_seen == []


async def test_an_expired_token_at_upload_needs_the_page_reconnected(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    account = page("x", "lyon", base_url, token="sbx-expired-x-lyon")

    with pytest.raises(DeliveryError) as caught:
        await XAdapter(http).publish(account, ["x"], idempotency_key="k", media=[image("m1")])

    assert (caught.value.kind, caught.value.network_code) == ("auth", "401")
    assert "reconnect" in caught.value.message and "sbx-expired" not in caught.value.message


async def test_a_rate_limited_upload_is_a_wait(http: aiohttp.ClientSession, base_url: str, arm: Arm) -> None:
    await arm("x", "lyon", "rate_limit", seconds=120)

    with pytest.raises(DeliveryError) as caught:
        await XAdapter(http).publish(
            page("x", "lyon", base_url), ["x"], idempotency_key="k", media=[image("m1")]
        )

    assert (caught.value.kind, caught.value.network_code, caught.value.throttled) == (
        "transient",
        "429",
        True,
    )
    assert caught.value.retry_after is not None and 110 < caught.value.retry_after <= 121


async def test_a_server_error_during_upload_is_transient_and_posted_nothing(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, received: Received
) -> None:
    await arm("x", "lyon", "server_error")

    with pytest.raises(DeliveryError) as caught:
        await XAdapter(http).publish(
            page("x", "lyon", base_url), ["x"], idempotency_key="k", media=[image("m1")]
        )

    assert (caught.value.kind, caught.value.network_code, caught.value.maybe_created) == (
        "transient",
        "503",
        False,
    )
    assert "nothing was posted" in caught.value.message
    assert await received(network="x") == []


async def test_an_upload_timeout_is_transient_not_an_unknown_outcome(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, received: Received
) -> None:
    await arm("x", "lyon", "timeout", seconds=5)
    adapter = XAdapter(http, timeout=aiohttp.ClientTimeout(total=0.3))

    with pytest.raises(DeliveryError) as caught:
        await adapter.publish(page("x", "lyon", base_url), ["x"], idempotency_key="k", media=[image("m1")])

    assert (caught.value.kind, caught.value.network_code) == ("transient", None)
    assert await received(network="x") == []


async def test_upload_rate_limits_reach_the_observer(http: aiohttp.ClientSession, base_url: str) -> None:
    hints: list[RateHint] = []
    adapter = XAdapter(http, observer=lambda _account, hint: hints.append(hint))

    await adapter.publish(page("x", "lyon", base_url), ["x"], idempotency_key="k", media=[image("m1")])

    upload_hint, post_hint = hints[0], hints[-2]
    assert (upload_hint.scope, upload_hint.limit, upload_hint.remaining) == ("page", 500, 499)
    assert (post_hint.scope, post_hint.limit) == ("page", 100)


async def test_a_post_with_media_left_in_doubt_is_found_despite_xs_media_link(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, received: Received
) -> None:
    account = page("x", "lyon", base_url)
    await arm("x", "lyon", "disconnect_after_create")
    with pytest.raises(UnknownOutcome):
        await XAdapter(http).publish(
            account, ["Forum", "suite"], idempotency_key="k", media=[image("m1", alt="Affiche")]
        )

    # X shows the post's text with a t.co link to its media appended: still the same post.
    found = await XAdapter(http).find(account, ["Forum", "suite"], idempotency_key="k", since=0.0)

    [post] = await received(network="x")
    assert found is not None and found.part_ids == (post["remote_id"],)
