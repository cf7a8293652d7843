"""Attachments reach the agency's object store at the hub before the post that names them: real
nats-server, real SQLite outbox, real files."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import nats.js.errors
import pytest
from nats.aio.client import Client as NATS
from nats.js.object_store import ObjectStore

from relais.nats_auth import authorization
from relais.processes import ManagedProcess, nats_spec
from services.intake.keys import DATABASE, LINK
from services.intake.media_relay import media_bucket
from services.intake.relay import OutboxRelay
from services.intake.store import get_post, insert_media, insert_post, open_store
from shared import bus
from shared.ids import new_post_id, utc_now
from shared.schemas import MediaRef, PostReceived, Target, decode, media_bucket_name, posts_subject
from tests.harness import free_port
from tests.intake.conftest import AGENCY, PAGES, NodeFactory, auth, png, upload
from tests.waiting import until


def start_nats(root: Path, authorization: dict[str, Any] | None = None) -> tuple[ManagedProcess, int]:
    port = free_port()
    server = ManagedProcess(nats_spec(root / "nats", port, free_port(), authorization), root / "logs")
    server.start()
    server.wait_ready()
    return server, port


@pytest.fixture
def nats_port(tmp_path: Path) -> Iterator[int]:
    server, port = start_nats(tmp_path)
    try:
        yield port
    finally:
        server.stop()


@pytest.fixture
async def hub(nats_port: int) -> AsyncIterator[NATS]:
    """The hub side's connection: it owns the streams and creates the agency's media bucket."""
    nc = await bus.connect(f"nats://127.0.0.1:{nats_port}", bus.hub_client("federation"))
    await bus.ensure_streams(nc.jetstream())
    await bus.ensure_media_bucket(nc.jetstream(), AGENCY)
    try:
        yield nc
    finally:
        await nc.close()


async def relayed(nc: NATS, post_id: str) -> PostReceived | None:
    try:
        msg = await nc.jetstream().get_last_msg("POSTS", posts_subject(AGENCY, post_id))
    except nats.js.errors.NotFoundError:
        return None
    assert msg.data is not None
    return decode(msg.data, PostReceived)


async def stored_bytes(bucket: ObjectStore, name: str) -> bytes | None:
    try:
        result = await bucket.get(name)
    except nats.js.errors.ObjectNotFoundError:
        return None
    return result.data


async def test_an_uploaded_file_is_in_the_object_store_when_its_post_reaches_the_hub(
    nats_port: int, hub: NATS, make_node: NodeFactory, tokens: dict[str, str]
) -> None:
    # (nats_port first: the node, set up after the server, is closed before it.)
    client = await make_node(nats_url=f"nats://127.0.0.1:{nats_port}")
    data = png(padding=300_000)  # several object-store chunks
    image = await upload(client, tokens["advisor"], data)
    body = {
        "text": "Forum emploi #Lyon",
        "networks": ["mastodon"],
        "media": [{"id": image["id"], "alt": "Affiche"}],
    }
    response = await client.post("/v1/posts", json=body, headers=auth(tokens["advisor"]))
    assert response.status == 202
    post_id = (await response.json())["id"]

    post = await until(lambda: relayed(hub, post_id))
    bucket = await hub.jetstream().object_store(media_bucket_name(AGENCY))
    # The post is on the bus, so its file must already be whole in the bucket.
    assert await stored_bytes(bucket, image["id"]) == data
    [ref] = post.media
    assert (ref.id, ref.alt, ref.content_type, ref.size) == (image["id"], "Affiche", "image/png", len(data))
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert (await bucket.get_info(image["id"])).description == "image/png"
    row = client.app[DATABASE].execute("select stored_at from media where id = ?", [image["id"]]).fetchone()
    assert row[0] is not None
    assert client.app[LINK].connected


def outbox_with_media(tmp_path: Path, data: bytes) -> tuple[Any, Path, PostReceived]:
    """An outbox holding one uploaded file and one post naming it (as the HTTP handlers leave them)."""
    db = open_store(tmp_path / "intake.db")
    media_dir = tmp_path / "media"
    media_dir.mkdir()
    media_id = new_post_id(AGENCY)
    (media_dir / media_id).write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    insert_media(
        db,
        {
            "id": media_id,
            "agency": AGENCY,
            "content_type": "image/png",
            "size": len(data),
            "sha256": digest,
            "uploaded_by": "claire",
            "created_at": utc_now(),
        },
    )
    ref = MediaRef(id=media_id, content_type="image/png", size=len(data), sha256=digest, alt="Affiche")
    post = PostReceived(
        post_id=new_post_id(AGENCY),
        agency=AGENCY,
        occurred_at=utc_now(),
        author="claire",
        text="Forum emploi",
        targets=[Target("mastodon", PAGES["mastodon"])],
        media=[ref],
    )
    insert_post(db, post)
    return db, media_dir, post


async def connected_relay(db: Any, media_dir: Path, url: str) -> tuple[OutboxRelay, bus.BusLink]:
    link = bus.BusLink()
    link.nc = await bus.connect(url, bus.agency_client(AGENCY))
    return OutboxRelay(db, link, media_dir=media_dir), link


async def test_a_post_waits_while_its_file_cannot_be_stored(
    tmp_path: Path, hub: NATS, nats_port: int
) -> None:
    data = png()
    db, media_dir, post = outbox_with_media(tmp_path, data)
    (media_dir / post.media[0].id).rename(tmp_path / "aside")  # the file is missing
    relay, link = await connected_relay(db, media_dir, f"nats://127.0.0.1:{nats_port}")
    try:
        assert await relay.drain() == 0
        assert await relayed(hub, post.post_id) is None
        assert (get_post(db, post.post_id) or {})["status"] == "waiting_for_hub"

        (tmp_path / "aside").rename(media_dir / post.media[0].id)
        assert await relay.drain() == 1
        assert await relayed(hub, post.post_id) is not None
        bucket = await hub.jetstream().object_store(media_bucket_name(AGENCY))
        assert await stored_bytes(bucket, post.media[0].id) == data
    finally:
        assert link.nc is not None
        await link.nc.close()
        db.close()


async def test_a_file_already_in_the_bucket_is_not_sent_again(
    tmp_path: Path, hub: NATS, nats_port: int
) -> None:
    data = png(padding=1000)
    db, media_dir, post = outbox_with_media(tmp_path, data)
    bucket = await media_bucket(hub, AGENCY)
    before = await bucket.put(post.media[0].id, data)  # a relay that crashed before noting it
    relay, link = await connected_relay(db, media_dir, f"nats://127.0.0.1:{nats_port}")
    try:
        assert await relay.drain() == 1
        assert (await bucket.get_info(post.media[0].id)).nuid == before.nuid
        assert await relay.drain() == 0  # and nothing is left to do
    finally:
        assert link.nc is not None
        await link.nc.close()
        db.close()


async def test_an_agency_user_relays_media_with_its_real_permissions_once_the_hub_made_its_bucket(
    tmp_path: Path,
) -> None:
    """The agency may not create its bucket: its post waits until the hub side does, then goes
    once (a second drain finds nothing to send, and the stream holds one message for the post)."""
    passwords = {bus.HUB_USER: "hub-secret", bus.agency_user(AGENCY): "agency-secret"}
    server, port = start_nats(tmp_path / "secured", authorization(passwords))
    try:
        hub = await bus.connect(f"nats://hub:hub-secret@127.0.0.1:{port}", bus.hub_client("federation"))
        hjs = hub.jetstream()
        await bus.ensure_streams(hjs)
        data = png(padding=200_000)
        db, media_dir, post = outbox_with_media(tmp_path, data)
        url = f"nats://{bus.agency_user(AGENCY)}:agency-secret@127.0.0.1:{port}"
        relay, link = await connected_relay(db, media_dir, url)
        try:
            assert await relay.drain() == 0  # no bucket yet: the post waits
            assert (get_post(db, post.post_id) or {})["status"] == "waiting_for_hub"
            with pytest.raises(nats.js.errors.NotFoundError):
                await hjs.stream_info(f"OBJ_{media_bucket_name(AGENCY)}")  # the agency made none

            await bus.ensure_media_bucket(hjs, AGENCY)
            assert await relay.drain() == 1
            assert await relay.drain() == 0
            bucket = await hjs.object_store(media_bucket_name(AGENCY))
            assert await stored_bytes(bucket, post.media[0].id) == data
            assert (await hjs.stream_info("POSTS")).state.messages == 1
        finally:
            assert link.nc is not None
            await link.nc.close()
            await hub.close()
            db.close()
    finally:
        server.stop()
