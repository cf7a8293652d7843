"""The Bluesky adapter against a real PDS (`@atproto/pds`): the PDS is the oracle for what a
record may hold, and for exactly-once creation by record key."""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from itertools import count
from typing import Any

import aiohttp
import pytest

from services.dispatcher.adapters import DeliveryError, PageAccount
from services.dispatcher.adapters.base import Media
from services.dispatcher.adapters.bluesky import BlueskyAdapter
from services.dispatcher.attempt import RetryPolicy, run_attempt
from services.dispatcher.store import DeliveryRow
from tests.images import png
from tests.peers.pds_server import PdsServer

pytestmark = pytest.mark.pds
_names = count()


def account_on(pds: PdsServer) -> tuple[PageAccount, dict[str, str]]:
    created = pds.create_account(f"relais{next(_names)}-{random.randrange(10**6)}")
    credentials = {"identifier": created["handle"], "password": created["password"]}
    return PageAccount("p-bsky", "bluesky", created["handle"], credentials, pds.url), created


async def test_a_thread_is_published_and_reads_back(pds: PdsServer) -> None:
    page, created = account_on(pds)
    parts = ["Forum de l'emploi jeudi à Lyon #emploi 1/3", "Inscriptions ouvertes 2/3", "À jeudi ! 3/3"]

    async with aiohttp.ClientSession() as http:
        adapter = BlueskyAdapter(http)
        publication = await adapter.publish(page, parts, idempotency_key="post-1.bluesky.p1")
        found = await adapter.find(page, parts, idempotency_key="post-1.bluesky.p1", since=time.time())

    records = {r["uri"]: r["value"] for r in pds.records(created["did"])}
    assert [records[uri]["text"] for uri in publication.part_ids] == parts
    assert records[publication.part_ids[2]]["reply"]["parent"]["uri"] == publication.part_ids[1]
    assert records[publication.part_ids[2]]["reply"]["root"]["uri"] == publication.part_ids[0]
    assert (
        publication.url
        == f"https://bsky.app/profile/{created['handle']}/post/{publication.remote_id.rsplit('/', 1)[-1]}"
    )
    assert found == publication


async def test_publishing_the_same_delivery_again_creates_nothing(pds: PdsServer) -> None:
    page, created = account_on(pds)

    async with aiohttp.ClientSession() as http:
        first = await BlueskyAdapter(http).publish(page, ["Atelier CV"], idempotency_key="post-2.bluesky.p1")
        again = await BlueskyAdapter(http).publish(page, ["Atelier CV"], idempotency_key="post-2.bluesky.p1")

    assert again.part_ids == first.part_ids
    assert len(pds.records(created["did"])) == 1


async def test_an_unknown_outcome_is_reconciled_by_reading_the_pds(pds: PdsServer) -> None:
    page, created = account_on(pds)
    parts = ["Salon de l'alternance samedi"]

    async with aiohttp.ClientSession() as http:
        adapter = BlueskyAdapter(http)
        published = await adapter.publish(page, parts, idempotency_key="post-3.bluesky.p1")
        # The dispatcher died after the call: the ledger says the outcome is unknown.
        row = DeliveryRow(
            "post-3.bluesky.p1",
            "post-3",
            "lyon",
            "bluesky",
            "p1",
            "publishing",
            1,
            0,
            parts,
            None,
            None,
            None,
            [],
            None,
            None,
            time.time(),
            time.time(),
            True,
            False,
            1,
        )
        outcome = await run_attempt(row, adapter, page, policy=RetryPolicy(), rng=random.Random(1))

    assert outcome.status == "published" and outcome.notes == {"reconciled": True}
    assert outcome.fields["remote_id"] == published.remote_id
    assert len(pds.records(created["did"])) == 1


async def test_the_pds_refuses_an_over_long_post_permanently(pds: PdsServer) -> None:
    page, created = account_on(pds)

    async with aiohttp.ClientSession() as http:
        with pytest.raises(DeliveryError) as caught:
            await BlueskyAdapter(http).publish(page, ["é" * 301], idempotency_key="post-4.bluesky.p1")

    assert caught.value.kind == "permanent"
    assert "grapheme too big" in caught.value.message
    assert pds.records(created["did"]) == []


