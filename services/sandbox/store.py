"""What the fake accounts received, in one SQLite file (sqlite-utils, WAL, migrations).

Every emulator writes the posts it accepted here; the inspection API and the HTML view read them
back. The emulators also answer their own questions from it (X's duplicate rule, Mastodon's
idempotency window, Bluesky's existing record keys, read-back endpoints), so a restarted sandbox
still behaves like the network it plays.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from aiohttp import web
from sqlite_utils.migrations import Migrations

__all__ = ["STORE", "Post", "Store", "format_instant"]

_TABLE = "posts"


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
        }


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


class Store:
    """Small query functions over the posts table. Synchronous: writes are tiny and rare."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite_utils.Database(path)
        # WAL lets the demo's readers (the HTML view, tests) look while an emulator writes.
        self._db.enable_wal()
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
        table = self._db.table(_TABLE)
        table.insert(row)
        return _row_to_post({**row, "id": table.last_pk})

    def posts(self, *, network: str | None = None, account: str | None = None, limit: int = 0) -> list[Post]:
        clauses, params = [], []
        for column, value in (("network", network), ("account", account)):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = " and ".join(clauses) or None
        rows = self._db.table(_TABLE).rows_where(where, params, order_by="id", limit=limit or None)
        return [_row_to_post(row) for row in rows]

    def _first(self, where: str, params: list[str], *, newest: bool = False) -> Post | None:
        order = "id desc" if newest else "id"
        for row in self._db.table(_TABLE).rows_where(where, params, order_by=order, limit=1):
            return _row_to_post(row)
        return None

    def by_remote_id(self, network: str, remote_id: str) -> Post | None:
        return self._first("network = ? and remote_id = ?", [network, remote_id])

    def with_text(self, network: str, account: str, text: str) -> Post | None:
        return self._first("network = ? and account = ? and text = ?", [network, account, text])

    def latest(self, network: str, account: str) -> Post | None:
        return self._first("network = ? and account = ?", [network, account], newest=True)

    def by_idempotency_key(self, network: str, account: str, key: str, *, since: datetime) -> Post | None:
        return self._first(
            "network = ? and account = ? and idempotency_key = ? and received_at >= ?",
            [network, account, key, format_instant(since)],
        )

    def clear(self) -> int:
        table = self._db.table(_TABLE)
        count = table.count
        table.delete_where()
        return count


STORE = web.AppKey("sandbox_store", Store)
