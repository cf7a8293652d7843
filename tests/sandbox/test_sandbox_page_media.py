"""The Facebook and LinkedIn emulators' media: Graph page photos and `attached_media`, LinkedIn's
Images API upload and image URNs in posts, each answering like the network documents."""

from __future__ import annotations

import hashlib
import io
import json
import struct
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import pytest
from sandbox_kit import Received, Sandbox

FB_TOKEN = "sbx-facebook-1234"
LI_HEADERS = {
    "Authorization": "Bearer sbx-linkedin-123",
    "LinkedIn-Version": "202601",
    "X-Restli-Protocol-Version": "2.0.0",
}


def png(width: int = 40, height: int = 30, filler: bytes = b"pixels") -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + header + b"\x00" * 4 + filler


def photo_form(data: bytes | None, token: str = FB_TOKEN, **fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in {"access_token": token, **fields}.items():
        form.add_field(name, value)
    if data is not None:
        # A file object: aiohttp refuses to send large raw bytes in a form.
        form.add_field("source", io.BytesIO(data), filename="affiche.png", content_type="image/png")
    return form


async def upload_photo(sandbox: Sandbox, page: str = "1234", token: str = FB_TOKEN, **fields: str) -> str:
    form = photo_form(png(filler=fields.pop("filler", "x").encode()), token, published="false", **fields)
    response = await sandbox.post(f"/v23.0/{page}/photos", data=form)
    assert response.status == 200, await response.text()
    answer: dict[str, Any] = await response.json()
    assert set(answer) == {"id"}  # unpublished: no post
    return str(answer["id"])


async def test_unpublished_photos_are_attached_in_order(sandbox: Sandbox, received: Received) -> None:
    first = await upload_photo(sandbox, alt_text_custom="Affiche", filler="1")
    second = await upload_photo(sandbox, filler="2")
    assert await received(network="facebook") == []

    response = await sandbox.post(
        "/1234/feed",
        data={
            "message": "Deux photos",
            "access_token": FB_TOKEN,
            "attached_media[1]": json.dumps({"media_fbid": first}),
            "attached_media[0]": json.dumps({"media_fbid": second}),
        },
    )

    assert response.status == 200
    [post] = await received(network="facebook")
    assert [m["id"] for m in post["media"]] == [second, first]
    assert [m["alt"] for m in post["media"]] == [None, "Affiche"]
    assert post["media"][1]["sha256"] == hashlib.sha256(png(filler=b"1")).hexdigest()


async def test_a_published_photo_is_a_post_at_once(sandbox: Sandbox, received: Received) -> None:
    response = await sandbox.post("/1234/photos", data=photo_form(png(), caption="Affiche du forum"))

    answer = await response.json()
    assert response.status == 200 and set(answer) == {"id", "post_id"}
    [post] = await received(network="facebook")
    assert (post["remote_id"], post["text"]) == (answer["post_id"], "Affiche du forum")
    assert [m["id"] for m in post["media"]] == [answer["id"]]


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        (None, 324, "Requires upload file"),
        (b"%PDF-1.7", 324, "Missing or invalid image file"),
        (png(filler=b"\x00" * (4 * 1024 * 1024)), 100, "less than 4 MB"),
    ],
)
async def test_photo_refusals(sandbox: Sandbox, data: bytes | None, code: int, words: str) -> None:
    response = await sandbox.post("/1234/photos", data=photo_form(data, published="false"))

    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == code and words in error["message"]
    assert "X-Page-Usage" in response.headers


async def test_photo_upload_checks_the_token(sandbox: Sandbox) -> None:
    form = photo_form(png(), "sbx-expired-facebook-1234", published="false")

    response = await sandbox.post("/1234/photos", data=form)

    error = (await response.json())["error"]
    assert (error["code"], error["error_subcode"]) == (190, 463)


@pytest.mark.parametrize("fbid", ["42", "other page"])
async def test_attaching_an_unknown_or_foreign_photo_is_invalid(sandbox: Sandbox, fbid: str) -> None:
    if fbid == "other page":
        fbid = await upload_photo(sandbox, page="5678", token="sbx-facebook-5678")

    response = await sandbox.post(
        "/1234/feed",
        data={
            "message": "x",
            "access_token": FB_TOKEN,
            "attached_media[0]": json.dumps({"media_fbid": fbid}),
        },
    )

    assert response.status == 400
    assert (await response.json())["error"]["code"] == 100


