"""The hub's audit trail on disk (sqlite-utils): one row per bus event, in the order it happened."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from services.hub.chain import GENESIS, entry_hash
from services.hub.policy import Policy
from shared.ids import utc_now
from shared.tokens import Claims

migrations = Migrations("relais.hub")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.table("audit").create(
        {
            "id": int,
            "source": str,  # "<stream>:<sequence>": the same bus message is recorded once
            "occurred_at": str,
            "recorded_at": str,
            "post_id": str,
            "agency": str,
            "event": str,
            "actor": str,
            "network": str,
            "page": str,
            "detail": str,
        },
        pk="id",
        not_null={"source", "occurred_at", "post_id", "agency", "event"},
    )
    db.table("audit").create_index(["source"], unique=True)
    db.table("audit").create_index(["post_id", "occurred_at"])


@migrations()
def m003_hash_chain(db: sqlite_utils.Database) -> None:
    db.table("audit").add_column("prev_hash", str)
    db.table("audit").add_column("hash", str)
    prev = GENESIS
    for row in db.execute_returning_dicts("select * from audit order by id"):
        digest = entry_hash(prev, row)
        db.execute("update audit set prev_hash = ?, hash = ? where id = ?", [prev, digest, row["id"]])
        prev = digest


def open_store(path: Path) -> sqlite_utils.Database:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    migrations.apply(db)
    return db


def append_event(
    db: sqlite_utils.Database,
    *,
    source: str,
    occurred_at: str,
    post_id: str,
    agency: str,
    event: str,
    actor: str | None,
    network: str | None = None,
    page: str | None = None,
    detail: dict[str, Any] | None = None,
) -> bool:
    """Append one event to the chain, durably; False when this bus message was already recorded."""
    with db.conn:
        return append_uncommitted(
            db,
            source=source,
            occurred_at=occurred_at,
            post_id=post_id,
            agency=agency,
            event=event,
            actor=actor,
            network=network,
            page=page,
            detail=detail,
        )


def append_uncommitted(
    db: sqlite_utils.Database,
    *,
    source: str,
    occurred_at: str,
    post_id: str,
    agency: str,
    event: str,
    actor: str | None,
    network: str | None = None,
    page: str | None = None,
    detail: dict[str, Any] | None = None,
) -> bool:
    """`append_event` inside the caller's transaction (a batch is made durable with one commit).

    The hub is the only writer, on one connection, one event at a time: the chain stays linear.
    """
    if db.execute("select 1 from audit where source = ?", [source]).fetchone():
        return False
    last = db.execute("select id, hash from audit order by id desc limit 1").fetchone()
    entry = {
        "id": (last[0] + 1) if last else 1,
        "source": source,
        "occurred_at": occurred_at,
        "recorded_at": utc_now(),
        "post_id": post_id,
        "agency": agency,
        "event": event,
        "actor": actor,
        "network": network,
        "page": page,
        "detail": json.dumps(detail or {}, ensure_ascii=False, sort_keys=True),
    }
    prev = last[1] if last else GENESIS
    db.execute(
        "insert into audit (id, source, occurred_at, recorded_at, post_id, agency, event, actor, network,"
        " page, detail, prev_hash, hash) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [*entry.values(), prev, entry_hash(prev, entry)],
    )
    return True


def events_for_post(db: sqlite_utils.Database, post_id: str) -> list[dict[str, Any]]:
    return [
        _public(r) for r in db.table("audit").rows_where("post_id = ?", [post_id], order_by="occurred_at, id")
    ]


def events_named(db: sqlite_utils.Database, event: str, limit: int = 500) -> list[dict[str, Any]]:
    rows = db.table("audit").rows_where("event = ?", [event], order_by="id desc", limit=limit)
    return [_public(r) for r in rows]


def latest_events(db: sqlite_utils.Database, limit: int = 100) -> list[dict[str, Any]]:
    return [_public(r) for r in db.table("audit").rows_where(order_by="id desc", limit=limit)]


def chain_entries(db: sqlite_utils.Database) -> Iterator[dict[str, Any]]:
    yield from db.execute_returning_dicts("select * from audit order by id")


def entries_since(db: sqlite_utils.Database, since: str | None) -> Iterator[dict[str, Any]]:
    query = "select * from audit" + (" where occurred_at >= ?" if since else "") + " order by id"
    for row in db.execute_returning_dicts(query, [since] if since else []):
        yield _public(row)


def _public(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row["detail"] = json.loads(row["detail"] or "{}")
    return row


@migrations()
def m002_schedule_and_agencies(db: sqlite_utils.Database) -> None:
    db.table("schedule").create(
        {"id": int, "post_id": str, "agency": str, "due_at": str, "approval": str}, pk="id"
    )
    db.table("schedule").create_index(["due_at"])
    db.table("agencies").create({"agency": str, "last_seen": str, "outbox_pending": int}, pk="agency")


def hold(db: sqlite_utils.Database, post_id: str, agency: str, due_at: str, approval: bytes) -> None:
    """Keep an approval until its time (the row survives hub restarts)."""
    with db.conn:
        db.execute(
            "insert into schedule (post_id, agency, due_at, approval) values (?, ?, ?, ?)",
            [post_id, agency, due_at, approval.decode()],
        )


def due_approvals(db: sqlite_utils.Database, now: str) -> list[tuple[int, str, bytes]]:
    rows = db.execute("select id, due_at, approval from schedule where due_at <= ? order by due_at", [now])
    return [(r[0], r[1], r[2].encode()) for r in rows]


def release(db: sqlite_utils.Database, row_id: int) -> None:
    with db.conn:
        db.execute("delete from schedule where id = ?", [row_id])


def scheduled_posts(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [
        dict(r) for r in db.table("schedule").rows_where(select="post_id, agency, due_at", order_by="due_at")
    ]


def saw_agency(db: sqlite_utils.Database, agency: str, at: str, outbox_pending: int | None = None) -> None:
    with db.conn:
        db.execute(
            "insert into agencies (agency, last_seen, outbox_pending) values (?, ?, coalesce(?, 0))"
            " on conflict(agency) do update set last_seen = max(last_seen, excluded.last_seen),"
            " outbox_pending = coalesce(?, outbox_pending)",
            [agency, at, outbox_pending, outbox_pending],
        )


def agencies(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [dict(r) for r in db.table("agencies").rows_where(order_by="agency")]


@migrations()
def m004_moderation(db: sqlite_utils.Database) -> None:
    db.table("policies").create({"scope": str, "mode": str, "trusted": str}, pk="scope")
    db.table("queue").create(
        {"post_id": str, "agency": str, "author": str, "rendered": str, "queued_at": str}, pk="post_id"
    )


def load_policies(db: sqlite_utils.Database) -> list[Policy]:
    return [
        Policy(r["scope"], r["mode"], tuple(json.loads(r["trusted"] or "[]")))
        for r in db.table("policies").rows_where(order_by="scope")
    ]


def save_policy(db: sqlite_utils.Database, policy: Policy) -> None:
    with db.conn:
        db.table("policies").upsert(
            {"scope": policy.scope, "mode": policy.mode, "trusted": json.dumps(list(policy.trusted))},
            pk="scope",
        )


def enqueue(
    db: sqlite_utils.Database,
    post_id: str,
    agency: str,
    author: str,
    rendered: bytes,
    text: str | None = None,
) -> None:
    """Queue a rendered post for a moderator; `text` is what the advisor wrote (what an edit starts from)."""
    with db.conn:
        db.execute(
            "insert or ignore into queue (post_id, agency, author, rendered, queued_at, text)"
            " values (?, ?, ?, ?, ?, ?)",
            [post_id, agency, author, rendered.decode(), utc_now(), text],
        )


def queued(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [dict(r) for r in db.table("queue").rows_where(order_by="queued_at")]


def take_from_queue(db: sqlite_utils.Database, post_id: str) -> bytes | None:
    row = db.execute("select rendered from queue where post_id = ?", [post_id]).fetchone()
    return row[0].encode() if row else None


def dequeue(db: sqlite_utils.Database, post_id: str) -> None:
    with db.conn:
        db.execute("delete from queue where post_id = ?", [post_id])


@migrations()
def m005_tokens(db: sqlite_utils.Database) -> None:
    # Only a token's hash is kept: the table proves what was issued without holding usable secrets.
    db.table("tokens").create(
        {
            "token_id": str,
            "sha256": str,
            "subject": str,
            "role": str,
            "agency": str,
            "region": str,
            "issued_at": str,
            "expires_at": str,
            "revoked_at": str,
        },
        pk="token_id",
    )


def record_token(db: sqlite_utils.Database, token: str, claims: Claims) -> None:
    with db.conn:
        db.table("tokens").insert(
            {
                "token_id": claims.token_id,
                "sha256": hashlib.sha256(token.encode()).hexdigest(),
                "subject": claims.subject,
                "role": claims.role,
                "agency": claims.agency,
                "region": claims.region,
                "issued_at": utc_now(),
                "expires_at": str(claims.expires_at),
            }
        )


def revoke_token(db: sqlite_utils.Database, token_id: str) -> bool:
    with db.conn:
        cursor = db.execute(
            "update tokens set revoked_at = ? where token_id = ? and revoked_at is null",
            [utc_now(), token_id],
        )
    return cursor.rowcount == 1


def revoked_tokens(db: sqlite_utils.Database) -> dict[str, str]:
    return {
        r[0]: r[1] for r in db.execute("select token_id, revoked_at from tokens where revoked_at is not null")
    }


def issued_tokens(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in db.table("tokens").rows_where(
            select="token_id, subject, role, agency, region, issued_at, expires_at, revoked_at",
            order_by="issued_at",
        )
    ]


@migrations()
def m006_dashboard(db: sqlite_utils.Database) -> None:
    """People who sign in to the dashboard, their sessions, and each post's current state (kept as
    events arrive, so the dashboard counts with SQL instead of replaying the whole audit)."""
    db.table("users").create(
        {"username": str, "password_hash": str, "role": str, "region": str, "created_at": str},
        pk="username",
        not_null={"password_hash", "role"},
    )
    # A session is stored under the SHA-256 of its cookie: a copy of the table opens no session.
    db.table("sessions").create(
        {"id_hash": str, "username": str, "csrf": str, "created_at": str, "expires_at": str}, pk="id_hash"
    )
    db.table("post_states").create(
        {"post_id": str, "agency": str, "status": str, "reason": str, "updated_at": str}, pk="post_id"
    )
    db.table("post_states").create_index(["updated_at"])
    db.table("delivery_states").create(
        {"post_id": str, "page": str, "network": str, "agency": str, "status": str, "updated_at": str},
        pk=("post_id", "page"),
    )
    db.table("audit").create_index(["event", "occurred_at"])  # the deliveries-per-hour chart
    from services.hub.post_states import refresh_post_state  # it reads this module: import at use

    for (post_id,) in db.execute("select distinct post_id from audit where post_id != ''").fetchall():
        refresh_post_state(db, post_id)


@migrations()
def m007_fold_mark(db: sqlite_utils.Database) -> None:
    # The last audit entry whose post the dashboard's states include: a restart folds what follows.
    head = db.execute("select coalesce(max(id), 0) from audit").fetchone()[0]
    db.table("fold_mark").insert({"id": 1, "audit_id": head}, pk="id")


@migrations()
def m008_queue_text(db: sqlite_utils.Database) -> None:
    db.table("queue").add_column("text", str)


@migrations()
def m009_delivery_throttled_until(db: sqlite_utils.Database) -> None:
    # A delivery waiting on a network's rate limit shows when it resets. (m006's fold of an older
    # audit may have added the column already.)
    table = db.table("delivery_states")
    if "throttled_until" not in table.columns_dict:
        table.add_column("throttled_until", str)
