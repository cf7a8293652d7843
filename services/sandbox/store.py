"""What the fake accounts received, in one SQLite file (sqlite-utils, WAL, migrations).

Every emulator writes the posts it accepted here; the inspection API and the HTML view read them
back. The emulators also answer their own questions from it (X's duplicate rule, Mastodon's
idempotency window, Bluesky's existing record keys, read-back endpoints), so a restarted sandbox
still behaves like the network it plays.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from aiohttp import web
from sqlite_utils.migrations import Migrations

__all__ = ["STORE", "IncomingItem", "MediaItem", "Post", "Store", "format_instant"]

_TABLE = "posts"
_MEDIA = "media"
_INCOMING = "incoming"


def format_instant(moment: datetime) -> str:
    """A fixed-width UTC timestamp, so that stored instants compare correctly as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Post:
    """One post (or thread part) an emulator accepted."""

    id: int
    network: str
    account: str
    remote_id: str
    text: str
    body: dict[str, Any]
    idempotency_key: str | None
    received_at: str
    reply_to: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        """The shape the inspection API returns."""
        return {
            "network": self.network,
            "account": self.account,
            "remote_id": self.remote_id,
            "text": self.text,
            "idempotency_key": self.idempotency_key,
            "received_at": self.received_at,
            "reply_to": self.reply_to,
            "body": self.body,
            # What was attached, as the network stored it (id, sha256, size, content_type, alt).
            "media": self.meta.get("media", []),
        }


@dataclass(frozen=True)
class MediaItem:
    """One uploaded image or video, kept by its network until a post attaches it."""

    id: str
    network: str
    account: str
    sha256: str
    size: int
    content_type: str
    alt: str | None
    received_at: str

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sha256": self.sha256,
            "size": self.size,
            "content_type": self.content_type,
            "alt": self.alt,
        }


@dataclass(frozen=True)
class IncomingItem:
    """One notification of something a person sent an account (`incoming.py` generates them): its
    own id, in the order the network notified it, and the item (status, post…) it is about. Two
    notifications of the same item are how the network repeats itself (a federation redelivery)."""

    notification_id: str
    network: str
    account: str
    item_id: str
    author: str
    text: str
    reply_to: str | None
    created_at: str
    private: bool = False  # seen by the account alone (a Mastodon `direct` status: a private message)

    def public(self) -> dict[str, Any]:
        return {
            "notification_id": self.notification_id,
            "item_id": self.item_id,
            "author": self.author,
            "text": self.text,
            "reply_to": self.reply_to,
            "created_at": self.created_at,
            "private": self.private,
        }


_POST_COLUMNS = (
    "network",
    "account",
    "remote_id",
    "text",
    "body",
    "idempotency_key",
    "received_at",
    "reply_to",
    "meta",
)
_INSERT_POST = (
    f"insert into {_TABLE} ({', '.join(_POST_COLUMNS)}) values ({', '.join('?' for _ in _POST_COLUMNS)})"
)


def _migrations() -> Migrations:
    migrations = Migrations("relais-sandbox")

    @migrations(name="001_posts")
    def create_posts(db: sqlite_utils.Database) -> None:
        table = db.table(_TABLE)
        table.create(
            {
                "id": int,
                "network": str,
                "account": str,
                "remote_id": str,
                "text": str,
                "body": str,
                "idempotency_key": str,
                "received_at": str,
                "reply_to": str,
                "meta": str,
            },
            pk="id",
            not_null={"network", "account", "remote_id", "text", "body", "received_at"},
        )
        table.create_index(["network", "remote_id"], unique=True)
        table.create_index(["network", "account", "idempotency_key"])
        table.create_index(["network", "account", "text"])

    @migrations(name="002_media")
    def create_media(db: sqlite_utils.Database) -> None:
        db.table(_MEDIA).create(
            {
                "network": str,
                "id": str,
                "account": str,
                "sha256": str,
                "size": int,
                "content_type": str,
                "alt": str,
                "received_at": str,
            },
            pk=("network", "id"),
            not_null={"account", "sha256", "size", "content_type", "received_at"},
        )

    @migrations(name="003_incoming")
    def create_incoming(db: sqlite_utils.Database) -> None:
        table = db.table(_INCOMING)
        table.create(
            {
                "seq": int,
                "network": str,
                "account": str,
                "notification_id": str,
                "item_id": str,
                "author": str,
                "text": str,
                "reply_to": str,
                "created_at": str,
            },
            pk="seq",
            not_null={"network", "account", "notification_id", "item_id", "author", "text", "created_at"},
        )
        table.create_index(["network", "account", "seq"])
        table.create_index(["network", "item_id"])

    @migrations(name="004_incoming_private")
    def add_incoming_private(db: sqlite_utils.Database) -> None:
        db.table(_INCOMING).add_column("private", int, not_null_default=0)

    return migrations


