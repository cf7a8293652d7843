"""Attachments at the agency: uploaded durably and sniffed, then named by posts and checked against
every chosen network before anything is queued."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from aiohttp import FormData

from services.intake.keys import DATABASE
from services.intake.settings import Settings
from services.intake.store import unrelayed_posts
from tests.documents import docx, odp, pdf, plain_zip, pptx
from tests.intake.conftest import (
    GIF,
    HEIC,
    JPEG,
    MP4,
    PAGES,
    WEBP,
    Client,
    NodeFactory,
    auth,
    form,
    png,
    stored_posts,
    upload,
)


def media_files(settings: Settings) -> list[str]:
    return sorted(p.name for p in settings.media_dir.iterdir()) if settings.media_dir.exists() else []


def media_rows(client: Client) -> list[dict[str, Any]]:
    return list(client.app[DATABASE].table("media").rows)


async def test_an_upload_is_stored_on_disk_and_recorded(
    client: Client, tokens: dict[str, str], settings: Settings
) -> None:
    data = png(padding=600_000)  # several chunks
    body = await upload(client, tokens["advisor"], data, filename="affiche.png")

    assert body["content_type"] == "image/png" and body["size"] == len(data)
    assert body["id"].startswith("lyon-part-dieu-") and set(body) == {"id", "content_type", "size"}
    assert (settings.media_dir / body["id"]).read_bytes() == data
    assert media_files(settings) == [body["id"]]  # no temporary file left behind
    [row] = media_rows(client)
    assert row["id"] == body["id"] and row["uploaded_by"] == "claire"
    assert row["sha256"] == hashlib.sha256(data).hexdigest() and row["stored_at"] is None


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (JPEG, "image/jpeg"),
        (png(), "image/png"),
        (GIF, "image/gif"),
        (WEBP, "image/webp"),
        (MP4, "video/mp4"),
        (pdf(), "application/pdf"),
        (pptx(), "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
        (odp(), "application/vnd.oasis.opendocument.presentation"),
    ],
)
async def test_the_type_comes_from_the_content_not_the_name(
    client: Client, tokens: dict[str, str], data: bytes, content_type: str
) -> None:
    body = await upload(client, tokens["advisor"], data, filename="document.txt")
    assert body["content_type"] == content_type


@pytest.mark.parametrize(
    "data",
    # A Word document and a plain zip start like a PPTX: only a presentation's parts make one.
    [b"Bonjour, ceci est un CV en texte\n", HEIC, b"%PDX-1.7\n" + b"0" * 100, docx(), plain_zip(), b""],
)
async def test_other_files_are_refused_whatever_their_name(
    client: Client, tokens: dict[str, str], settings: Settings, data: bytes
) -> None:
    response = await client.post(
        "/v1/media", data=form(data, "photo.jpg", "image/jpeg"), headers=auth(tokens["advisor"])
    )
    assert response.status == 415
    error = (await response.json())["error"]
    assert error["code"] == "unsupported_media_type" and error["field"] == "file"
    assert media_files(settings) == [] and media_rows(client) == []


@pytest.mark.parametrize("size", [1500, 400_000])  # caught while streaming / from Content-Length
async def test_a_file_over_the_cap_is_refused_and_nothing_is_kept(
    make_node: NodeFactory, tokens: dict[str, str], settings: Settings, size: int
) -> None:
    client = await make_node(media_max_bytes=1000)
    response = await client.post("/v1/media", data=form(png(padding=size)), headers=auth(tokens["advisor"]))
    assert response.status == 413
    error = (await response.json())["error"]
    assert error["code"] == "media_too_large" and error["field"] == "file"
    assert media_files(settings) == [] and media_rows(client) == []


async def test_malformed_uploads_get_json_errors(client: Client, tokens: dict[str, str]) -> None:
    advisor = auth(tokens["advisor"])
    response = await client.post("/v1/media", json={"file": "x"}, headers=advisor)
    assert response.status == 400 and (await response.json())["error"]["code"] == "invalid_body"
    other = FormData()
    other.add_field("image", png(), filename="a.png")
    response = await client.post("/v1/media", data=other, headers=advisor)
    error = (await response.json())["error"]
    assert response.status == 400 and error["code"] == "unknown_field"
    two = form(png())
    two.add_field("file2", JPEG, filename="b.jpg")
    response = await client.post("/v1/media", data=two, headers=advisor)
    assert response.status == 400 and (await response.json())["error"]["code"] == "unknown_field"
    assert media_rows(client) == []


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        # A part whose header line is not a header (found by the schema-driven fuzzer: it was a 500).
        ("multipart/form-data; boundary=b0", b"--b0\r\n259--b0--\r\n"),
        ("multipart/form-data; boundary=b0", b"--b0\r\nContent-Disposition form-data\r\n\r\nx\r\n--b0--\r\n"),
        ("multipart/form-data", b"--b0\r\n\r\n--b0--\r\n"),  # no boundary
        ("multipart/form-data; boundary=b0", b"no delimiter at all"),
        # A part that never ends.
        (
            "multipart/form-data; boundary=b0",
            b'--b0\r\nContent-Disposition: form-data; name="file"\r\n\r\n\x89PNG\r\n\x1a\n' + b"x" * 64,
        ),
    ],
    ids=["not-a-header", "header-without-colon", "no-boundary", "no-delimiter", "unterminated"],
)
async def test_a_malformed_multipart_body_is_a_json_400(
    client: Client, tokens: dict[str, str], content_type: str, body: bytes
) -> None:
    headers = {**auth(tokens["advisor"]), "Content-Type": content_type}
    response = await client.post("/v1/media", data=body, headers=headers)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "invalid_body" and set(error) == {"code", "message", "field"}
    assert media_rows(client) == []


async def test_uploads_need_a_token_of_this_agency(client: Client, tokens: dict[str, str]) -> None:
    assert (await client.post("/v1/media", data=form(png()))).status == 401
    response = await client.post("/v1/media", data=form(png()), headers=auth(tokens["other_agency"]))
    assert response.status == 403 and (await response.json())["error"]["code"] == "wrong_agency"
    assert media_rows(client) == []


async def test_a_post_carries_its_media_as_small_records(client: Client, tokens: dict[str, str]) -> None:
    data = png()
    image = await upload(client, tokens["advisor"], data)
    video = await upload(client, tokens["advisor"], MP4)
    media = [{"id": image["id"], "alt": "Affiche du forum"}]
    response = await client.post(
        "/v1/posts",
        json={"text": "Forum emploi #Lyon", "networks": ["x", "mastodon"], "media": media},
        headers=auth(tokens["advisor"]),
    )
    assert response.status == 202, await response.json()
    post_id = (await response.json())["id"]

    shown = await (await client.get(f"/v1/posts/{post_id}", headers=auth(tokens["advisor"]))).json()
    assert shown["media"] == [
        {
            "id": image["id"],
            "alt": "Affiche du forum",
            "content_type": "image/png",
            "size": len(data),
            "captions": [],
        }
    ]
    [queued] = unrelayed_posts(client.app[DATABASE])
    [ref] = queued.media
    assert (ref.id, ref.alt, ref.sha256) == (
        image["id"],
        "Affiche du forum",
        hashlib.sha256(data).hexdigest(),
    )
    assert video["id"] not in {m.id for m in queued.media}


def _post(media: list[dict[str, Any]], networks: list[str], text: str = "Forum emploi") -> dict[str, Any]:
    return {"text": text, "networks": networks, "media": media}


async def test_alt_text_is_required_by_default(client: Client, tokens: dict[str, str]) -> None:
    image = await upload(client, tokens["advisor"], png())
    for media in ([{"id": image["id"]}], [{"id": image["id"], "alt": "  "}]):
        response = await client.post("/v1/posts", json=_post(media, ["x"]), headers=auth(tokens["advisor"]))
        assert response.status == 422
        error = (await response.json())["error"]
        assert (error["code"], error["field"]) == ("alt_text_required", "media[0].alt")
    assert stored_posts(client) == 0


async def test_alt_text_can_be_made_optional(make_node: NodeFactory, tokens: dict[str, str]) -> None:
    client = await make_node(require_alt_text=False)
    image = await upload(client, tokens["advisor"], png())
    response = await client.post(
        "/v1/posts", json=_post([{"id": image["id"]}], ["x"]), headers=auth(tokens["advisor"])
    )
    assert response.status == 202


def test_the_alt_text_setting_is_read_from_the_environment() -> None:
    env = {"RELAIS_AGENCY_ID": "lyon-part-dieu"}
    assert Settings.from_env(env).require_alt_text is True
    assert Settings.from_env({**env, "RELAIS_REQUIRE_ALT_TEXT": "false"}).require_alt_text is False
    assert Settings.from_env({**env, "RELAIS_MEDIA_MAX_BYTES": "5000"}).media_max_bytes == 5000
    with pytest.raises(ValueError, match="RELAIS_REQUIRE_ALT_TEXT"):
        Settings.from_env({**env, "RELAIS_REQUIRE_ALT_TEXT": "maybe"})


@pytest.mark.parametrize(
    ("files", "networks", "code", "field"),
    [
        ([png(padding=2_000_000)], ["x", "bluesky"], "media_too_large", "media[0]"),
        ([JPEG, png(), JPEG, WEBP, png()], ["x"], "too_many_media", "media"),
        ([png(), MP4], ["mastodon"], "too_many_media", "media"),
        ([WEBP], ["linkedin"], "unsupported_media_type", "media[0]"),
        ([JPEG, GIF], ["instagram"], "unsupported_media_type", "media[1]"),
        ([JPEG], ["youtube"], "unsupported_media_type", "media[0]"),
        ([pdf()], ["x"], "unsupported_media_type", "media[0]"),  # documents go only where taken
        ([pptx()], ["telegram"], "unsupported_media_type", "media[0]"),
        ([JPEG], ["slideshare"], "unsupported_media_type", "media[0]"),
        ([], ["slideshare"], "media_required", "media"),
        ([pdf(), odp()], ["slideshare"], "too_many_media", "media"),
        ([], ["instagram"], "media_required", "media"),
    ],
)
async def test_each_networks_media_limits_are_checked_before_queueing(
    client: Client,
    tokens: dict[str, str],
    files: list[bytes],
    networks: list[str],
    code: str,
    field: str,
) -> None:
    media = []
    for index, data in enumerate(files):
        uploaded = await upload(client, tokens["advisor"], data)
        media.append({"id": uploaded["id"], "alt": f"image {index}"})
    response = await client.post("/v1/posts", json=_post(media, networks), headers=auth(tokens["advisor"]))
    assert response.status == 422
    error = (await response.json())["error"]
    assert (error["code"], error["field"]) == (code, field), error
    assert networks[-1] in error["message"]
    assert stored_posts(client) == 0


async def test_alt_text_over_a_networks_limit_is_refused(client: Client, tokens: dict[str, str]) -> None:
    image = await upload(client, tokens["advisor"], png())
    media = [{"id": image["id"], "alt": "a" * 1001}]
    response = await client.post(
        "/v1/posts", json=_post(media, ["mastodon", "x"]), headers=auth(tokens["advisor"])
    )
    error = (await response.json())["error"]
    assert response.status == 422 and (error["code"], error["field"]) == ("alt_text_too_long", "media[0].alt")
    assert "x:" in error["message"] and "1000" in error["message"]


@pytest.mark.parametrize(
    ("media", "status", "code", "field"),
    [
        ([{"id": "lyon-part-dieu-nope", "alt": "a"}], 422, "unknown_media", "media[0].id"),
        ("photo.png", 400, "invalid_type", "media"),
        (["photo.png"], 400, "invalid_type", "media[0]"),
        ([{"alt": "a"}], 400, "missing_field", "media[0].id"),
        ([{"id": "a", "alt": "b", "url": "c"}], 400, "unknown_field", "media[0].url"),
        ([{"id": "a", "alt": 3}], 400, "invalid_type", "media[0].alt"),
    ],
)
async def test_bad_media_references_are_refused(
    client: Client, tokens: dict[str, str], media: Any, status: int, code: str, field: str
) -> None:
    response = await client.post("/v1/posts", json=_post(media, ["x"]), headers=auth(tokens["advisor"]))
    assert response.status == status
    error = (await response.json())["error"]
    assert (error["code"], error["field"]) == (code, field)
    assert stored_posts(client) == 0


async def test_the_same_medium_twice_is_refused(client: Client, tokens: dict[str, str]) -> None:
    image = await upload(client, tokens["advisor"], png())
    media = [{"id": image["id"], "alt": "a"}, {"id": image["id"], "alt": "b"}]
    response = await client.post("/v1/posts", json=_post(media, ["x"]), headers=auth(tokens["advisor"]))
    error = (await response.json())["error"]
    assert response.status == 422 and (error["code"], error["field"]) == ("duplicate_media", "media[1].id")


async def test_a_page_network_with_media_is_accepted(client: Client, tokens: dict[str, str]) -> None:
    video = await upload(client, tokens["advisor"], MP4)
    response = await client.post(
        "/v1/posts",
        json={
            **_post([{"id": video["id"], "alt": "Vidéo du salon"}], ["youtube"]),
            "pages": [PAGES["youtube"]],
        },
        headers=auth(tokens["advisor"]),
    )
    assert response.status == 202, await response.json()


@pytest.mark.parametrize(
    "network", ["linkedin", "bluesky"]
)  # Facebook: tests/networks/test_video_networks.py
async def test_a_video_for_a_network_that_publishes_videos_is_accepted(
    client: Client, tokens: dict[str, str], network: str
) -> None:
    """LinkedIn videos and Bluesky video: no longer unsupported_media_type."""
    video = await upload(client, tokens["advisor"], MP4)
    response = await client.post(
        "/v1/posts",
        json={**_post([{"id": video["id"], "alt": "Vidéo du salon"}], [network]), "pages": [PAGES[network]]},
        headers=auth(tokens["advisor"]),
    )
    assert response.status == 202, await response.json()


@pytest.mark.parametrize("network", ["linkedin", "bluesky"])
async def test_a_video_with_images_is_refused_where_a_video_goes_alone(
    client: Client, tokens: dict[str, str], network: str
) -> None:
    video = await upload(client, tokens["advisor"], MP4)
    image = await upload(client, tokens["advisor"], png())
    media = [{"id": image["id"], "alt": "Affiche"}, {"id": video["id"], "alt": "Vidéo du salon"}]
    body = {**_post(media, [network]), "pages": [PAGES[network]]}
    response = await client.post("/v1/posts", json=body, headers=auth(tokens["advisor"]))
    error = (await response.json())["error"]
    assert response.status == 422 and error["code"] == "too_many_media", error
    assert stored_posts(client) == 0
