"""An agency node in process (real SQLite file, real media directory, real HTTP) with its pages,
tokens, and small but genuine media files."""

from __future__ import annotations

import dataclasses
import io
import struct
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from services.intake.app import create_app
from services.intake.keys import DATABASE
from services.intake.settings import Settings
from services.intake.store import upsert_page
from shared.schemas import PageRecord
from shared.tokens import issue_token, load_or_create_private_key
from tests.harness import free_port

AGENCY = "lyon-part-dieu"
NETWORKS = ("x", "mastodon", "bluesky", "linkedin", "instagram", "telegram", "youtube", "slideshare")
PAGES = {network: f"{AGENCY}-{network}" for network in NETWORKS}

Client = TestClient[Any, Any]
ClientFactory = Callable[..., Awaitable[Client]]
NodeFactory = Callable[..., Awaitable[Client]]


def png(padding: int = 0) -> bytes:
    """A valid 1×1 PNG, with `padding` bytes in an ancillary chunk to make it as large as needed."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    extra = chunk(b"tEXt", b"c\0" + b"x" * padding) if padding else b""
    pixels = zlib.compress(b"\0\0")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + extra + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00\x00\x00\x08free"
HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    key_file = tmp_path / "keys" / "hub.pem"
    load_or_create_private_key(key_file)
    return Settings(
        agency=AGENCY,
        nats_url=f"nats://127.0.0.1:{free_port()}",  # nobody listens: the agency is offline
        data_dir=tmp_path,
        public_key_file=key_file.with_name("hub.pub.pem"),
        host="127.0.0.1",
        port=0,
        log_format="console",
    )


@pytest.fixture
def tokens(settings: Settings) -> dict[str, str]:
    key = load_or_create_private_key(settings.data_dir / "keys" / "hub.pem")
    return {
        "advisor": issue_token(key, role="advisor", subject="claire", agency=AGENCY),
        "other_agency": issue_token(key, role="advisor", subject="yann", agency="rennes-sud"),
        "expired": issue_token(key, role="advisor", subject="old", agency=AGENCY, ttl_seconds=-10),
        "ops": issue_token(key, role="ops", subject="ops"),
    }


@pytest.fixture
def make_node(aiohttp_client: ClientFactory, settings: Settings) -> NodeFactory:
    """An agency node with these settings changed (for example `require_alt_text=False`)."""

    async def make(**changes: Any) -> Client:
        app = create_app(dataclasses.replace(settings, **changes))
        client = await aiohttp_client(app)
        for network, page in PAGES.items():
            record = PageRecord(
                page=page,
                network=network,
                handle=page,
                agency=AGENCY,
                region="ara",
                department="69",
                timezone="Europe/Paris",
                credentials_ref=f"ref/{page}",
            )
            upsert_page(app[DATABASE], record, msgspec.json.encode(record))
        return client

    return make


@pytest.fixture
async def client(make_node: NodeFactory) -> Client:
    return await make_node()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def form(
    data: bytes, filename: str = "photo.bin", content_type: str = "application/octet-stream"
) -> FormData:
    body = FormData()
    # A file object rather than bytes: aiohttp warns (an error here) about large raw bytes bodies.
    body.add_field("file", io.BytesIO(data), filename=filename, content_type=content_type)
    return body


async def upload(client: Client, token: str, data: bytes, filename: str = "photo.bin") -> dict[str, Any]:
    response = await client.post("/v1/media", data=form(data, filename), headers=auth(token))
    assert response.status == 201, await response.text()
    return dict(await response.json())


def stored_posts(client: Client) -> int:
    return int(client.app[DATABASE].execute("select count(*) from posts").fetchone()[0])