async def test_a_wrong_app_password_needs_the_page_reconnected(pds: PdsServer) -> None:
    page, _created = account_on(pds)
    wrong = PageAccount(
        page.page_id, "bluesky", page.handle, {"identifier": page.handle, "password": "nope-nope"}, pds.url
    )

    async with aiohttp.ClientSession() as http:
        with pytest.raises(DeliveryError) as caught:
            await BlueskyAdapter(http).publish(wrong, ["Bonjour"], idempotency_key="post-5.bluesky.p1")

    assert caught.value.kind == "auth"
    assert "nope-nope" not in caught.value.message


def blob_bytes(pds: PdsServer, did: str, cid: str) -> bytes:
    query = urllib.parse.urlencode({"did": did, "cid": cid})
    with urllib.request.urlopen(f"{pds.url}/xrpc/com.atproto.sync.getBlob?{query}", timeout=30) as response:
        data: bytes = response.read()
        return data


async def test_a_post_with_an_image_reads_back_with_its_blob_and_alt(pds: PdsServer) -> None:
    page, created = account_on(pds)
    image = png(6, 4, shade=42)
    parts = ["Affiche du forum de l'emploi 1/2", "Programme 2/2"]
    media = [Media("image", data=image, mime_type="image/png", alt="Affiche : forum, jeudi 14 h", id="m-1")]

    async with aiohttp.ClientSession() as http:
        publication = await BlueskyAdapter(http).publish(
            page, parts, idempotency_key="post-6.bluesky.p1", media=media
        )

    rkey = publication.remote_id.rsplit("/", 1)[-1]
    query = urllib.parse.urlencode({"repo": created["did"], "collection": "app.bsky.feed.post", "rkey": rkey})
    first = pds.xrpc(f"com.atproto.repo.getRecord?{query}")["value"]
    [embedded] = first["embed"]["images"]
    assert first["embed"]["$type"] == "app.bsky.embed.images"
    assert embedded["alt"] == "Affiche : forum, jeudi 14 h"
    assert embedded["aspectRatio"] == {"width": 6, "height": 4}
    assert embedded["image"]["mimeType"] == "image/png" and embedded["image"]["size"] == len(image)
    assert blob_bytes(pds, created["did"], embedded["image"]["ref"]["$link"]) == image
    second = {r["uri"]: r["value"] for r in pds.records(created["did"])}[publication.part_ids[1]]
    assert "embed" not in second


def raw_xrpc(pds: PdsServer, method: str, body: bytes, token: str, content_type: str) -> tuple[int, Any]:
    request = urllib.request.Request(f"{pds.url}/xrpc/{method}", data=body, method="POST")
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def test_the_pds_refuses_a_blob_another_account_uploaded(pds: PdsServer) -> None:
    """What the emulator mirrors: blobs belong to the account that uploaded them."""
    owner, other = account_on(pds)[1], account_on(pds)[1]
    tokens = {
        who["did"]: pds.xrpc(
            "com.atproto.server.createSession", {"identifier": who["handle"], "password": who["password"]}
        )["accessJwt"]
        for who in (owner, other)
    }
    status, uploaded = raw_xrpc(pds, "com.atproto.repo.uploadBlob", png(), tokens[owner["did"]], "image/png")
    assert status == 200
    record = {
        "$type": "app.bsky.feed.post",
        "text": "emprunt",
        "createdAt": "2026-01-01T00:00:00.000Z",
        "embed": {"$type": "app.bsky.embed.images", "images": [{"alt": "", "image": uploaded["blob"]}]},
    }
    body = json.dumps({"repo": other["did"], "collection": "app.bsky.feed.post", "record": record}).encode()

    status, refused = raw_xrpc(
        pds, "com.atproto.repo.createRecord", body, tokens[other["did"]], "application/json"
    )

    assert (status, refused["error"]) == (400, "BlobNotFound")
    assert refused["message"] == f"Could not find blob: {uploaded['blob']['ref']['$link']}"
