"""Attachments at the dispatcher: bytes from the agencies' object stores (real nats-server), checked
against the approved SHA-256, and `GET /media/{id}` serving approved attachments only."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from nats.js import JetStreamContext
from pytest_aiohttp import AiohttpClient

from services.dispatcher.adapters.base import DeliveryError
from services.dispatcher.media import MediaLibrary, media_routes
from services.dispatcher.store import Ledger, open_store
from shared import bus
from tests.intake.conftest import png

IMAGE = png(padding=2048)
BUCKET = "media-lyon"


def ref(media_id: str, data: bytes, content_type: str = "image/png", alt: str = "") -> dict[str, Any]:
    return {
        "id": media_id,
        "content_type": content_type,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "alt": alt,
        "bucket": BUCKET,
    }


@pytest.fixture
async def js(nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await bus.ensure_streams(js)
    await bus.ensure_media_bucket(js, "lyon")  # BUCKET, as the federation makes it on first contact
    try:
        yield js
    finally:
        await nc.close()


@pytest.fixture
def library(js: JetStreamContext) -> MediaLibrary:
    library = MediaLibrary(public_url="https://relais.example.org/")
    library.js = js
    return library


async def put(js: JetStreamContext, media_id: str, data: bytes) -> None:
    await (await js.object_store(BUCKET)).put(media_id, data)


async def test_attachments_come_with_bytes_url_and_alt(js: JetStreamContext, library: MediaLibrary) -> None:
    await put(js, "lyon-1", IMAGE)
    await put(js, "lyon-2", b"\x00\x00\x00\x18ftypmp42")

    image, video = await library.attachments(
        [
            ref("lyon-1", IMAGE, alt="Affiche du forum"),
            ref("lyon-2", b"\x00\x00\x00\x18ftypmp42", "video/mp4"),
        ]
    )

    assert (image.kind, image.data, image.mime_type, image.alt, image.id) == (
        "image",
        IMAGE,
        "image/png",
        "Affiche du forum",
        "lyon-1",
    )
    assert image.url == "https://relais.example.org/media/lyon-1"
    assert (video.kind, video.alt) == ("video", None)


async def test_a_file_replaced_after_approval_is_refused(js: JetStreamContext, library: MediaLibrary) -> None:
    await put(js, "lyon-1", b"another file under the same id")

    with pytest.raises(DeliveryError) as refused:
        await library.content(ref("lyon-1", IMAGE))

    assert refused.value.kind == "permanent"
    assert "SHA-256 differs" in refused.value.message


async def test_a_missing_file_is_waited_for(js: JetStreamContext, library: MediaLibrary) -> None:
    with pytest.raises(DeliveryError) as missing:
        await library.content(ref("lyon-9", IMAGE))
    assert missing.value.kind == "transient"

    await put(js, "lyon-9", IMAGE)
    assert await library.content(ref("lyon-9", IMAGE)) == IMAGE


async def test_a_fan_out_fetches_each_file_once(js: JetStreamContext, library: MediaLibrary) -> None:
    await put(js, "lyon-1", IMAGE)
    assert await library.content(ref("lyon-1", IMAGE)) == IMAGE
    await (await js.object_store(BUCKET)).delete("lyon-1")

    # Served from memory: the store is not asked again.
    assert await library.content(ref("lyon-1", IMAGE)) == IMAGE


@pytest.fixture
async def client(
    aiohttp_client: AiohttpClient, tmp_path: Path, library: MediaLibrary
) -> AsyncIterator[tuple[TestClient[web.Request, web.Application], Ledger]]:
    db = open_store(tmp_path / "dispatcher.db")
    ledger = Ledger(db)
    app = web.Application()
    media_routes(app, library, ledger)
    try:
        yield await aiohttp_client(app), ledger
    finally:
        db.close()


def delivery(media: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "key": "post-1.instagram.p1",
        "post_id": "post-1",
        "agency": "lyon",
        "network": "instagram",
        "page": "p1",
        "parts": ["Forum"],
        "link": None,
        "due_at": 0.0,
        "media": media,
    }


async def test_media_endpoint_serves_approved_attachments_only(
    js: JetStreamContext, client: tuple[TestClient[web.Request, web.Application], Ledger]
) -> None:
    http, ledger = client
    await put(js, "lyon-1", IMAGE)
    await put(js, "lyon-2", IMAGE)  # uploaded, but no approved post names it

    assert (await http.get("/media/lyon-1")).status == 404
    ledger.enqueue([delivery([ref("lyon-1", IMAGE)])])

    served = await http.get("/media/lyon-1")
    assert served.status == 200
    assert served.content_type == "image/png"
    assert await served.read() == IMAGE
    unapproved = await http.get("/media/lyon-2")
    assert unapproved.status == 404
    assert "lyon-2" in (await unapproved.json())["error"]


async def test_media_endpoint_refuses_a_replaced_file(
    js: JetStreamContext, client: tuple[TestClient[web.Request, web.Application], Ledger]
) -> None:
    http, ledger = client
    ledger.enqueue([delivery([ref("lyon-1", IMAGE)])])
    await put(js, "lyon-1", b"not the approved bytes")

    refused = await http.get("/media/lyon-1")

    assert refused.status == 410
    assert "SHA-256" in (await refused.json())["error"]


async def test_ledger_rows_keep_media_facets_and_content_warning(tmp_path: Path) -> None:
    db = open_store(tmp_path / "dispatcher.db")
    ledger = Ledger(db)
    facets = [
        [{"index": {"byteStart": 0, "byteEnd": 5}, "features": [{"$type": "app.bsky.richtext.facet#tag"}]}]
    ]
    ledger.enqueue(
        [delivery([ref("lyon-1", IMAGE, alt="Affiche")]) | {"facets": facets, "content_warning": "CW"}]
    )

    row = ledger.get("post-1.instagram.p1")

    assert row is not None
    assert row.media == [ref("lyon-1", IMAGE, alt="Affiche")]
    assert row.facets == facets
    assert row.content_warning == "CW"
    db.close()
