"""The hub's audit trail on disk (sqlite-utils): one row per bus event, in the order it happened."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from services.hub.chain import GENESIS, entry_hash
from services.hub.policy import Policy
from shared.ids import utc_now
from shared.sqlite_writes import write_transaction
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
    # The hub and `relais` commands run beside it (tokens, users) write this file: a command waits
    # for the hub's commit rather than fail "database is locked" when fsyncs are slow (a loaded
    # disk took longer than sqlite3's default 5 s in a compose test). The hub's own writes only
    # ever wait for such a command's single short transaction.
    db.execute("PRAGMA busy_timeout = 30000")
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
    with write_transaction(db):
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
    with write_transaction(db):
        db.execute(
            "insert into schedule (post_id, agency, due_at, approval) values (?, ?, ?, ?)",
            [post_id, agency, due_at, approval.decode()],
        )


def due_approvals(db: sqlite_utils.Database, now: str) -> list[tuple[int, str, bytes]]:
    rows = db.execute("select id, due_at, approval from schedule where due_at <= ? order by due_at", [now])
    return [(r[0], r[1], r[2].encode()) for r in rows]


def scheduled_posts(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    return [
        dict(r) for r in db.table("schedule").rows_where(select="post_id, agency, due_at", order_by="due_at")
    ]


def saw_agency(db: sqlite_utils.Database, agency: str, at: str, outbox_pending: int | None = None) -> None:
    with write_transaction(db):
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
    with write_transaction(db):
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
    with write_transaction(db):
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
    with write_transaction(db):
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
    with write_transaction(db):
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
    # The states of an existing audit's posts are not folded here: a migration runs the code of its
    # day, never the fold of a later one. m007's fold mark leaves them to the hub's start.


@migrations()
def m007_fold_mark(db: sqlite_utils.Database) -> None:
    # The last audit entry whose post the dashboard's states include: the hub's start folds the posts
    # of the entries after it (`PostChanges.catch_up`). None yet: m006 folds nothing.
    db.table("fold_mark").insert({"id": 1, "audit_id": 0}, pk="id")


@migrations()
def m008_queue_text(db: sqlite_utils.Database) -> None:
    db.table("queue").add_column("text", str)


@migrations()
def m009_decisions(db: sqlite_utils.Database) -> None:
    """A post's one decision (its primary key is the compare-and-set: a second decision cannot be
    inserted), and the outbox of bus messages committed with what they announce."""
    db.table("decisions").create(
        {
            "post_id": str,
            "agency": str,
            "decision": str,  # approved, edited_and_approved, rejected
            "decided_by": str,
            "decided_at": str,
            "reason": str,
            "revision": int,
            "released_at": str,  # edited_and_approved: when the edited rendering's approval left
        },
        pk="post_id",
        not_null={"agency", "decision", "decided_by", "decided_at"},
    )
    db.table("outbox").create(
        {
            "id": int,
            "post_id": str,
            "agency": str,
            "subject": str,
            "msg_id": str,
            "data": str,
            "expected_last_sequence": int,  # null: Nats-Msg-Id only
        },
        pk="id",
        not_null={"subject", "msg_id", "data"},
    )
    # Posts decided before this table existed keep their first decision.
    db.execute(
        "insert or ignore into decisions (post_id, agency, decision, decided_by, decided_at, reason,"
        " revision, released_at) select a.post_id, a.agency,"
        " case a.event when 'edited' then 'edited_and_approved' when 'rejected' then 'rejected'"
        " else 'approved' end, coalesce(a.actor, ''), a.occurred_at, json_extract(a.detail, '$.reason'),"
        " coalesce(json_extract(a.detail, '$.revision'), 0),"
        " case a.event when 'edited' then (select min(b.occurred_at) from audit b"
        " where b.post_id = a.post_id and b.event in ('approved', 'scheduled', 'expired')) end"
        " from audit a where a.id in (select min(id) from audit where post_id != ''"
        " and event in ('approved', 'scheduled', 'rejected', 'edited') group by post_id)"
    )


@migrations()
def m010_delivery_throttled_until(db: sqlite_utils.Database) -> None:
    # A delivery waiting on a network's rate limit shows when it resets. (An older m006, which folded
    # the audit itself, may have added the column already.)
    table = db.table("delivery_states")
    if "throttled_until" not in table.columns_dict:
        table.add_column("throttled_until", str)


@migrations()
def m011_advisor_accounts(db: sqlite_utils.Database) -> None:
    """Advisors' accounts live here too (replicated to their agency's node): an agency, a disabled
    flag, and a version each change bumps, so a node keeps the newest it has seen."""
    users = db.table("users")
    users.add_column("agency", str)
    users.add_column("disabled", int, not_null_default=0)
    users.add_column("version", int, not_null_default=1)


@migrations()
def m012_post_texts(db: sqlite_utils.Database) -> None:
    # What each post says, for the dashboard's latest posts (the audit keeps ids and decisions only).
    db.table("post_texts").create({"post_id": str, "text": str}, pk="post_id")


def keep_text(db: sqlite_utils.Database, post_id: str, text: str) -> None:
    """The post's text as the advisor wrote it, or as a moderator edited it (the last one wins)."""
    db.execute("insert or replace into post_texts (post_id, text) values (?, ?)", [post_id, text])


