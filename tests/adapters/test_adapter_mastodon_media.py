"""The Mastodon adapter's attachments and content warnings against the Mastodon emulator."""

from __future__ import annotations

import hashlib

import aiohttp
import pytest
from adapter_kit import Arm, Received, page

from services.dispatcher.adapters import DeliveryError
from services.dispatcher.adapters.base import Media, RateHint
from services.dispatcher.adapters.mastodon import MastodonAdapter

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00moov" * 200


def image(name: str, *, alt: str | None = None, mime_type: str = "image/png") -> Media:
    return Media("image", data=PNG + name.encode(), mime_type=mime_type, alt=alt, id=name)


def media_calls(requests_seen: list[str]) -> list[str]:
    return [request.split("://")[1].split("/", 1)[1] for request in requests_seen if "/media" in request]


async def test_one_image_reaches_mastodon_with_its_description(
    http: aiohttp.ClientSession, base_url: str, received: Received, requests_seen: list[str]
) -> None:
    attached = image("m1", alt="Affiche du forum emploi de Lyon")

    publication = await MastodonAdapter(http).publish(
        page("mastodon", "lyon", base_url), ["Forum"], idempotency_key="d1", media=[attached]
    )

    [post] = await received(network="mastodon")
    assert publication.remote_id == post["remote_id"]
    [stored] = post["media"]
    assert stored["sha256"] == hashlib.sha256(attached.data or b"").hexdigest()
    assert (stored["content_type"], stored["alt"]) == ("image/png", "Affiche du forum emploi de Lyon")
    assert post["body"]["media_ids"] == [stored["id"]]
    assert media_calls(requests_seen) == ["api/v2/media"]  # an image is ready at once (200)


