"""The Bot API emulator takes files as multipart uploads, in albums too, and refuses as Telegram does."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import aiohttp
import pytest
from sandbox_kit import Received, Sandbox

from tests.images import png

BOT = "/botsbx-telegram-ft_lyon"


def form(fields: dict[str, Any], files: dict[str, bytes]) -> aiohttp.FormData:
    data = aiohttp.FormData()
    for name, value in fields.items():
        data.add_field(name, value if isinstance(value, str) else json.dumps(value))
    for name, content in files.items():
        data.add_field(name, content, filename=f"{name}.png", content_type="image/png")
    return data


async def test_an_uploaded_photo_is_kept_and_answered_as_a_message(
    sandbox: Sandbox, received: Received
) -> None:
    photo = png(4, 4)
    fields = {
        "chat_id": "@ft_lyon",
        "caption": "Forum",
        "caption_entities": [{"type": "bold", "offset": 0, "length": 5}],
    }

    response = await sandbox.post(f"{BOT}/sendPhoto", data=form(fields, {"photo": photo}))

    message = (await response.json())["result"]
    assert message["caption"] == "Forum" and message["photo"][0]["file_size"] == len(photo)
    [post] = await received(network="telegram")
    assert post["media"][0]["sha256"] == hashlib.sha256(photo).hexdigest()
    assert post["body"]["caption_entities"] == fields["caption_entities"]


async def test_an_album_answers_one_message_per_item(sandbox: Sandbox, received: Received) -> None:
    album = [
        {"type": "photo", "media": "attach://a", "caption": "Deux"},
        {"type": "photo", "media": "https://example.org/b.jpg"},
    ]

    response = await sandbox.post(
        f"{BOT}/sendMediaGroup", data=form({"chat_id": "@ft_lyon", "media": album}, {"a": png()})
    )

    messages = (await response.json())["result"]
    assert [m["message_id"] for m in messages] == [1, 2]
    assert messages[0]["caption"] == "Deux" and messages[0]["media_group_id"] == messages[1]["media_group_id"]
    [post] = await received(network="telegram")
    assert len(post["media"]) == 1  # the fetched one has no bytes here
    follow = await sandbox.post(f"{BOT}/sendMessage", json={"chat_id": "@ft_lyon", "text": "suite"})
    assert (await follow.json())["result"]["message_id"] == 3


@pytest.mark.parametrize(
    ("method", "fields", "files", "description"),
    [
        ("sendPhoto", {"caption": "x"}, {"photo": b"not an image"}, "Bad Request: IMAGE_PROCESS_FAILED"),
        ("sendPhoto", {"caption": "é" * 1025}, {"photo": png()}, "Bad Request: message caption is too long"),
        (
            "sendPhoto",
            {"photo": "attach://a"},
            {"a": png()},
            "Bad Request: wrong remote file identifier specified",
        ),
        (
            "sendMediaGroup",
            {"media": [{"type": "photo", "media": "attach://a"}]},
            {"a": png()},
            "Bad Request: wrong number of media in the album: must be 2-10",
        ),
        (
            "sendMediaGroup",
            {"media": [{"type": "photo", "media": "attach://a"}, {"type": "photo", "media": "attach://b"}]},
            {"a": png()},
            "Bad Request: wrong remote file identifier specified",
        ),
    ],
)
async def test_refusals_use_the_bot_api_words(
    sandbox: Sandbox,
    received: Received,
    method: str,
    fields: dict[str, Any],
    files: dict[str, bytes],
    description: str,
) -> None:
    response = await sandbox.post(f"{BOT}/{method}", data=form({"chat_id": "@ft_lyon", **fields}, files))

    assert response.status == 400
    assert await response.json() == {"ok": False, "error_code": 400, "description": description}
    assert await received(network="telegram") == []
