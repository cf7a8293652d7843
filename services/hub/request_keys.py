"""`Idempotency-Key`s of the posts written at the hub: campaigns (`POST /v1/posts`) and replies
(`POST /v1/inbox/{conversation}/replies`). A resend, however late, is the first post, never a second
one: a national campaign sent twice would be a second post on every page it reaches.

A keyed post is stored before it is published, with its key and the request's fingerprint, in one
transaction (`reserve`), then published as the only message of its subject (`bus.publish_once`),
then marked published. Two requests racing under one key: the second finds the first's row and
publishes that post, or finds it on the bus already. A hub killed between storing and publishing:
the resend publishes the stored post. A resend once it is published is answered from the row
alone, whatever the stream still holds. Only the request that put the post on the bus announces
and audits it; a hub killed between publishing and auditing leaves the post without its
`inbox.reply_written` entry (the post itself is audited when the hub reads it back from the bus).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlite_utils
import structlog
from aiohttp import web
from nats.js import JetStreamContext

from shared import bus
from shared.api_contract import typed_json
from shared.idempotency import IDEMPOTENCY_KEY
from shared.ids import utc_now
from shared.post_api import Accepted
from shared.schemas import PostReceived, decode, encode, posts_subject
from shared.sqlite_writes import write_transaction
from shared.web import json_error

__all__ = ["Kept", "key_id", "publish", "replayed", "reserve"]

log = structlog.get_logger("relais.hub.request_keys")


@dataclass(frozen=True)
class Kept:
    """What a key was first used for: the post, the request's fingerprint, and whether the bus has it."""

    post: PostReceived
    fingerprint: str
    published: bool


def key_id(kind: str, author: str, key: str, scope: str = "") -> str:
    """One author's key for one kind of request (`campaign`, `reply`) and, for a reply, one
    conversation."""
    digest = hashlib.sha256(f"{kind}\0{author}\0{scope}\0{key}".encode()).hexdigest()
    return f"{kind}:{digest}"


def reserve(db: sqlite_utils.Database, msg_id: str, post: PostReceived, fingerprint: str) -> Kept | None:
    """Store `post` under the key (None), or return what the key was first used for."""
    with write_transaction(db):
        row = db.execute(
            "select post, fingerprint, published_at from request_keys where msg_id = ?", [msg_id]
        ).fetchone()
        if row is not None:
            return Kept(decode(bytes(row[0]), PostReceived), str(row[1]), row[2] is not None)
        db.execute(
            "insert into request_keys (msg_id, post_id, fingerprint, post, created_at)"
            " values (?, ?, ?, ?, ?)",
            [msg_id, post.post_id, fingerprint, encode(post), utc_now()],
        )
    return None


async def publish(
    js: JetStreamContext, db: sqlite_utils.Database, post: PostReceived, msg_id: str | None
) -> bool:
    """Publish the post as the only message of its subject, and mark its key published; True when
    this call is the one that put it on the bus."""
    fresh = await bus.publish_once(js, posts_subject(post.agency, post.post_id), post, post.post_id)
    if msg_id is not None:
        with write_transaction(db):
            db.execute(
                "update request_keys set published_at = ? where msg_id = ? and published_at is null",
                [utc_now(), msg_id],
            )
    return fresh


def replayed(kept: Kept, fingerprint: str) -> web.Response:
    """The answer to a key used before: the first post's id, or a refusal if it named another request
    (a client's bug must never silently drop a post)."""
    if kept.fingerprint != fingerprint:
        message = f"this Idempotency-Key was already used for another request (post {kept.post.post_id})"
        return json_error(422, "idempotency_key_reused", message, IDEMPOTENCY_KEY)
    log.info("post.replayed", post_id=kept.post.post_id, agency=kept.post.agency)
    response = typed_json(Accepted(id=kept.post.post_id, status="received"), Accepted, 202)
    response.headers["Idempotent-Replayed"] = "true"
    return response
