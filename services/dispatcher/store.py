"""The dispatcher's delivery ledger (sqlite-utils): one row per idempotency key.

The row says `publishing` *before* the network is called, so a process that dies mid-call leaves
a trace, and the next one knows the outcome is unknown instead of posting again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from shared.ids import utc_now

FINAL = ("published", "failed", "unconfirmed")


@dataclass(frozen=True)
class DeliveryRow:
    key: str
    status: str
    attempts: int
    remote_id: str | None
    url: str | None
    error: dict[str, Any] | None


migrations = Migrations("relais.dispatcher")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.table("deliveries").create(
        {
            "key": str,
            "post_id": str,
            "agency": str,
            "network": str,
            "page": str,
            "status": str,
            "attempts": int,
            "remote_id": str,
            "url": str,
            "part_ids": str,
            "error": str,
            "updated_at": str,
        },
        pk="key",
    )


def open_store(path: Path) -> sqlite_utils.Database:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    migrations.apply(db)
    return db


def get_delivery(db: sqlite_utils.Database, key: str) -> DeliveryRow | None:
    row = db.execute(
        "select key, status, attempts, remote_id, url, error from deliveries where key = ?", [key]
    ).fetchone()
    if row is None:
        return None
    return DeliveryRow(row[0], row[1], row[2] or 0, row[3], row[4], json.loads(row[5]) if row[5] else None)


def save_delivery(
    db: sqlite_utils.Database,
    key: str,
    *,
    post_id: str,
    agency: str,
    network: str,
    page: str,
    status: str,
    attempts: int,
    remote_id: str | None = None,
    url: str | None = None,
    part_ids: list[str] | None = None,
    error: dict[str, Any] | None = None,
) -> None:
    with db.conn:
        db.table("deliveries").upsert(
            {
                "key": key,
                "post_id": post_id,
                "agency": agency,
                "network": network,
                "page": page,
                "status": status,
                "attempts": attempts,
                "remote_id": remote_id,
                "url": url,
                "part_ids": json.dumps(part_ids or []),
                "error": json.dumps(error) if error else None,
                "updated_at": utc_now(),
            },
            pk="key",
        )