def post_texts(db: sqlite_utils.Database, post_ids: list[str]) -> dict[str, str]:
    if not post_ids:
        return {}
    marks = ", ".join("?" for _ in post_ids)
    rows = db.execute(f"select post_id, text from post_texts where post_id in ({marks})", post_ids)
    return dict(rows.fetchall())


@dataclass(frozen=True)
class Decision:
    """What was decided about a post, by whom and when: the one answer every view gives."""

    post_id: str
    agency: str
    decision: str  # approved, edited_and_approved, rejected
    by: str
    at: str
    reason: str | None = None
    revision: int = 0

    def public(self) -> dict[str, Any]:
        return {
            "post_id": self.post_id,
            "decision": self.decision,
            "by": self.by,
            "at": self.at,
            "reason": self.reason,
            "revision": self.revision,
        }


@dataclass(frozen=True)
class Outgoing:
    """A bus message committed to the outbox with the state change it announces.

    `expected_last_sequence` (the subject's last stream sequence when it was made, 0 for a first
    message) makes a second publish of it a no-op however late it comes, beyond the stream's
    two-minute de-duplication window."""

    subject: str
    msg_id: str
    data: bytes
    expected_last_sequence: int | None = None


@dataclass(frozen=True)
class Hold:
    """An approval kept until `due_at` (what `hold` stores), committed with the decision."""

    due_at: str
    approval: bytes


def decision_of(db: sqlite_utils.Database, post_id: str) -> Decision | None:
    row = db.execute(
        "select post_id, agency, decision, decided_by, decided_at, reason, coalesce(revision, 0)"
        " from decisions where post_id = ?",
        [post_id],
    ).fetchone()
    return Decision(*row) if row else None


def queued_agency(db: sqlite_utils.Database, post_id: str) -> str | None:
    row = db.execute("select agency from queue where post_id = ?", [post_id]).fetchone()
    return str(row[0]) if row else None


def commit_decision(
    db: sqlite_utils.Database,
    decision: Decision,
    outgoing: list[Outgoing],
    holds: Sequence[Hold] = (),
    *,
    from_queue: bool,
) -> bool:
    """The compare-and-set: record the post's one decision, take it out of the queue (a moderator's
    decision needs it to be there, the policy's needs it not to be), hold its scheduled approvals
    and put its messages in the outbox, all in one transaction. False, with nothing changed, when
    another decision came first."""
    try:
        with write_transaction(db):
            taken = db.execute("delete from queue where post_id = ?", [decision.post_id]).rowcount
            if taken != (1 if from_queue else 0):  # the policy never decides what waits for a person
                raise _Lost
            inserted = db.execute(
                "insert or ignore into decisions (post_id, agency, decision, decided_by, decided_at,"
                " reason, revision) values (?, ?, ?, ?, ?, ?, ?)",
                [
                    decision.post_id,
                    decision.agency,
                    decision.decision,
                    decision.by,
                    decision.at,
                    decision.reason,
                    decision.revision,
                ],
            ).rowcount
            if inserted != 1:
                raise _Lost  # rolled back: the queue row is back, nothing of this attempt remains
            _hold_and_send(db, decision.post_id, decision.agency, outgoing, holds)
    except _Lost:
        return False
    return True


