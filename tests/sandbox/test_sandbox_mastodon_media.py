"""The Mastodon emulator's media attachments: v2 uploads, processing, attaching to statuses, limits."""

from __future__ import annotations

import asyncio
import hashlib
import io
from typing import Any

import pytest
from aiohttp import FormData
from sandbox_kit import Received, Sandbox

LYON = {"Authorization": "Bearer sbx-mastodon-lyon"}
PARIS = {"Authorization": "Bearer sbx-mastodon-paris"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 512
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x01" * 2000


def form(data: bytes, content_type: str, description: str | None = None) -> FormData:
    body = FormData()
    body.add_field("file", io.BytesIO(data), filename="file", content_type=content_type)
    if description is not None:
        body.add_field("description", description)
    return body


async def upload(
    sandbox: Sandbox, data: bytes = PNG, content_type: str = "image/png", headers: dict[str, str] = LYON
) -> dict[str, Any]:
    response = await sandbox.post("/api/v2/media", data=form(data, content_type, "alt"), headers=headers)
    assert response.status in (200, 202), await response.text()
    attachment: dict[str, Any] = await response.json()
    return attachment


async def test_an_image_is_processed_at_once(sandbox: Sandbox, received: Received) -> None:
    response = await sandbox.post("/api/v2/media", data=form(PNG, "image/png", "Une affiche"), headers=LYON)

    assert response.status == 200
    attachment = await response.json()
    assert (attachment["type"], attachment["description"]) == ("image", "Une affiche")
    assert attachment["url"] and attachment["preview_url"]
    assert (response.headers["X-RateLimit-Limit"], response.headers["X-RateLimit-Remaining"]) == ("30", "29")

    status = await sandbox.post(
        "/api/v1/statuses", json={"status": "x", "media_ids": [attachment["id"]]}, headers=LYON
    )
    assert status.status == 200
    assert (await status.json())["media_attachments"][0]["id"] == attachment["id"]
    [stored] = (await received(network="mastodon"))[0]["media"]
    assert (stored["sha256"], stored["alt"]) == (hashlib.sha256(PNG).hexdigest(), "Une affiche")


async def test_a_video_is_accepted_then_processed_in_the_background(sandbox: Sandbox) -> None:
    response = await sandbox.post("/api/v2/media", data=form(MP4, "video/mp4"), headers=LYON)

    assert response.status == 202
    attachment = await response.json()
    assert (attachment["type"], attachment["url"]) == ("video", None)
    early = await sandbox.post(
        "/api/v1/statuses", json={"status": "x", "media_ids": [attachment["id"]]}, headers=LYON
    )
    assert early.status == 422
    assert (await early.json())["error"].startswith("Cannot attach files that have not finished processing")
    looking = await sandbox.get(f"/api/v1/media/{attachment['id']}", headers=LYON)
    assert (looking.status, await looking.read()) == (206, b"")

    await asyncio.sleep(0.6)
    done = await sandbox.get(f"/api/v1/media/{attachment['id']}", headers=LYON)
    assert done.status == 200
    assert (await done.json())["url"]
    posted = await sandbox.post(
        "/api/v1/statuses", json={"status": "x", "media_ids": [attachment["id"]]}, headers=LYON
    )
    assert posted.status == 200


@pytest.mark.parametrize(
    ("data", "content_type", "description", "error"),
    [
        (PNG, "application/pdf", None, "Validation failed: File content type is invalid, File is invalid"),
        (
            b"\x00" * (16 * 1024 * 1024 + 1),
            "image/png",
            None,
            "Validation failed: File file size must be less than 16 MB",
        ),
        (
            PNG,
            "image/png",
            "a" * 1501,
            "Validation failed: Description is too long (maximum is 1500 characters)",
        ),
    ],
)
async def test_unsupported_or_oversized_files_get_422(
    sandbox: Sandbox, data: bytes, content_type: str, description: str | None, error: str
) -> None:
    response = await sandbox.post("/api/v2/media", data=form(data, content_type, description), headers=LYON)

    assert response.status == 422
    assert await response.json() == {"error": error}


async def test_another_accounts_attachment_is_not_found(sandbox: Sandbox) -> None:
    attachment = await upload(sandbox, headers=PARIS)

    looking = await sandbox.get(f"/api/v1/media/{attachment['id']}", headers=LYON)
    posting = await sandbox.post(
        "/api/v1/statuses", json={"status": "x", "media_ids": [attachment["id"]]}, headers=LYON
    )

    assert (looking.status, await looking.json()) == (404, {"error": "Record not found"})
    assert posting.status == 422
    assert await posting.json() == {
        "error": f"Media {attachment['id']} not found or already attached to another post"
    }


async def test_an_attachment_goes_on_one_status_only(sandbox: Sandbox) -> None:
    attachment = await upload(sandbox)
    first = await sandbox.post(
        "/api/v1/statuses", json={"status": "a", "media_ids": [attachment["id"]]}, headers=LYON
    )
    assert first.status == 200

    again = await sandbox.post(
        "/api/v1/statuses", json={"status": "b", "media_ids": [attachment["id"]]}, headers=LYON
    )

    assert again.status == 422
    assert "already attached to another post" in (await again.json())["error"]


async def test_at_most_4_attachments_and_no_video_with_images(sandbox: Sandbox) -> None:
    images = [(await upload(sandbox, PNG + bytes([n])))["id"] for n in range(5)]
    video = (await upload(sandbox, MP4, "video/mp4"))["id"]
    await asyncio.sleep(0.6)

    five = await sandbox.post("/api/v1/statuses", json={"status": "x", "media_ids": images}, headers=LYON)
    mixed = await sandbox.post(
        "/api/v1/statuses", json={"status": "x", "media_ids": [images[0], video]}, headers=LYON
    )

    assert (five.status, await five.json()) == (422, {"error": "Cannot attach more than 4 files"})
    assert (mixed.status, await mixed.json()) == (
        422,
        {"error": "Cannot attach a video to a post that already contains images"},
    )


async def test_a_status_with_media_may_have_no_text(sandbox: Sandbox) -> None:
    attachment = await upload(sandbox)

    response = await sandbox.post(
        "/api/v1/statuses", json={"status": "", "media_ids": [attachment["id"]]}, headers=LYON
    )

    assert response.status == 200


async def test_the_31st_upload_in_30_minutes_is_rate_limited(sandbox: Sandbox) -> None:
    for n in range(30):
        await upload(sandbox, PNG + bytes([n]))

    response = await sandbox.post("/api/v2/media", data=form(PNG, "image/png"), headers=LYON)

    assert response.status == 429
    assert (response.headers["X-RateLimit-Limit"], response.headers["X-RateLimit-Remaining"]) == ("30", "0")
    assert await response.json() == {"error": "Too many requests"}


async def test_uploads_need_a_valid_token(sandbox: Sandbox) -> None:
    response = await sandbox.post(
        "/api/v2/media", data=form(PNG, "image/png"), headers={"Authorization": "Bearer nope"}
    )

    assert (response.status, await response.json()) == (401, {"error": "The access token is invalid"})
