"""The PDS emulator's blobs: `uploadBlob` as documented, and records that may only embed one's own."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from sandbox_kit import Received, Sandbox
from test_sandbox_bluesky import POST, login, now

from tests.images import png


async def upload(sandbox: Sandbox, session: dict[str, Any], data: bytes, mime: str = "image/png") -> Any:
    return await sandbox.post(
        "/xrpc/com.atproto.repo.uploadBlob",
        data=data,
        headers={"Authorization": f"Bearer {session['accessJwt']}", "Content-Type": mime},
    )


async def blob_of(sandbox: Sandbox, session: dict[str, Any], data: bytes) -> dict[str, Any]:
    response = await upload(sandbox, session, data)
    assert response.status == 200, await response.text()
    blob: dict[str, Any] = (await response.json())["blob"]
    return blob


async def post_with(sandbox: Sandbox, session: dict[str, Any], images: list[Any], **extra: Any) -> Any:
    record = {
        "text": "affiche",
        "createdAt": now(),
        "embed": {"$type": "app.bsky.embed.images", "images": images},
    }
    return await sandbox.post(
        "/xrpc/com.atproto.repo.createRecord",
        json={"repo": session["did"], "collection": POST, "record": record, **extra},
        headers={"Authorization": f"Bearer {session['accessJwt']}"},
    )


async def test_an_upload_answers_a_blob_ref_named_by_its_cid(sandbox: Sandbox) -> None:
    session, data = await login(sandbox), png(5, 5)

    # Declared wrongly: the PDS reads the type from the bytes.
    response = await upload(sandbox, session, data, mime="application/octet-stream")

    assert response.status == 200
    blob = (await response.json())["blob"]
    assert blob["$type"] == "blob" and blob["mimeType"] == "image/png" and blob["size"] == len(data)
    assert blob["ref"]["$link"].startswith("bafkrei") and len(blob["ref"]["$link"]) == 59
    assert (await blob_of(sandbox, session, data))["ref"] == blob["ref"]  # same bytes, same cid
    assert (await blob_of(sandbox, session, png(6, 5)))["ref"] != blob["ref"]


async def test_an_upload_needs_a_valid_session(sandbox: Sandbox) -> None:
    missing = await sandbox.post("/xrpc/com.atproto.repo.uploadBlob", data=png())
    expired = await upload(sandbox, {"accessJwt": "sbx-expired-lyon"}, png())

    assert missing.status == 401 and (await missing.json())["error"] == "AuthenticationRequired"
    assert expired.status == 400 and (await expired.json())["error"] == "ExpiredToken"


@pytest.mark.filterwarnings("ignore:Sending a large body directly with raw bytes:ResourceWarning")
async def test_an_empty_body_is_refused_and_one_over_the_upload_limit_is_413(sandbox: Sandbox) -> None:
    session = await login(sandbox)
    empty = await upload(sandbox, session, b"")

    too_big = await upload(sandbox, session, png() + bytes(5 * 1024 * 1024))

    assert (empty.status, (await empty.json())["error"]) == (400, "InvalidRequest")

    assert too_big.status == 413
    assert await too_big.json() == {"error": "PayloadTooLarge", "message": "request entity too large"}


async def test_a_post_embeds_its_uploads_and_the_inspection_api_shows_them(
    sandbox: Sandbox, received: Received
) -> None:
    session, first, second = await login(sandbox), png(2, 2), png(3, 3)
    blobs = [await blob_of(sandbox, session, data) for data in (first, second)]
    images = [
        {"alt": "Affiche", "image": blobs[0], "aspectRatio": {"width": 2, "height": 2}},
        {"alt": "", "image": blobs[1]},
    ]

    response = await post_with(sandbox, session, images)

    assert response.status == 200, await response.text()
    [post] = await received(network="bluesky")
    assert [(m["id"], m["sha256"], m["alt"]) for m in post["media"]] == [
        (blobs[0]["ref"]["$link"], hashlib.sha256(first).hexdigest(), "Affiche"),
        (blobs[1]["ref"]["$link"], hashlib.sha256(second).hexdigest(), ""),
    ]


async def test_a_blob_of_another_account_is_not_found(sandbox: Sandbox, received: Received) -> None:
    owner, other = await login(sandbox), await login(sandbox, "paris", "sbx-bluesky-paris")
    blob = await blob_of(sandbox, owner, png())

    response = await post_with(sandbox, other, [{"alt": "", "image": blob}])

    assert response.status == 400
    assert await response.json() == {
        "error": "BlobNotFound",
        "message": f"Could not find blob: {blob['ref']['$link']}",
    }
    assert await received(network="bluesky") == []


async def test_unknown_blobs_are_refused_even_without_validation(sandbox: Sandbox) -> None:
    session = await login(sandbox)
    blob = {**await blob_of(sandbox, session, png()), "ref": {"$link": "bafkreinotuploaded"}}

    response = await post_with(sandbox, session, [{"alt": "", "image": blob}], validate=False)

    assert (response.status, (await response.json())["error"]) == (400, "BlobNotFound")


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        (lambda image: {**image, "image": {**image["image"], "size": 1}}, "InvalidSize", "Expected"),
        (
            lambda image: {**image, "image": {**image["image"], "mimeType": "image/jpeg"}},
            "InvalidMimeType",
            "Got",
        ),
        (
            lambda image: {**image, "image": {**image["image"], "size": 2_000_001}},
            "InvalidRequest",
            "blob too big",
        ),
        (lambda image: {"image": image["image"]}, "InvalidRequest", '"alt"'),
        (lambda image: {**image, "image": "bafkrei"}, "InvalidRequest", "blob ref"),
    ],
)
async def test_embeds_are_checked_against_the_lexicon_and_the_stored_blob(
    sandbox: Sandbox, change: Any, error: str, words: str
) -> None:
    session = await login(sandbox)
    image = {"alt": "", "image": await blob_of(sandbox, session, png())}

    response = await post_with(sandbox, session, [change(image)])

    body = await response.json()
    assert (response.status, body["error"]) == (400, error) and words in body["message"]


async def test_at_most_four_images(sandbox: Sandbox) -> None:
    session = await login(sandbox)
    image = {"alt": "", "image": await blob_of(sandbox, session, png())}

    response = await post_with(sandbox, session, [image] * 5)

    body = await response.json()
    assert (response.status, body["error"]) == (400, "InvalidRequest")
    assert "must not have more than 4 elements" in body["message"]