def _row_to_post(row: dict[str, Any]) -> Post:
    return Post(
        id=int(row["id"]),
        network=row["network"],
        account=row["account"],
        remote_id=row["remote_id"],
        text=row["text"],
        body=json.loads(row["body"]),
        idempotency_key=row["idempotency_key"],
        received_at=row["received_at"],
        reply_to=row["reply_to"],
        meta=json.loads(row["meta"]) if row["meta"] else {},
    )


def _row_to_incoming(row: dict[str, Any]) -> IncomingItem:
    fields = {name: value for name, value in row.items() if name != "seq"}
    return IncomingItem(**{**fields, "private": bool(row["private"])})


class Store:
    """Small query functions over the posts table. Synchronous: writes are tiny and rare."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite_utils.Database(path)
        # WAL lets the demo's readers (the HTML view, tests) look while an emulator writes.
        self._db.enable_wal()
        # An emulator plays a network, whose storage does not make its clients wait on this
        # machine's disk: with the default (FULL), every accepted post was an fsync on the event
        # loop, which serialised the emulators behind the disk that NATS and the ledgers also
        # flush to. NORMAL keeps every post through a killed process (WAL), not a power cut.
        self._db.execute("pragma synchronous = normal")
        _migrations().apply(self._db)

    def close(self) -> None:
        self._db.close()

    def answers(self) -> bool:
        """Whether the database file can be read (the readiness check)."""
        try:
            self._db.execute("select 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def add(
        self,
        *,
        network: str,
        account: str,
        remote_id: str,
        text: str,
        body: dict[str, Any],
        idempotency_key: str | None = None,
        reply_to: str | None = None,
        meta: dict[str, Any] | None = None,
        received_at: datetime | None = None,
    ) -> Post:
        row = {
            "network": network,
            "account": account,
            "remote_id": remote_id,
            "text": text,
            "body": json.dumps(body, ensure_ascii=False),
            "idempotency_key": idempotency_key,
            "received_at": format_instant(received_at or datetime.now(UTC)),
            "reply_to": reply_to,
            "meta": json.dumps(meta or {}, ensure_ascii=False),
        }
        # Plain SQL on the posting path: sqlite-utils' insert looks the table up again on every
        # call, which was about a sixth of an emulator's time per post in the fan-out benchmark.
        with self._db.conn:
            cursor = self._db.conn.execute(_INSERT_POST, [row[name] for name in _POST_COLUMNS])
        return _row_to_post({**row, "id": cursor.lastrowid})

    def posts(self, *, network: str | None = None, account: str | None = None, limit: int = 0) -> list[Post]:
        clauses, params = [], []
        for column, value in (("network", network), ("account", account)):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = " and ".join(clauses) or "1"
        return self._select(where, params, "id", limit)

    def _first(self, where: str, params: list[str], *, newest: bool = False) -> Post | None:
        return next(iter(self._select(where, params, "id desc" if newest else "id", 1)), None)

    def _select(self, where: str, params: list[str], order: str, limit: int) -> list[Post]:
        """The posts matching `where`, in `order`; `limit` 0 is all of them."""
        sql = f"select * from {_TABLE} where {where} order by {order}" + (
            f" limit {int(limit)}" if limit else ""
        )
        cursor = self._db.conn.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [_row_to_post(dict(zip(names, values, strict=True))) for values in cursor.fetchall()]

    def by_remote_id(self, network: str, remote_id: str) -> Post | None:
        return self._first("network = ? and remote_id = ?", [network, remote_id])

    def set_engagement(self, network: str, remote_id: str, figures: dict[str, int]) -> bool:
        """What people did with a post (likes, shares, replies, views), kept in its `meta` for the
        emulators' read APIs; the figures not given keep their value. False: no such post."""
        post = self.by_remote_id(network, remote_id)
        if post is None:
            return False
        meta = {**post.meta, "engagement": {**post.meta.get("engagement", {}), **figures}}
        self._db.table(_TABLE).update(post.id, {"meta": json.dumps(meta, ensure_ascii=False)})
        return True

    def with_text(self, network: str, account: str, text: str) -> Post | None:
        return self._first("network = ? and account = ? and text = ?", [network, account, text])

    def latest(self, network: str, account: str) -> Post | None:
        return self._first("network = ? and account = ?", [network, account], newest=True)

    def by_idempotency_key(self, network: str, account: str, key: str, *, since: datetime) -> Post | None:
        return self._first(
            "network = ? and account = ? and idempotency_key = ? and received_at >= ?",
            [network, account, key, format_instant(since)],
        )

    def add_media(
        self,
        *,
        network: str,
        account: str,
        media_id: str,
        data: bytes,
        content_type: str,
        alt: str | None = None,
    ) -> MediaItem:
        """Keep an upload's fingerprint (not its bytes): tests check what reached the network."""
        item = MediaItem(
            id=media_id,
            network=network,
            account=account,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            content_type=content_type,
            alt=alt,
            received_at=format_instant(datetime.now(UTC)),
        )
        self._db.table(_MEDIA).insert(
            {
                "network": network,
                "id": media_id,
                "account": account,
                "sha256": item.sha256,
                "size": item.size,
                "content_type": content_type,
                "alt": alt,
                "received_at": item.received_at,
            },
            replace=True,
        )
        return item

    def media_item(self, network: str, media_id: str) -> MediaItem | None:
        for row in self._db.table(_MEDIA).rows_where("network = ? and id = ?", [network, media_id], limit=1):
            return MediaItem(**row)
        return None

    def set_media_alt(self, network: str, media_id: str, alt: str) -> None:
        self._db.table(_MEDIA).update((network, media_id), {"alt": alt})

    def attachable(self, network: str, account: str, media_ids: list[str]) -> list[MediaItem] | None:
        """The uploads `media_ids` names, in order; None when one is unknown or another account's."""
        items = [self.media_item(network, media_id) for media_id in media_ids]
        if any(item is None or item.account != account for item in items):
            return None
        return [item for item in items if item is not None]

    def add_incoming(self, items: list[IncomingItem]) -> None:
        fields = ("network", "account", "notification_id", "item_id", "author", "text", "reply_to", "private")
        self._db.table(_INCOMING).insert_all(
            {**{name: getattr(item, name) for name in fields}, "created_at": item.created_at}
            for item in items
        )

    def incoming(self, network: str, account: str) -> list[IncomingItem]:
        """The account's notifications, in the order they were made."""
        rows = self._db.table(_INCOMING).rows_where(
            "network = ? and account = ?", [network, account], order_by="seq"
        )
        return [_row_to_incoming(row) for row in rows]

    def incoming_item(self, network: str, item_id: str) -> IncomingItem | None:
        """The first notification of an item (what it says does not change)."""
        rows = self._db.table(_INCOMING).rows_where(
            "network = ? and item_id = ?", [network, item_id], order_by="seq", limit=1
        )
        for row in rows:
            return _row_to_incoming(row)
        return None

    def purge_incoming(self, network: str, account: str, notification_ids: list[str]) -> int:
        """Delete these notifications of the account (as a person dismissing them would)."""
        marks = ", ".join("?" for _ in notification_ids)
        with self._db.conn:
            cursor = self._db.execute(
                f"delete from {_INCOMING} where network = ? and account = ? and notification_id in ({marks})",
                [network, account, *notification_ids],
            )
        return cursor.rowcount

    def clear(self) -> int:
        table = self._db.table(_TABLE)
        count = table.count
        table.delete_where()
        self._db.table(_MEDIA).delete_where()
        self._db.table(_INCOMING).delete_where()
        return count


STORE = web.AppKey("sandbox_store", Store)
