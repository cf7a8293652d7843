"""Copying a post's attachments to the agency's object store at the hub (bucket `media-<agency>`)
before the post goes.

A post never reaches the hub before its media: the relay calls `store_media` for each post and
sends only the posts whose every file is in the bucket. The hub side creates the bucket (an agency
user may create no stream): until it exists, posts with media wait, then go once. Each file is put
under its media id; a put is skipped when the bucket already holds the same bytes (same SHA-256),
and SQLite remembers what was stored, so a crash between the two costs at most one identical re-put.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import nats.errors
import nats.js.errors
import sqlite_utils
import structlog
from nats.aio.client import Client as NATS
from nats.js.api import ObjectMeta
from nats.js.object_store import ObjectStore

from services.intake.store import mark_media_stored, unstored_media
from shared.schemas import MediaRef, PostReceived, media_bucket_name

__all__ = ["media_bucket", "media_publish_permissions", "store_media"]

log = structlog.get_logger("relais.intake.media")


def media_publish_permissions(agency: str) -> tuple[str, ...]:
    """What an agency's NATS user must be allowed to publish for `store_media` (nats-py's
    `object_store` and `ObjectStore.put`): its own bucket, and nothing of any other agency's.

    Not allowed, though nats-py may ask: STREAM.CREATE/UPDATE (the hub declares the bucket, with
    fixed subjects and limits), STREAM.PURGE (put uses it only to drop the chunks of a failed or
    replaced put: such orphans stay until the bucket's max_age; a purge could erase files of
    posts not yet published), DIRECT.GET (put reads the object's description with STREAM.MSG.GET).
    """
    stream = f"OBJ_{media_bucket_name(agency)}"
    return (
        f"$JS.API.STREAM.INFO.{stream}",  # open the bucket (and learn it exists yet)
        f"$JS.API.STREAM.MSG.GET.{stream}",  # is this object already there?
        f"$O.{media_bucket_name(agency)}.C.>",  # the chunks
        f"$O.{media_bucket_name(agency)}.M.>",  # the object's description, published last
    )


async def media_bucket(nc: NATS, agency: str) -> ObjectStore:
    """The agency's object store; `BucketNotFoundError` while the hub has not created it yet."""
    return await nc.jetstream().object_store(media_bucket_name(agency))


def _nats_digest(sha256_hex: str) -> str:
    # The object store describes content as "SHA-256=<url-safe base64>".
    return "SHA-256=" + base64.urlsafe_b64encode(bytes.fromhex(sha256_hex)).decode()


async def _already_there(bucket: ObjectStore, ref: MediaRef) -> bool:
    try:
        info = await bucket.get_info(ref.id)
    except nats.js.errors.ObjectNotFoundError:
        return False
    return info.size == ref.size and info.digest == _nats_digest(ref.sha256)


async def _put(bucket: ObjectStore, ref: MediaRef, path: Path) -> None:
    # The object store reads the file in a worker thread; opening it is the only blocking call here.
    file = await asyncio.to_thread(path.open, "rb")
    try:
        info = await bucket.put(ref.id, file, meta=ObjectMeta(name=ref.id, description=ref.content_type))
    finally:
        await asyncio.to_thread(file.close)
    if info.digest != _nats_digest(ref.sha256):
        raise OSError(f"{path} no longer holds the bytes uploaded as {ref.id}")


async def store_media(nc: NATS, db: sqlite_utils.Database, media_dir: Path, post: PostReceived) -> bool:
    """Put every attachment of `post` (and every video's caption files) not yet stored; False (the
    post must wait) if one failed."""
    ids = [ref.id for ref in post.media] + [caption.id for ref in post.media for caption in ref.captions]
    pending = unstored_media(db, ids)
    if not pending:
        return True
    plog = log.bind(post_id=post.post_id, agency=post.agency)
    try:
        bucket = await media_bucket(nc, post.agency)
    except nats.js.errors.BucketNotFoundError:
        plog.info("media.bucket_not_created_yet", bucket=media_bucket_name(post.agency))
        return False
    except (nats.errors.Error, TimeoutError) as exc:
        plog.warning("media.relay_failed", error=repr(exc))
        return False
    try:
        for ref in pending:
            skipped = await _already_there(bucket, ref)
            if not skipped:
                await _put(bucket, ref, media_dir / ref.id)
            mark_media_stored(db, ref.id)
            plog.info("media.relayed", media_id=ref.id, size=ref.size, already_there=skipped)
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        # The link dropped, or the hub refused (permissions): the post waits for the next pass.
        # A file gone from disk is logged at error level: only a person can resolve it.
        level = plog.error if isinstance(exc, FileNotFoundError) else plog.warning
        level("media.relay_failed", error=repr(exc))
        return False
    return True