async def test_four_images_keep_their_order(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    images = [image(f"m{n}", alt=f"photo {n}") for n in range(4)]

    await MastodonAdapter(http).publish(
        page("mastodon", "lyon", base_url), ["Photos"], idempotency_key="d1", media=images
    )

    [post] = await received(network="mastodon")
    assert [m["sha256"] for m in post["media"]] == [hashlib.sha256(i.data or b"").hexdigest() for i in images]
    assert [m["alt"] for m in post["media"]] == [f"photo {n}" for n in range(4)]


async def test_a_video_is_awaited_until_processed(
    http: aiohttp.ClientSession, base_url: str, received: Received, requests_seen: list[str]
) -> None:
    video = Media("video", data=MP4, mime_type="video/mp4", alt="Interview", id="v1")

    await MastodonAdapter(http).publish(
        page("mastodon", "lyon", base_url), ["Vidéo"], idempotency_key="d1", media=[video]
    )

    [post] = await received(network="mastodon")
    [stored] = post["media"]
    assert (stored["sha256"], stored["content_type"]) == (hashlib.sha256(MP4).hexdigest(), "video/mp4")
    calls = media_calls(requests_seen)
    assert calls[0] == "api/v2/media"  # answered 202, url null
    assert calls[1:] and set(calls[1:]) == {f"api/v1/media/{stored['id']}"}  # 206 … then 200


async def test_only_the_first_part_carries_the_media_and_every_part_the_warning(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    await MastodonAdapter(http).publish(
        page("mastodon", "lyon", base_url),
        ["1/2", "2/2"],
        idempotency_key="d1",
        media=[image("m1")],
        content_warning="Violence au travail",
    )

    first, second = await received(network="mastodon")
    assert len(first["media"]) == 1 and second["media"] == []
    assert "media_ids" not in second["body"]
    assert [p["body"]["spoiler_text"] for p in (first, second)] == ["Violence au travail"] * 2
    async with http.get(f"{base_url}/api/v1/statuses/{first['remote_id']}") as response:
        status = await response.json()
    assert status["spoiler_text"] == "Violence au travail"
    assert status["media_attachments"][0]["id"] == first["media"][0]["id"]


async def test_no_content_warning_sends_no_spoiler_text(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    await MastodonAdapter(http).publish(page("mastodon", "lyon", base_url), ["x"], idempotency_key="d1")

    [post] = await received(network="mastodon")
    assert "spoiler_text" not in post["body"]


async def test_resuming_a_thread_uploads_nothing_again(
    http: aiohttp.ClientSession, base_url: str, received: Received, requests_seen: list[str]
) -> None:
    adapter, account = MastodonAdapter(http), page("mastodon", "lyon", base_url)
    with pytest.raises(DeliveryError) as caught:
        await adapter.publish(account, ["1/2", "x" * 501], idempotency_key="d1", media=[image("m1")])
    uploads_before = len(media_calls(requests_seen))

    publication = await adapter.publish(
        account, ["1/2", "2/2"], idempotency_key="d1", media=[image("m1")], done=caught.value.part_ids
    )

    assert len(media_calls(requests_seen)) == uploads_before == 1
    first, second = await received(network="mastodon")
    assert publication.part_ids == (first["remote_id"], second["remote_id"])
    assert len(first["media"]) == 1 and second["media"] == []


@pytest.mark.parametrize(
    ("attached", "words"),
    [
        (image("m1", mime_type="application/pdf"), "File content type is invalid"),
        (image("m1", alt="a" * 1501), "Description is too long"),
    ],
)
async def test_media_mastodon_refuses_is_permanent_with_its_code(
    http: aiohttp.ClientSession, base_url: str, received: Received, attached: Media, words: str
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await MastodonAdapter(http).publish(
            page("mastodon", "lyon", base_url), ["x"], idempotency_key="d1", media=[attached]
        )

    assert (caught.value.kind, caught.value.network_code) == ("permanent", "422")
    assert words in caught.value.message and "m1" in caught.value.message
    assert await received(network="mastodon") == []


@pytest.mark.parametrize(
    ("media", "words"),
    [
        ([Media("image", mime_type="image/png", id="m1")], "bytes of image 1 (m1) are missing"),
        ([image(f"m{n}") for n in range(5)], "at most 4 attachments"),
        ([image("m1"), Media("video", data=MP4, mime_type="video/mp4")], "single attachment"),
    ],
)
async def test_attachments_mastodon_cannot_take_are_refused_before_any_upload(
    http: aiohttp.ClientSession, base_url: str, requests_seen: list[str], media: list[Media], words: str
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await MastodonAdapter(http).publish(
            page("mastodon", "lyon", base_url), ["x"], idempotency_key="d1", media=media
        )

    assert (caught.value.kind, caught.value.network_code) == ("permanent", None)
    assert words in caught.value.message
    assert requests_seen == []


async def test_a_revoked_token_at_upload_needs_the_page_reconnected(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    account = page("mastodon", "lyon", base_url, token="sbx-expired-mastodon-lyon")

    with pytest.raises(DeliveryError) as caught:
        await MastodonAdapter(http).publish(account, ["x"], idempotency_key="d1", media=[image("m1")])

    assert (caught.value.kind, caught.value.network_code) == ("auth", "401")
    assert "reconnect" in caught.value.message and "sbx-expired" not in caught.value.message


async def test_the_31st_upload_in_30_minutes_is_a_wait(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    adapter, account = MastodonAdapter(http), page("mastodon", "lyon", base_url)
    for n in range(7):  # 28 uploads
        await adapter.publish(
            account, [f"post {n}"], idempotency_key=f"d{n}", media=[image(f"{n}-{i}") for i in range(4)]
        )
    await adapter.publish(account, ["post 7"], idempotency_key="d7", media=[image("7-0"), image("7-1")])

    with pytest.raises(DeliveryError) as caught:
        await adapter.publish(account, ["post 8"], idempotency_key="d8", media=[image("8-0")])

    assert (caught.value.kind, caught.value.network_code, caught.value.throttled) == (
        "transient",
        "429",
        True,
    )
    assert caught.value.retry_after is not None and 1790 < caught.value.retry_after <= 1801
    assert len(await received(network="mastodon")) == 8


async def test_a_rate_limit_fault_at_upload_is_a_wait(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    await arm("mastodon", "lyon", "rate_limit", seconds=300)

    with pytest.raises(DeliveryError) as caught:
        await MastodonAdapter(http).publish(
            page("mastodon", "lyon", base_url), ["x"], idempotency_key="d1", media=[image("m1")]
        )

    assert (caught.value.kind, caught.value.network_code, caught.value.throttled) == (
        "transient",
        "429",
        True,
    )
    assert caught.value.retry_after is not None and 290 < caught.value.retry_after <= 301


async def test_a_server_error_during_upload_is_transient_and_posted_nothing(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, received: Received
) -> None:
    await arm("mastodon", "lyon", "server_error")

    with pytest.raises(DeliveryError) as caught:
        await MastodonAdapter(http).publish(
            page("mastodon", "lyon", base_url), ["x"], idempotency_key="d1", media=[image("m1")]
        )

    assert (caught.value.kind, caught.value.network_code, caught.value.maybe_created) == (
        "transient",
        "503",
        False,
    )
    assert "nothing was posted" in caught.value.message
    assert await received(network="mastodon") == []


async def test_an_upload_timeout_is_transient_not_an_unknown_outcome(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, received: Received
) -> None:
    await arm("mastodon", "lyon", "timeout", seconds=5)
    adapter = MastodonAdapter(http, timeout=aiohttp.ClientTimeout(total=0.3))

    with pytest.raises(DeliveryError) as caught:
        await adapter.publish(
            page("mastodon", "lyon", base_url), ["x"], idempotency_key="d1", media=[image("m1")]
        )

    assert (caught.value.kind, caught.value.network_code) == ("transient", None)
    assert await received(network="mastodon") == []


async def test_upload_rate_limits_reach_the_observer(http: aiohttp.ClientSession, base_url: str) -> None:
    hints: list[RateHint] = []
    adapter = MastodonAdapter(http, observer=lambda _account, hint: hints.append(hint))

    await adapter.publish(
        page("mastodon", "lyon", base_url), ["x"], idempotency_key="d1", media=[image("m1")]
    )

    upload_hint, status_hint = hints
    assert (upload_hint.limit, upload_hint.remaining) == (30, 29)
    assert (status_hint.limit, status_hint.remaining) == (300, 299)
