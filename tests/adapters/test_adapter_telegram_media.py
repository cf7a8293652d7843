"""The Telegram adapter's photos and videos against the Bot API emulator: uploads, albums, errors."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import aiohttp
import pytest
from adapter_kit import Arm, Received, page

from services.dispatcher.adapters import DeliveryError, UnknownOutcome
from services.dispatcher.adapters import telegram as telegram_adapter
from services.dispatcher.adapters.base import Media
from services.dispatcher.adapters.telegram import TelegramAdapter
from tests.images import png

CHANNEL = "ft_lyon"
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(200)


def image(shade: int = 0) -> Media:
    return Media("image", data=png(3, 2, shade=shade), mime_type="image/png", alt="Affiche", id=f"m-{shade}")


def sha256(data: bytes | None) -> str:
    return hashlib.sha256(data or b"").hexdigest()


def calls(requests_seen: list[str], method: str) -> int:
    return sum(request.endswith(f"/{method}") for request in requests_seen)


async def test_one_photo_is_uploaded_with_its_caption_and_entities(
    http: aiohttp.ClientSession, base_url: str, received: Received, requests_seen: list[str]
) -> None:
    sent = image()
    bold = {"type": "bold", "offset": 0, "length": 5}

    publication = await TelegramAdapter(http).publish(
        page("telegram", CHANNEL, base_url),
        ["Forum jeudi"],
        idempotency_key="d1",
        facets=[[bold]],
        media=[sent],
    )

    [post] = await received(network="telegram")
    [attached] = post["media"]
    assert (attached["sha256"], attached["size"], attached["content_type"]) == (
        sha256(sent.data),
        len(sent.data or b""),
        "image/png",
    )
    assert post["text"] == "Forum jeudi" and post["body"]["caption_entities"] == [bold]
    assert publication.remote_id == "1" and publication.url == f"https://t.me/{CHANNEL}/1"
    assert calls(requests_seen, "sendPhoto") == 1


async def test_a_photo_with_only_an_address_is_fetched_by_telegram(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    linked = Media("image", url="https://example.org/affiche.jpg", mime_type="image/jpeg")

    await TelegramAdapter(http).publish(
        page("telegram", CHANNEL, base_url), ["Forum"], idempotency_key="d1", media=[linked]
    )

    [post] = await received(network="telegram")
    assert post["body"]["photo"] == "https://example.org/affiche.jpg" and post["media"] == []


async def test_several_images_go_as_one_album_and_the_thread_replies_to_its_first_message(
    http: aiohttp.ClientSession, base_url: str, received: Received, requests_seen: list[str]
) -> None:
    sent = [image(1), image(2), image(3)]

    publication = await TelegramAdapter(http).publish(
        page("telegram", CHANNEL, base_url),
        ["Trois affiches 1/2", "Suite 2/2"],
        idempotency_key="d1",
        media=sent,
    )

    album, follow_up = await received(network="telegram")
    assert [item["sha256"] for item in album["media"]] == [sha256(m.data) for m in sent]
    assert (
        album["text"] == "Trois affiches 1/2" and album["body"]["media"][0]["caption"] == "Trois affiches 1/2"
    )
    assert all("caption" not in entry for entry in album["body"]["media"][1:])
    # The album took message ids 1 to 3; the part is its first message.
    assert publication.part_ids == ("1", "4")
    assert follow_up["media"] == [] and follow_up["reply_to"] == f"{CHANNEL}/1"
    assert calls(requests_seen, "sendMediaGroup") == 1 and calls(requests_seen, "sendPhoto") == 0


async def test_a_video_is_sent_with_send_video(
    http: aiohttp.ClientSession, base_url: str, received: Received, requests_seen: list[str]
) -> None:
    clip = Media("video", data=VIDEO, mime_type="video/mp4", id="clip")

    await TelegramAdapter(http).publish(
        page("telegram", CHANNEL, base_url), ["Clip"], idempotency_key="d1", media=[clip]
    )

    [post] = await received(network="telegram")
    assert [(m["sha256"], m["content_type"]) for m in post["media"]] == [(sha256(VIDEO), "video/mp4")]
    assert calls(requests_seen, "sendVideo") == 1


async def test_resuming_a_thread_uploads_nothing_again(
    http: aiohttp.ClientSession, base_url: str, received: Received, requests_seen: list[str]
) -> None:
    adapter, account = TelegramAdapter(http), page("telegram", CHANNEL, base_url)
    first = await adapter.publish(account, ["1/2"], idempotency_key="d1", media=[image()])

    resumed = await adapter.publish(
        account, ["1/2", "2/2"], idempotency_key="d1", media=[image()], done=first.part_ids
    )

    assert calls(requests_seen, "sendPhoto") == 1
    assert resumed.part_ids == ("1", "2")
    assert [len(post["media"]) for post in await received(network="telegram")] == [1, 0]


@pytest.mark.parametrize(
    ("media", "words"),
    [
        ([Media("image", mime_type="image/png", id="m-9")], "bytes of image 1 (m-9) are missing"),
        ([image(n) for n in range(11)], "at most 10"),
        ([Media("image", data=png() + bytes(10 * 1024 * 1024), mime_type="image/png")], "10,485,760 bytes"),
    ],
)
async def test_what_the_bot_api_cannot_send_is_refused_before_sending_anything(
    http: aiohttp.ClientSession, base_url: str, requests_seen: list[str], media: list[Media], words: str
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await TelegramAdapter(http).publish(
            page("telegram", CHANNEL, base_url), ["x"], idempotency_key="d", media=media
        )

    assert caught.value.kind == "permanent" and words in caught.value.message
    assert requests_seen == []


async def test_a_photo_telegram_finds_too_big_is_permanent(
    http: aiohttp.ClientSession, base_url: str, monkeypatch: pytest.MonkeyPatch, received: Received
) -> None:
    monkeypatch.setattr(
        telegram_adapter, "_MEDIA_RULES", replace(telegram_adapter._MEDIA_RULES, max_image_bytes=10**8)
    )  # let the Bot API's own limit speak
    huge = Media("image", data=png() + bytes(10 * 1024 * 1024), mime_type="image/png")

    with pytest.raises(DeliveryError) as caught:
        await TelegramAdapter(http).publish(
            page("telegram", CHANNEL, base_url), ["x"], idempotency_key="d", media=[huge]
        )

    assert (caught.value.kind, caught.value.network_code) == ("permanent", "400")
    assert "file is too big" in caught.value.message
    assert await received(network="telegram") == []


@pytest.mark.parametrize(
    ("mode", "kind", "code"),
    [("expired_token", "auth", "401"), ("blocked", "auth", "403"), ("rate_limit", "transient", "429")],
)
async def test_refusals_of_a_photo_keep_telegrams_code(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, mode: str, kind: str, code: str
) -> None:
    await arm("telegram", CHANNEL, mode, seconds=7)

    with pytest.raises(DeliveryError) as caught:
        await TelegramAdapter(http).publish(
            page("telegram", CHANNEL, base_url), ["x"], idempotency_key="d", media=[image(), image(1)]
        )

    assert (caught.value.kind, caught.value.network_code) == (kind, code)
    if mode == "rate_limit":
        assert caught.value.throttled and caught.value.retry_after in (6, 7)


async def test_a_lost_answer_to_a_photo_is_an_unknown_outcome(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, received: Received
) -> None:
    await arm("telegram", CHANNEL, "timeout_after_create", seconds=5)
    adapter = TelegramAdapter(http, timeout=aiohttp.ClientTimeout(total=0.5))

    with pytest.raises(UnknownOutcome):
        await adapter.publish(
            page("telegram", CHANNEL, base_url), ["x"], idempotency_key="d", media=[image()]
        )

    assert len(await received(network="telegram")) == 1  # it was posted: a person must look
