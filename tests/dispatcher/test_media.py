"""Attachments at the dispatcher: bytes from the agencies' object stores (real nats-server), checked
against the approved SHA-256, and `GET /media/{id}` serving approved attachments only, at addresses
the dispatcher signed and only until they expire.

The policy the answers come from (written by hand): an address without `expires` and `signature`,
with a signature that is not the dispatcher's HMAC of that expiry and that id, or past its expiry,
is refused with 403 `invalid_media_url`, the same answer whether the file exists or not; a valid
address of a file no approved post names is 404; a valid one of an approved file is 200 with its
bytes."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import nats
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from nats.js import JetStreamContext
from pytest_aiohttp import AiohttpClient

from services.dispatcher.adapters.base import DeliveryError
from services.dispatcher.media import MediaLibrary, media_routes
from services.dispatcher.media_urls import MEDIA_URL_LIFETIME, MediaUrlSigner, UrlRefusal
from services.dispatcher.store import Ledger, open_store
from shared import bus
from tests.intake.conftest import png

IMAGE = png(padding=2048)
BUCKET = "media-lyon"
SECRETS_KEY = b"the dispatcher's secrets key, as RELAIS_SECRETS_KEY holds it"
NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


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
def clock() -> Clock:
    return Clock()


@pytest.fixture
def library(js: JetStreamContext, clock: Clock) -> MediaLibrary:
    signer = MediaUrlSigner.from_secrets_key(SECRETS_KEY, clock=clock)
    library = MediaLibrary(public_url="https://relais.example.org/", signer=signer)
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
    assert image.url is not None
    address = urlsplit(image.url)
    assert (address.scheme, address.netloc, address.path) == ("https", "relais.example.org", "/media/lyon-1")
    query = parse_qs(address.query)
    assert query["expires"] == [str(int(NOW) + MEDIA_URL_LIFETIME)]
    assert len(query["signature"][0]) == 64
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


def local(url: str | None) -> str:
    """The path and query of an address the dispatcher gave a network."""
    assert url is not None
    address = urlsplit(url)
    return f"{address.path}?{address.query}"


def signed(library: MediaLibrary, media_id: str) -> str:
    return local(library.signer.url("https://relais.example.org", media_id))


async def test_media_endpoint_serves_approved_attachments_only(
    js: JetStreamContext,
    client: tuple[TestClient[web.Request, web.Application], Ledger],
    library: MediaLibrary,
) -> None:
    http, ledger = client
    await put(js, "lyon-1", IMAGE)
    await put(js, "lyon-2", IMAGE)  # uploaded, but no approved post names it

    assert (await http.get(signed(library, "lyon-1"))).status == 404
    ledger.enqueue([delivery([ref("lyon-1", IMAGE)])])

    [image] = await library.attachments([ref("lyon-1", IMAGE)])
    served = await http.get(signed(library, "lyon-1"))
    assert served.status == 200
    assert served.content_type == "image/png"
    assert served.headers["Cache-Control"] == "private, no-store"
    assert await served.read() == IMAGE
    assert await (await http.get(local(image.url))).read() == IMAGE
    unapproved = await http.get(signed(library, "lyon-2"))
    assert unapproved.status == 404
    assert (await unapproved.json())["error"]["code"] == "unknown_media"


async def test_media_endpoint_refuses_a_replaced_file(
    js: JetStreamContext,
    client: tuple[TestClient[web.Request, web.Application], Ledger],
    library: MediaLibrary,
) -> None:
    http, ledger = client
    ledger.enqueue([delivery([ref("lyon-1", IMAGE)])])
    await put(js, "lyon-1", b"not the approved bytes")

    refused = await http.get(signed(library, "lyon-1"))

    assert refused.status == 410
    assert "SHA-256" in (await refused.json())["error"]["message"]


def forged(library: MediaLibrary, media_id: str) -> dict[str, str]:
    """Addresses of `media_id` an outsider can make (by guessing, or from another file's address)."""
    good = parse_qs(urlsplit(signed(library, media_id)).query)
    expires, signature = good["expires"][0], good["signature"][0]
    other = parse_qs(urlsplit(signed(library, "lyon-2")).query)
    other_id = f"expires={other['expires'][0]}&signature={other['signature'][0]}"
    foreign = MediaUrlSigner.from_secrets_key(b"another dispatcher's key").url("https://x", media_id)
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    later = str(int(expires) + 1)
    return {
        "no query": f"/media/{media_id}",
        "expiry only": f"/media/{media_id}?expires={expires}",
        "signature only": f"/media/{media_id}?signature={signature}",
        "empty values": f"/media/{media_id}?expires=&signature=",
        "tampered signature": f"/media/{media_id}?expires={expires}&signature={flipped}",
        "extended expiry": f"/media/{media_id}?expires={later}&signature={signature}",
        "another id's signature": f"/media/{media_id}?{other_id}",
        "another key's signature": f"/media/{media_id}?{urlsplit(foreign).query}",
        "upper-case signature": f"/media/{media_id}?expires={expires}&signature={signature.upper()}",
        "short signature": f"/media/{media_id}?expires={expires}&signature={signature[:32]}",
        "expiry not a number": f"/media/{media_id}?expires=9e99&signature={signature}",
        "huge expiry": f"/media/{media_id}?expires={'9' * 40}&signature={signature}",
    }


async def test_media_endpoint_refuses_every_address_it_did_not_sign(
    js: JetStreamContext,
    client: tuple[TestClient[web.Request, web.Application], Ledger],
    library: MediaLibrary,
) -> None:
    http, ledger = client
    await put(js, "lyon-1", IMAGE)
    ledger.enqueue([delivery([ref("lyon-1", IMAGE)])])

    for media_id in ("lyon-1", "lyon-404"):  # approved, and not even stored
        for how, path in forged(library, media_id).items():
            refused = await http.get(path)
            assert refused.status == 403, (media_id, how)
            body = await refused.json()
            assert body["error"]["code"] == "invalid_media_url", (media_id, how)
            assert IMAGE not in await refused.read()
    # Nothing tells an approved file from one that does not exist.
    for how in forged(library, "lyon-1"):
        approved = await (await http.get(forged(library, "lyon-1")[how])).json()
        missing = await (await http.get(forged(library, "lyon-404")[how])).json()
        assert approved == missing, how


async def test_media_addresses_expire(
    js: JetStreamContext,
    client: tuple[TestClient[web.Request, web.Application], Ledger],
    library: MediaLibrary,
    clock: Clock,
) -> None:
    http, ledger = client
    await put(js, "lyon-1", IMAGE)
    ledger.enqueue([delivery([ref("lyon-1", IMAGE)])])
    address = signed(library, "lyon-1")

    clock.now = NOW + MEDIA_URL_LIFETIME  # the last second it is valid
    assert (await http.get(address)).status == 200
    clock.now = NOW + MEDIA_URL_LIFETIME + 1
    expired = await http.get(address)
    assert expired.status == 403
    assert (await expired.json())["error"] == {
        "code": "invalid_media_url",
        "message": "this media address has expired; Relais signs a new one on retry",
        "field": "expires",
    }
    # A retry signs a fresh address, valid again.
    [image] = await library.attachments([ref("lyon-1", IMAGE)])
    assert (await http.get(local(image.url))).status == 200


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


def test_an_address_signed_for_longer_than_the_lifetime_is_refused() -> None:
    # Made under a longer lifetime (an older setting, a copied key): it must not outlive today's.
    clock = Clock()
    lenient = MediaUrlSigner.from_secrets_key(SECRETS_KEY, lifetime=10 * MEDIA_URL_LIFETIME, clock=clock)
    strict = MediaUrlSigner.from_secrets_key(SECRETS_KEY, clock=clock)
    query = parse_qs(urlsplit(lenient.url("https://x", "lyon-1")).query)

    with pytest.raises(UrlRefusal) as refused:
        strict.check("lyon-1", query["expires"][0], query["signature"][0])

    assert refused.value.field == "expires"
    own = parse_qs(urlsplit(strict.url("https://x", "lyon-1")).query)
    strict.check("lyon-1", own["expires"][0], own["signature"][0])  # accepted: no exception