class _Lost(Exception):
    """Another decision came first: the transaction is rolled back."""


def release_edit(
    db: sqlite_utils.Database,
    post_id: str,
    revision: int,
    outgoing: list[Outgoing],
    holds: Sequence[Hold] = (),
) -> bool:
    """The approval of a moderator's edited text, once rendered: sent once, and only for the
    revision her recorded decision made. False when there is no such decision or it was sent."""
    with write_transaction(db):
        released = db.execute(
            "update decisions set released_at = ? where post_id = ? and decision = 'edited_and_approved'"
            " and revision = ? and released_at is null returning agency",
            [utc_now(), post_id, revision],
        ).fetchall()
        if not released:
            return False
        _hold_and_send(db, post_id, released[0][0], outgoing, holds)
    return True


def enqueue_undecided(
    db: sqlite_utils.Database,
    post_id: str,
    agency: str,
    author: str,
    rendered: bytes,
    text: str | None,
    pages: list[str],
    notice: Outgoing,
) -> bool:
    """Queue a post for a moderator, with its `queued` audit entry and `notice` (the PostQueued
    telling its agency) in the outbox, unless it is already queued or decided (a redelivered
    rendering changes nothing)."""
    with write_transaction(db):
        added = db.execute(
            "insert or ignore into queue (post_id, agency, author, rendered, queued_at, text)"
            " select ?, ?, ?, ?, ?, ? where not exists (select 1 from decisions where post_id = ?)",
            [post_id, agency, author, rendered.decode(), utc_now(), text, post_id],
        ).rowcount
        if added == 1:
            add_to_outbox(db, post_id, agency, notice)
            append_uncommitted(
                db,
                source=queued_source(post_id),
                occurred_at=utc_now(),
                post_id=post_id,
                agency=agency,
                event="queued",
                actor="policy",
                detail={"pages": pages},
            )
    return added == 1


def queued_source(post_id: str) -> str:
    """The audit source of a post's `queued` entry: written with the queue row, so the PostQueued
    the audit consumer reads back later (same source) is not recorded a second time."""
    return f"hub:queued:{post_id}"


def queued_or_decided(db: sqlite_utils.Database, post_id: str) -> bool:
    return bool(
        db.execute(
            "select 1 from queue where post_id = ? union all select 1 from decisions where post_id = ?",
            [post_id, post_id],
        ).fetchone()
    )


def claim_release(
    db: sqlite_utils.Database, row_id: int, post_id: str, agency: str, message: Outgoing
) -> bool:
    """Take a due approval off the schedule and put its message in the outbox, together: a second
    pass over the same row (or a restart between the two) sends nothing twice."""
    with write_transaction(db):
        if db.execute("delete from schedule where id = ?", [row_id]).rowcount != 1:
            return False
        add_to_outbox(db, post_id, agency, message)
    return True


def _hold_and_send(
    db: sqlite_utils.Database, post_id: str, agency: str, outgoing: list[Outgoing], holds: Sequence[Hold]
) -> None:
    for held in holds:
        db.execute(
            "insert into schedule (post_id, agency, due_at, approval) values (?, ?, ?, ?)",
            [post_id, agency, held.due_at, held.approval.decode()],
        )
    for message in outgoing:
        add_to_outbox(db, post_id, agency, message)


def add_to_outbox(db: sqlite_utils.Database, post_id: str, agency: str, message: Outgoing) -> None:
    """Put one message in the outbox, inside the caller's transaction."""
    db.execute(
        "insert into outbox (post_id, agency, subject, msg_id, data, expected_last_sequence)"
        " values (?, ?, ?, ?, ?, ?)",
        [
            post_id,
            agency,
            message.subject,
            message.msg_id,
            message.data.decode(),
            message.expected_last_sequence,
        ],
    )


