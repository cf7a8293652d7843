"""Attachments for deliveries: bytes from the hub's object stores, and a URL for networks that
fetch media themselves (Instagram, Threads).

Each agency puts its files in its own bucket (`media-<agency>`) under their media ids before the
post that names them reaches the hub. What is fetched is checked against the SHA-256 the approved
post carries, so a file replaced in the bucket after approval is never published in its place.
A fan-out sends the same file to hundreds of pages: a small cache (bounded in bytes) keeps recent
files in memory.

`GET /media/{id}` is the URL given to networks (`RELAIS_MEDIA_PUBLIC_URL` is how they reach it) and
needs no token: it serves a file only at an address this dispatcher signed, still valid
(`media_urls`), and only attachments of approved posts (those the ledger knows).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import nats.errors
import nats.js.errors
from aiohttp import web
from nats.js import JetStreamContext
from nats.js.object_store import ObjectStore

from services.dispatcher.adapters.base import Caption, DeliveryError, Media
from services.dispatcher.media_urls import MediaUrlSigner, UrlRefusal
from services.dispatcher.store import Ledger
from shared.networks.facts import MEDIA_KINDS
from shared.web import json_error

__all__ = ["MediaLibrary", "media_routes"]


class MediaLibrary:
    def __init__(
        self, *, public_url: str, signer: MediaUrlSigner, cache_bytes: int = 64 * 1024 * 1024
    ) -> None:
        self.js: JetStreamContext | None = None  # set once the bus is reached
        self.signer = signer
        self._public_url = public_url.rstrip("/")
        self._cache_bytes = cache_bytes
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cached = 0
        self._buckets: dict[str, ObjectStore] = {}
        self._fetching: dict[str, asyncio.Future[bytes]] = {}

    async def attachments(self, refs: Sequence[Mapping[str, Any]]) -> list[Media]:
        """The delivery's media, in order, with their bytes and a public URL signed from now."""
        media = []
        for ref in refs:
            data = await self.content(ref)
            content_type = str(ref["content_type"])
            # A video's caption files are in the same bucket, checked the same way.
            captions = [
                Caption(str(c["lang"]), await self.content({**c, "bucket": ref.get("bucket")}))
                for c in ref.get("captions") or ()
            ]
            media.append(
                Media(
                    _kind(content_type),
                    url=self.signer.url(self._public_url, str(ref["id"])),
                    data=data,
                    mime_type=content_type,
                    alt=str(ref.get("alt") or "") or None,
                    id=str(ref["id"]),
                    captions=tuple(captions),
                )
            )
        return media

    async def content(self, ref: Mapping[str, Any]) -> bytes:
        """The attachment's bytes, checked against its SHA-256; raises `DeliveryError`."""
        # Refs recorded before per-agency buckets name none: theirs is the shared one.
        media_id, bucket = str(ref["id"]), str(ref.get("bucket") or "media")
        key = f"{bucket}/{media_id}"
        if (data := self._cache.get(key)) is not None:
            self._cache.move_to_end(key)
        else:
            # One fetch per file however many deliveries ask for it at once.
            pending = self._fetching.get(key)
            if pending is None:
                pending = asyncio.ensure_future(self._fetch(bucket, media_id))
                self._fetching[key] = pending
                pending.add_done_callback(lambda _: self._fetching.pop(key, None))
            data = await asyncio.shield(pending)
        if hashlib.sha256(data).hexdigest() != ref["sha256"]:
            self._forget(key)
            raise DeliveryError(
                f"the attachment {media_id} held at the hub is not the file that was approved"
                " (its SHA-256 differs): upload it again with the post",
                network_code=None,
                kind="permanent",
            )
        return data

    async def _fetch(self, bucket: str, media_id: str) -> bytes:
        try:
            if bucket not in self._buckets:
                if self.js is None:
                    raise TimeoutError("not connected to the bus yet")
                self._buckets[bucket] = await self.js.object_store(bucket)
            result = await self._buckets[bucket].get(media_id)
        except nats.js.errors.NotFoundError:  # no bucket, or no such object
            raise DeliveryError(
                f"the attachment {media_id} is not in the hub's media store yet; retrying",
                network_code=None,
                kind="transient",
            ) from None
        except (nats.errors.Error, TimeoutError) as error:
            raise DeliveryError(
                f"the hub's media store did not answer ({type(error).__name__}); retrying",
                network_code=None,
                kind="transient",
            ) from None
        data = bytes(result.data or b"")
        self._remember(f"{bucket}/{media_id}", data)
        return data

    def _remember(self, key: str, data: bytes) -> None:
        if len(data) > self._cache_bytes // 4:
            return  # a video would push out every image of a fan-out
        self._cache[key] = data
        self._cached += len(data)
        while self._cached > self._cache_bytes:
            _, dropped = self._cache.popitem(last=False)
            self._cached -= len(dropped)

    def _forget(self, key: str) -> None:
        if (dropped := self._cache.pop(key, None)) is not None:
            self._cached -= len(dropped)


LIBRARY = web.AppKey("media_library", MediaLibrary)
LEDGER = web.AppKey("ledger", Ledger)


async def serve_media(request: web.Request) -> web.StreamResponse:
    media_id = request.match_info["media_id"]
    library = request.app[LIBRARY]
    try:
        # First: an unsigned or foreign address learns nothing about which files exist.
        library.signer.check(media_id, request.query.get("expires"), request.query.get("signature"))
    except UrlRefusal as refusal:
        return json_error(403, "invalid_media_url", refusal.message, refusal.field)
    ref = request.app[LEDGER].approved_media(media_id)
    if ref is None:
        return json_error(404, "unknown_media", f"no approved post has the attachment {media_id!r}")
    try:
        data = await library.content(ref)
    except DeliveryError as error:
        if error.kind == "transient":
            return json_error(503, "media_unavailable", error.message)
        return json_error(410, "media_changed", error.message)
    # Not cached by a proxy: the address must stop working when it expires.
    headers = {"Cache-Control": "private, no-store", "ETag": f'"{ref["sha256"]}"'}
    return web.Response(body=data, content_type=str(ref["content_type"]), headers=headers)


def media_routes(app: web.Application, library: MediaLibrary, ledger: Ledger) -> None:
    app[LIBRARY] = library
    app[LEDGER] = ledger
    app.router.add_get("/media/{media_id}", serve_media)


def _kind(content_type: str) -> Literal["image", "video", "document"]:
    """What an adapter sees the file as (GIFs go as images; each adapter reads `mime_type` too)."""
    kind = MEDIA_KINDS.get(content_type)
    return "document" if kind == "document" else "video" if kind == "video" else "image"
