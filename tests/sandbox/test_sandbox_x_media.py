"""The X emulator's media endpoints: one-shot images, chunked uploads, STATUS, alt text, attaching."""

from __future__ import annotations

import asyncio
import hashlib
import io
from typing import Any

import pytest
from aiohttp import FormData
from sandbox_kit import Received, Sandbox

LYON = {"Authorization": "Bearer sbx-x-lyon"}
PARIS = {"Authorization": "Bearer sbx-x-paris"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 512
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 2000


def form(data: bytes, content_type: str, **fields: str) -> FormData:
    body = FormData()
    for name, value in fields.items():
        body.add_field(name, value)
    body.add_field("media", io.BytesIO(data), filename="file", content_type=content_type)
    return body


async def upload_image(sandbox: Sandbox, data: bytes = PNG, headers: dict[str, str] = LYON) -> str:
    body = form(data, "image/png", media_category="tweet_image", media_type="image/png")
    response = await sandbox.post("/2/media/upload", data=body, headers=headers)
    assert response.status == 200, await response.text()
    media_id: str = (await response.json())["data"]["id"]
    return media_id


async def upload_video(sandbox: Sandbox, data: bytes = MP4) -> dict[str, Any]:
    init = {"media_type": "video/mp4", "total_bytes": len(data), "media_category": "tweet_video"}
    response = await sandbox.post("/2/media/upload/initialize", json=init, headers=LYON)
    assert response.status == 200, await response.text()
    media_id = (await response.json())["data"]["id"]
    for index, start in enumerate(range(0, len(data), 1000)):
        segment = form(data[start : start + 1000], "video/mp4", segment_index=str(index))
        response = await sandbox.post(f"/2/media/upload/{media_id}/append", data=segment, headers=LYON)
        assert response.status == 200, await response.text()
        assert (await response.json())["data"]["expires_at"] > 0
    response = await sandbox.post(f"/2/media/upload/{media_id}/finalize", headers=LYON)
    assert response.status == 200, await response.text()
    finalized: dict[str, Any] = (await response.json())["data"]
    return finalized


async def test_an_image_upload_answers_its_id_key_and_rate_headers(
    sandbox: Sandbox, received: Received
) -> None:
    body = form(PNG, "image/png", media_category="tweet_image", media_type="image/png")
    response = await sandbox.post("/2/media/upload", data=body, headers=LYON)

    assert response.status == 200
    data = (await response.json())["data"]
    assert data["id"].isdigit() and data["media_key"] == f"3_{data['id']}"
    assert (data["size"], data["expires_after_secs"]) == (len(PNG), 86400)
    assert "processing_info" not in data
    assert (response.headers["x-rate-limit-limit"], response.headers["x-rate-limit-remaining"]) == (
        "500",
        "499",
    )

    post = {"text": "Affiche", "media": {"media_ids": [data["id"]]}}
    assert (await sandbox.post("/2/tweets", json=post, headers=LYON)).status == 201
    [stored] = (await received(network="x"))[0]["media"]
    assert stored == {
        "id": data["id"],
        "sha256": hashlib.sha256(PNG).hexdigest(),
        "size": len(PNG),
        "content_type": "image/png",
        "alt": None,
    }


@pytest.mark.parametrize(
    ("data", "content_type", "fields", "words"),
    [
        (PNG, "image/svg+xml", {"media_category": "tweet_image"}, "is not allowed"),
        (MP4, "video/mp4", {"media_category": "tweet_video"}, "chunked upload"),
        (b"\x00" * (5 * 1024 * 1024 + 1), "image/png", {"media_category": "tweet_image"}, "exceeds 5242880"),
    ],
)
async def test_a_one_shot_upload_takes_only_images_of_at_most_5_mb(
    sandbox: Sandbox, data: bytes, content_type: str, fields: dict[str, str], words: str
) -> None:
    response = await sandbox.post("/2/media/upload", data=form(data, content_type, **fields), headers=LYON)

    assert response.status == 400
    body = await response.json()
    assert body["type"] == "https://api.x.com/2/problems/invalid-request"
    assert words in body["errors"][0]["message"]


async def test_a_chunked_video_is_processed_before_it_can_be_attached(
    sandbox: Sandbox, received: Received
) -> None:
    finalized = await upload_video(sandbox)
    media_id = finalized["id"]
    assert finalized["media_key"] == f"7_{media_id}" and finalized["size"] == len(MP4)
    assert finalized["processing_info"]["state"] == "pending"
    assert finalized["processing_info"]["check_after_secs"] == 1

    early = await sandbox.post(
        "/2/tweets", json={"text": "v", "media": {"media_ids": [media_id]}}, headers=LYON
    )
    assert early.status == 400
    assert (await early.json())["errors"][0]["message"] == "Your media IDs are invalid."

    status = await sandbox.get(
        "/2/media/upload", params={"command": "STATUS", "media_id": media_id}, headers=LYON
    )
    assert (await status.json())["data"]["processing_info"]["state"] == "in_progress"
    await asyncio.sleep(1)
    status = await sandbox.get(
        "/2/media/upload", params={"command": "STATUS", "media_id": media_id}, headers=LYON
    )
    assert (await status.json())["data"]["processing_info"] == {"state": "succeeded", "progress_percent": 100}

    posted = await sandbox.post(
        "/2/tweets", json={"text": "v", "media": {"media_ids": [media_id]}}, headers=LYON
    )
    assert posted.status == 201
    [stored] = (await received(network="x"))[0]["media"]
    assert (stored["sha256"], stored["content_type"]) == (hashlib.sha256(MP4).hexdigest(), "video/mp4")


async def test_a_video_that_is_not_one_fails_processing(sandbox: Sandbox) -> None:
    finalized = await upload_video(sandbox, b"plain text, not a video")

    await asyncio.sleep(1)
    status = await sandbox.get(
        "/2/media/upload", params={"command": "STATUS", "media_id": finalized["id"]}, headers=LYON
    )
    info = (await status.json())["data"]["processing_info"]
    assert info["state"] == "failed"
    assert info["error"] == {"code": 1, "name": "InvalidMedia", "message": "Unsupported video format"}


async def test_segments_must_add_up_to_the_declared_size(sandbox: Sandbox) -> None:
    init = {"media_type": "video/mp4", "total_bytes": 10, "media_category": "tweet_video"}
    media_id = (await (await sandbox.post("/2/media/upload/initialize", json=init, headers=LYON)).json())[
        "data"
    ]["id"]
    await sandbox.post(
        f"/2/media/upload/{media_id}/append",
        data=form(b"12345", "video/mp4", segment_index="0"),
        headers=LYON,
    )

    response = await sandbox.post(f"/2/media/upload/{media_id}/finalize", headers=LYON)

    assert response.status == 400


async def test_initialize_enforces_the_category_limits(sandbox: Sandbox) -> None:
    too_big = {"media_type": "image/gif", "total_bytes": 15 * 1024 * 1024 + 1, "media_category": "tweet_gif"}
    wrong = {"media_type": "image/png", "total_bytes": 10, "media_category": "tweet_video"}

    for body in (too_big, wrong):
        response = await sandbox.post("/2/media/upload/initialize", json=body, headers=LYON)
        assert response.status == 400


async def test_alt_text_is_kept_up_to_1000_characters(sandbox: Sandbox, received: Received) -> None:
    media_id = await upload_image(sandbox)

    too_long = {"id": media_id, "metadata": {"alt_text": {"text": "a" * 1001}}}
    assert (await sandbox.post("/2/media/metadata", json=too_long, headers=LYON)).status == 400
    fine = {"id": media_id, "metadata": {"alt_text": {"text": "Une affiche"}}}
    response = await sandbox.post("/2/media/metadata", json=fine, headers=LYON)
    assert response.status == 200
    assert (await response.json())["data"]["associated_metadata"]["alt_text"]["text"] == "Une affiche"

    await sandbox.post("/2/tweets", json={"text": "x", "media": {"media_ids": [media_id]}}, headers=LYON)
    assert (await received(network="x"))[0]["media"][0]["alt"] == "Une affiche"


@pytest.mark.parametrize("whose", ["unknown", "another account's"])
async def test_unknown_or_foreign_media_ids_are_invalid(
    sandbox: Sandbox, received: Received, whose: str
) -> None:
    media_id = "123456789" if whose == "unknown" else await upload_image(sandbox, headers=PARIS)

    response = await sandbox.post(
        "/2/tweets", json={"text": "x", "media": {"media_ids": [media_id]}}, headers=LYON
    )

    assert response.status == 400
    body = await response.json()
    assert body["errors"][0] == {
        "parameters": {"media.media_ids": [[media_id]]},
        "message": "Your media IDs are invalid.",
    }
    assert await received(network="x") == []


async def test_a_video_cannot_share_a_post(sandbox: Sandbox) -> None:
    video = (await upload_video(sandbox))["id"]
    image = await upload_image(sandbox)
    await asyncio.sleep(1)

    response = await sandbox.post(
        "/2/tweets", json={"text": "x", "media": {"media_ids": [image, video]}}, headers=LYON
    )

    assert response.status == 400
    assert "up to 4 images, or 1 GIF, or 1 video" in (await response.json())["errors"][0]["message"]


async def test_uploads_need_a_valid_token(sandbox: Sandbox) -> None:
    body = form(PNG, "image/png", media_category="tweet_image")
    response = await sandbox.post(
        "/2/media/upload", data=body, headers={"Authorization": "Bearer sbx-expired-x"}
    )

    assert response.status == 401
    assert (await response.json())["title"] == "Unauthorized"