def outbox_pending(db: sqlite_utils.Database, limit: int = 256) -> list[tuple[int, str, str, Outgoing]]:
    """(row id, post id, agency, message) of what was committed but not yet acknowledged by the bus
    (a row leaves the outbox once acknowledged)."""
    rows = db.execute(
        "select id, post_id, agency, subject, msg_id, data, expected_last_sequence from outbox"
        " order by id limit ?",
        [limit],
    ).fetchall()
    return [(r[0], r[1], r[2], Outgoing(r[3], r[4], r[5].encode(), r[6])) for r in rows]


def outbox_sent(db: sqlite_utils.Database, row_id: int) -> None:
    with write_transaction(db):
        db.execute("delete from outbox where id = ?", [row_id])


@migrations()
def m013_inbox(db: sqlite_utils.Database) -> None:
    """The inbox (issue #15): each item once, by the network's id; each conversation's owner, status
    and SLA clock; each escalation of a clock, once per level (services/hub/inbox_store.py)."""
    db.table("inbox_items").create(
        {
            "network": str,
            "item_id": str,
            "conversation": str,
            "agency": str,
            "page": str,
            "post_id": str,
            "kind": str,
            "parent_id": str,
            "text": str,  # masked
            "masked": str,  # JSON list of the kinds masked
            "created_at": str,  # UTC, as the network dated it
            "received_at": str,
            "via": str,
        },
        pk=("network", "item_id"),
        not_null={"conversation", "agency", "page", "text", "created_at"},
    )
    db.table("inbox_items").create_index(["conversation", "created_at"])
    db.table("inbox_conversations").create(
        {
            "conversation": str,
            "agency": str,
            "page": str,
            "network": str,
            "post_id": str,
            "calendar": str,
            "status": str,  # new, pending
            "assignee": str,  # "" while in the agency's shared queue
            "assigned_by": str,
            "assigned_at": str,
            "first_item_at": str,
            "clock": int,  # how many clocks this conversation had: a response ends one
            "clock_started_at": str,  # UTC; null while nothing waits for a response
            "deadline": str,  # UTC, of the running clock
            "answered_at": str,
            "escalation_level": str,  # the last level reached by the running clock, "" for none
            "updated_at": str,
        },
        pk="conversation",
        not_null={"agency", "page", "network", "calendar", "status", "first_item_at"},
        defaults={"status": "new", "assignee": "", "clock": 1, "escalation_level": ""},
    )
    db.table("inbox_conversations").create_index(["agency"])
    db.table("inbox_escalations").create(
        {
            "conversation": str,
            "clock": int,
            "level": str,
            "due_at": str,  # UTC: when the clock passes the level's fraction of the target
            "escalated_at": str,  # null until escalated
        },
        pk=("conversation", "clock", "level"),
    )
    db.table("inbox_escalations").create_index(["escalated_at", "due_at"])


@migrations()
def m014_inbox_replies(db: sqlite_utils.Database) -> None:
    """Replies to the inbox (issue #15 item 4), remembered when the hub first decides them, so that
    their delivery's `published` resolves their conversation, once (services/hub/inbox_store.py)."""
    db.table("inbox_replies").create(
        {
            "post_id": str,
            "agency": str,
            "author": str,
            "conversation": str,
            "network": str,
            "page": str,
            "item_id": str,
            "recorded_at": str,
            "answered_at": str,  # null until its delivery is published
        },
        pk="post_id",
        not_null={"agency", "author", "conversation", "network", "page", "item_id", "recorded_at"},
    )


@migrations()
def m015_saved_replies(db: sqlite_utils.Database) -> None:
    """The hub team's saved replies (services/hub/saved_replies.py), replicated to every node."""
    db.table("saved_replies").create(
        {
            "id": str,
            "language": str,
            "title": str,
            "body": str,
            "version": int,
            "updated_by": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"language", "title", "body", "version", "updated_by", "updated_at"},
    )