async def upload_image(sandbox: Sandbox, data: bytes, owner: str = "urn:li:organization:123") -> str:
    response = await sandbox.post(
        "/rest/images",
        params={"action": "initializeUpload"},
        json={"initializeUploadRequest": {"owner": owner}},
        headers=LI_HEADERS,
    )
    assert response.status == 200, await response.text()
    value = (await response.json())["value"]
    assert set(value) == {"uploadUrlExpiresAt", "uploadUrl", "image"}
    put = await sandbox.put(
        urlsplit(value["uploadUrl"]).path, data=data, headers={"Authorization": LI_HEADERS["Authorization"]}
    )
    assert put.status == 201, await put.text()
    return str(value["image"])


def post_body(content: dict[str, Any]) -> dict[str, Any]:
    return {
        "author": "urn:li:organization:123",
        "commentary": "Images",
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED"},
        "lifecycleState": "PUBLISHED",
        "content": content,
    }


async def test_linkedin_single_and_multi_image_posts(sandbox: Sandbox, received: Received) -> None:
    one, two = await upload_image(sandbox, png(filler=b"1")), await upload_image(sandbox, png(filler=b"2"))

    single = await sandbox.post(
        "/rest/posts", json=post_body({"media": {"id": one, "altText": "Affiche"}}), headers=LI_HEADERS
    )
    body = post_body({"multiImage": {"images": [{"id": two}, {"id": one, "altText": "encore"}]}})
    body["commentary"] = "Deux images"
    multi = await sandbox.post("/rest/posts", json=body, headers=LI_HEADERS)

    assert (single.status, multi.status) == (201, 201)
    first, second = await received(network="linkedin")
    assert [(m["id"], m["alt"]) for m in first["media"]] == [(one, "Affiche")]
    assert [(m["id"], m["alt"]) for m in second["media"]] == [(two, None), (one, "encore")]
    urn = quote(multi.headers["x-restli-id"], safe="")
    read = await (await sandbox.get(f"/rest/posts/{urn}", headers=LI_HEADERS)).json()
    assert read["content"] == body["content"]


@pytest.mark.parametrize("case", ["unknown", "other organization", "one multi image", "video"])
async def test_linkedin_refuses_images_it_cannot_attach(sandbox: Sandbox, case: str) -> None:
    urn = "urn:li:image:D4E10AQnothing"
    if case == "other organization":
        headers = LI_HEADERS | {"Authorization": "Bearer sbx-linkedin-456"}
        response = await sandbox.post(
            "/rest/images",
            params={"action": "initializeUpload"},
            json={"initializeUploadRequest": {"owner": "urn:li:organization:456"}},
            headers=headers,
        )
        value = (await response.json())["value"]
        await sandbox.put(urlsplit(value["uploadUrl"]).path, data=png(), headers=headers)
        urn = value["image"]
    content: dict[str, Any] = {"media": {"id": urn}}
    if case == "one multi image":
        content = {"multiImage": {"images": [{"id": await upload_image(sandbox, png())}]}}
    if case == "video":
        content = {"media": {"id": "urn:li:video:C5F10AQ"}}

    response = await sandbox.post("/rest/posts", json=post_body(content), headers=LI_HEADERS)

    assert response.status == 422
    answer = await response.json()
    assert answer["code"] == "UNPROCESSABLE_ENTITY" and "ERROR :: /content/" in answer["message"]


async def test_linkedin_upload_owner_must_be_the_tokens_organization(sandbox: Sandbox) -> None:
    response = await sandbox.post(
        "/rest/images",
        params={"action": "initializeUpload"},
        json={"initializeUploadRequest": {"owner": "urn:li:organization:999"}},
        headers=LI_HEADERS,
    )

    assert response.status == 403
    assert (await response.json())["code"] == "ACCESS_DENIED"


async def test_linkedin_upload_url_belongs_to_its_owner_and_takes_images_only(sandbox: Sandbox) -> None:
    response = await sandbox.post(
        "/rest/images",
        params={"action": "initializeUpload"},
        json={"initializeUploadRequest": {"owner": "urn:li:organization:123"}},
        headers=LI_HEADERS,
    )
    path = urlsplit((await response.json())["value"]["uploadUrl"]).path

    stranger = await sandbox.put(path, data=png(), headers={"Authorization": "Bearer sbx-linkedin-456"})
    not_image = await sandbox.put(
        path, data=b"%PDF-1.7", headers={"Authorization": LI_HEADERS["Authorization"]}
    )
    huge = await sandbox.put(
        path, data=png(8000, 5000), headers={"Authorization": LI_HEADERS["Authorization"]}
    )

    assert (stranger.status, not_image.status, huge.status) == (404, 400, 400)
    assert "pixels" in (await huge.json())["message"]
