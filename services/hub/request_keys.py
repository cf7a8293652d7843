"""`Idempotency-Key`s of the posts written at the hub: campaigns (`POST /v1/posts`) and replies
(`POST /v1/inbox/{conversation}/replies`). A resend, however late, is the first post, never a second
one: a national campaign sent twice would be a second post on every page it reaches.

A keyed post is stored before it is published, with its key and the request's fingerprint, in one
transaction (`reserve`), then published as the only message of its subject (`bus.publish_once`),
then marked published. Two requests racing under one key: the second finds the first's row and
publishes that post, or finds it on the bus already. A hub killed between storing and publishing:
the resend publishes the stored post. A resend once it is published is answered from the row
alone, whatever the stream still holds.

What the hub must keep of the request itself (a reply's `inbox.reply_written` audit entry) is
written in the key's own transaction (`recorded`), so no crash separates it from the stored post.
What must follow the publication (the reply's announcement to its node, `then`) is done before the
key is marked published: a hub killed in between leaves the key unmarked, and the resend does it
again (it is idempotent: the announcement's `Nats-Msg-Id`, the node's store keyed by post id).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import sqlite_utils
from aiohttp import web
from nats.js import JetStreamContext

from shared import bus
from shared.api_contract import typed_json
from shared.idempotency import fingerprint, replayed
from shared.ids import utc_now
from shared.post_api import Accepted
from shared.schemas import PostReceived, decode, encode, posts_subject
from shared.sqlite_writes import write_transaction

__all__ = ["Kept", "Keyed", "key_id", "keyed", "publish", "reserve"]


@dataclass(frozen=True)
class Kept:
    """What a key was first used for: the post, the request's fingerprint, and whether the bus has it."""

    post: PostReceived
    fingerprint: str
    published: bool


@dataclass(frozen=True)
class Keyed:
    """A post about to be published, with its request's key if it gave one."""

    post: PostReceived  # the new post, or the one the key was first used for
    msg_id: str | None = None
    fingerprint: str = ""
    first: Kept | None = None  # the key's first use: this request is a resend

    def settled(self) -> web.Response | None:
        """The answer with nothing to publish: the first post is on the bus already, or the key
        named another request."""
        first = self.first
        if first is not None and (first.published or first.fingerprint != self.fingerprint):
            return self.answer()
        return None

    def answer(self) -> web.Response:
        """The answer once the post is on the bus."""
        if self.first is None:
            return typed_json(Accepted(id=self.post.post_id, status="received"), Accepted, 202)
        post = self.first.post
        return replayed(post.post_id, post.agency, self.first.fingerprint, self.fingerprint, "received")


def key_id(kind: str, author: str, key: str, scope: str = "") -> str:
    """One author's key for one kind of request (`campaign`, `reply`) and, for a reply, one
    conversation."""
    digest = hashlib.sha256(f"{kind}\0{author}\0{scope}\0{key}".encode()).hexdigest()
    return f"{kind}:{digest}"


# Written in the transaction that stores a key's post (uncommitted writes on the same connection).
Recorded = Callable[[sqlite_utils.Database, PostReceived], None]


def keyed(
    db: sqlite_utils.Database,
    post: PostReceived,
    key: str | None,
    kind: str,
    body: Any,
    scope: str = "",
    *,
    recorded: Recorded | None = None,
) -> Keyed:
    """The post under its author's key (stored with it, and with what `recorded` writes, before
    anything is published), or, for a resend, the post the key was first used for."""
    if key is None:
        return Keyed(post)
    msg_id, signed = key_id(kind, post.author, key, scope), fingerprint(body, scope)
    first = reserve(db, msg_id, post, signed, recorded)
    return Keyed(first.post if first is not None else post, msg_id, signed, first)


def reserve(
    db: sqlite_utils.Database,
    msg_id: str,
    post: PostReceived,
    fingerprint: str,
    recorded: Recorded | None = None,
) -> Kept | None:
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
        if recorded is not None:
            recorded(db, post)
    return None


async def publish(
    js: JetStreamContext,
    db: sqlite_utils.Database,
    keyed: Keyed,
    then: Callable[[], Awaitable[None]] | None = None,
) -> bool:
    """Publish the post as the only message of its subject, then `then` (also when a resend finds
    the post on the bus already), then mark its key published; True when this call is the one that
    put it on the bus."""
    post = keyed.post
    fresh = await bus.publish_once(js, posts_subject(post.agency, post.post_id), post, post.post_id)
    if then is not None:
        await then()
    if keyed.msg_id is not None:
        with write_transaction(db):
            db.execute(
                "update request_keys set published_at = ? where msg_id = ? and published_at is null",
                [utc_now(), keyed.msg_id],
            )
    return fresh