@migrations()
def m016_inbox_questions(db: sqlite_utils.Database) -> None:
    """The inbox's questions (issue #15 item 6): one row per clock of a conversation, kept when the
    conversation moves on to its next clock, so that the figures can be computed for any period
    (services/hub/inbox_store.py writes it with the clock; services/hub/inbox_report.py reads it).

    The backfill knows only each conversation's current clock (m013 kept no earlier one): a running
    clock as it stands; an answered one from its conversation's first item after the previous reply
    (the first item for a first clock). The region was not stored before: "" (unknown)."""
    db.table("inbox_questions").create(
        {
            "conversation": str,
            "clock": int,
            "agency": str,
            "region": str,  # the agency's, as the page registry placed it when the clock started
            "page": str,
            "network": str,
            "calendar": str,
            "received_at": str,  # UTC: the clock's start
            "deadline": str,  # UTC; null where the backfill could not know it
            "answered_at": str,  # UTC; null while unanswered
        },
        pk=("conversation", "clock"),
        not_null={"agency", "region", "page", "network", "calendar", "received_at"},
    )
    db.table("inbox_questions").create_index(["received_at"])
    for row in db.execute_returning_dicts("select * from inbox_conversations"):
        received, deadline = row["clock_started_at"], row["deadline"]
        if received is None:  # answered: the clock's start is its first item after the previous reply
            previous = db.execute(
                "select max(answered_at) from inbox_replies where conversation = ? and answered_at < ?",
                [row["conversation"], row["answered_at"]],
            ).fetchone()[0]
            received = (
                db.execute(
                    "select min(created_at) from inbox_items where conversation = ? and created_at > ?",
                    [row["conversation"], previous or ""],
                ).fetchone()[0]
                or row["first_item_at"]
            )
        db.execute(
            "insert into inbox_questions (conversation, clock, agency, region, page, network, calendar,"
            " received_at, deadline, answered_at) values (?, ?, ?, '', ?, ?, ?, ?, ?, ?)",
            [
                row["conversation"],
                row["clock"],
                row["agency"],
                row["page"],
                row["network"],
                row["calendar"],
                received,
                deadline,
                row["answered_at"] if row["clock_started_at"] is None else None,
            ],
        )


@migrations()
def m017_delivery_engagement(db: sqlite_utils.Database) -> None:
    """Each published delivery's figures at each age (`EngagementMeasured`, issue #15 item 6): one row
    per (post, page, age), a figure the network does not give is null (never 0)."""
    db.table("delivery_engagement").create(
        {
            "post_id": str,
            "page": str,
            "age": str,
            "agency": str,
            "network": str,
            "remote_id": str,
            "measured_at": str,
            "likes": int,
            "shares": int,
            "replies": int,
            "views": int,
        },
        pk=("post_id", "page", "age"),
        not_null={"agency", "network", "remote_id", "measured_at"},
    )
    db.table("delivery_engagement").create_index(["agency", "measured_at"])


@migrations()
def m018_inbox_hidden(db: sqlite_utils.Database) -> None:
    """Hiding an item from the public (issue #15 item 5, services/hub/inbox_store.py): null until
    someone asks; `requested` once the hub ordered it; then `hidden` or `failed`, as the dispatcher
    says, with the network's reason (JSON `ErrorReport`) when it failed."""
    items = db.table("inbox_items")
    items.add_column("hidden", str)
    items.add_column("hide_by", str)
    items.add_column("hide_error", str)
    items.add_column("hide_updated_at", str)


@migrations()
def m019_advocacy(db: sqlite_utils.Database) -> None:
    """Topics and stories for advocates (issue #16 item 1, services/hub/advocacy.py)."""
    db.table("advocacy_topics").create(
        {
            "id": str,
            "titles": str,  # JSON: language -> title
            "required": int,
            "regions": str,  # JSON list; with `agencies` empty: for everyone
            "agencies": str,  # JSON list
            "version": int,
            "updated_by": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"titles", "required", "regions", "agencies", "version", "updated_by", "updated_at"},
    )
    db.table("advocacy_stories").create(
        {
            "id": str,
            "topic": str,
            "link": str,
            "texts": str,  # JSON: language -> suggested text
            "hashtag": str,
            "media": str,  # JSON list of {media_id, alt}
            "expires_at": str,
            "status": str,  # pending, approved, rejected
            "author": str,
            "written_at": str,
            "decided_by": str,
            "decided_at": str,
            "reason": str,
        },
        pk="id",
        not_null={"topic", "link", "texts", "media", "expires_at", "status", "author", "written_at"},
    )
    db.table("advocacy_stories").create_index(["topic", "status"])


@migrations()
def m020_advocacy_shares(db: sqlite_utils.Database) -> None:
    """One row per share of a story (issue #16 items 3 and 6): written when the share reaches the hub
    (`PostReceived.share`), checked there (the story, the near-duplicate rule on X), and counted by
    the figures. Its deliveries are the post's rows of `delivery_states` (one per personal page, whose
    id names the network: `shared.advocacy.accounts.personal_page`), their figures `delivery_engagement`.
    The advocate is her pseudonym; nothing here names a person."""
    db.table("advocacy_shares").create(
        {
            "post_id": str,
            "story": str,
            "topic": str,
            "advocate": str,
            "agency": str,
            "region": str,  # the agency's region when the share arrived ("" if the registry had none)
            "networks": str,  # JSON list of the networks shared to
            "text": str,  # as the advocate wrote it (before UTM tagging)
            "status": str,  # received, invalid, approved, queued, rejected
            "reason": str,  # why invalid or rejected (the near-duplicate share's id and score on X)
            "received_at": str,  # ISO-8601 UTC
        },
        pk="post_id",
        not_null={
            "story",
            "topic",
            "advocate",
            "agency",
            "region",
            "networks",
            "text",
            "status",
            "received_at",
        },
    )
    db.table("advocacy_shares").create_index(["story", "status"])
    db.table("advocacy_shares").create_index(["agency", "received_at"])


@migrations()
def m021_advocates(db: sqlite_utils.Database) -> None:
    """Advocates at the hub (issue #16 items 2 and 5, services/hub/advocates.py): the link table, the
    one place at the hub that ties a pseudonym to a person (`relais advocates forget USER` erases its
    rows); the OAuth states of connections under way (one use, ten minutes); and the refresh tokens,
    encrypted at rest, that the hub alone holds for the dispatcher's `advocacy_refresh`."""
    db.table("advocates").create(
        {
            "advocate": str,
            "agency": str,  # from the enrolment's subject (NATS pins a node to its own agency)
            "user": str,  # the advisor's user name at her node: the person
            "consented_at": str,
            "consent_version": str,
            "consent_language": str,
            "consent_text": str,  # the wording shown, as the node recorded it
            "enrolled_at": str,
            "opted_out_at": str,  # None while she takes part
        },
        pk="advocate",
        not_null={"agency", "user", "consented_at", "consent_version", "consent_language", "enrolled_at"},
    )
    db.table("advocates").create_index(["user"])
    db.table("advocate_oauth_states").create(
        {
            "state": str,  # the capability the network's redirect carries back
            "advocate": str,
            "agency": str,
            "network": str,
            "instance": str,  # Mastodon: the advocate's instance
            "verifier": str,  # PKCE verifier, encrypted (SecretBox); "" where the network takes none
            "return_to": str,
            "expires_at": str,
            "used_at": str,
        },
        pk="state",
        not_null={"advocate", "agency", "network", "verifier", "return_to", "expires_at"},
    )
    db.table("advocate_oauth_states").create_index(["advocate"])
    db.table("advocate_refresh_tokens").create(
        {
            "advocate": str,
            "network": str,
            "agency": str,
            "instance": str,
            "refresh_token": str,  # encrypted (shared.secrets.SecretBox), never in clear
            "fields": str,  # JSON: the adapter's fields sealed with each new access token
            "updated_at": str,
        },
        pk=("advocate", "network"),
        not_null={"agency", "refresh_token", "fields", "updated_at"},
    )


@migrations()
def m022_request_keys(db: sqlite_utils.Database) -> None:
    """The `Idempotency-Key`s of the posts written at the hub, campaigns and replies
    (services/hub/request_keys.py), kept as long as a node keeps its own: the bus's de-duplication
    window is two minutes, and a campaign or a reply sent twice is not undone. `msg_id` hashes what
    the key is for, the author and the key; `fingerprint` the request; `post` is the post itself
    (encoded), kept until the bus has it (`published_at`) so that a resend after a lost answer
    publishes that post and no other."""
    db.table("request_keys").create(
        {
            "msg_id": str,
            "post_id": str,
            "fingerprint": str,
            "post": bytes,
            "created_at": str,
            "published_at": str,
        },
        pk="msg_id",
        not_null={"post_id", "fingerprint", "post", "created_at"},
    )
