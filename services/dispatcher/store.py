"""The dispatcher's delivery ledger (sqlite-utils): one row per idempotency key, and its outbox.

A row is written when an approval arrives (`pending`), says `publishing` *before* the network is
called, and records every outcome. A process killed mid-call leaves `publishing` behind: the next
one knows the outcome is unknown and reconciles instead of posting again. Every status change
that others must hear about is written, in the same transaction, to `outbox`, which a relay
publishes to the bus: a change is never announced without being recorded, nor recorded and lost.

Writes are few and grouped: a whole claim batch or a batch of results is one transaction (one
fsync), which is what lets one dispatcher keep up with a network's API.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import sqlite_utils
from sqlite_utils.migrations import Migrations

from shared.ids import utc_now

__all__ = [
    "Change",
    "DeliveryRow",
    "EngagementRead",
    "InboxRow",
    "KnownItem",
    "Ledger",
    "LedgerWriter",
    "PageState",
    "Published",
    "mark_restored",
    "open_store",
]

_COLUMNS = (
    "key, post_id, agency, network, page, status, attempts, failures, parts, link, remote_id, url,"
    " part_ids, error, due_at, sent_at, first_sent_at, maybe_sent, dead, version, media, facets,"
    " content_warning, throttled_since, throttled_until, approved_at, title, tags, reply_to"
)

# Statuses of deliveries the scheduler will pick up again at `due_at` (none of them has a call in
# flight: that is `publishing`, which a restart turns into `unconfirmed`).
_WAITING = "('pending', 'throttled', 'unconfirmed')"


@dataclass(frozen=True)
class DeliveryRow:
    key: str
    post_id: str
    agency: str
    network: str
    page: str
    status: str
    attempts: int  # network calls made (claims)
    failures: int  # failed attempts since the last success or manual retry
    parts: list[str]
    link: str | None
    remote_id: str | None
    url: str | None
    part_ids: list[str]
    error: dict[str, Any] | None
    due_at: float | None
    sent_at: float | None
    first_sent_at: float | None
    maybe_sent: bool  # a call may have reached the network without a known answer
    dead: bool  # gave up: waits for a person at the hub
    version: int
    media: list[dict[str, Any]] = field(default_factory=list)  # MediaRef fields, in the post's order
    facets: list[list[dict[str, Any]] | None] = field(default_factory=list)  # one entry per part
    content_warning: str | None = None
    # While `throttled`: since when the delivery has waited on a rate limit (across consecutive
    # waits), and the reset time last announced (a re-check that finds a later one says so only
    # once it has moved by `ANNOUNCE_STEP`). Unix times.
    throttled_since: float | None = None
    throttled_until: float | None = None
    approved_at: float | None = None  # Unix time of the approval (the delivery latency's start)
    title: str | None = None  # as the network is sent it (SlideShare, YouTube), from the variant
    tags: list[str] = field(default_factory=list)
    # What a reply answers (`shared.schemas.ReplyTo`'s fields): sent with the network's reply API
    # and reconciled among the item's answers; None for a post.
    reply_to: dict[str, str] | None = None


@dataclass(frozen=True)
class Change:
    """New values for one row, and the bus message that announces them (subject, msg id, data)."""

    key: str
    fields: dict[str, Any]
    announce: tuple[str, str, bytes] | None = None
    alerts: tuple[tuple[str, str, bytes], ...] = ()


@dataclass(frozen=True)
class Published:
    """A delivery the bus announced `published`: what a shard taking over its target must know."""

    key: str
    post_id: str
    agency: str
    network: str
    page: str
    remote_id: str | None
    url: str | None
    part_ids: list[str]
    # When its figures' ages count from (the network's date of it, else its announcement's), or None
    # if they are not read here: an answer to an item, or older than the bus keeps figures.
    reads_from: float | None = None
    already_read: frozenset[str] = frozenset()  # ages whose figures the bus already carries


@dataclass(frozen=True)
class PageState:
    page: str
    network: str
    status: str
    reason: str
    network_code: str | None
    since: str


@dataclass(frozen=True)
class InboxRow:
    """One item people sent a page, as the ledger keeps it (already masked: `inbox.py`), with the
    message that announces it (subject, msg id, data)."""

    network: str
    item_id: str
    page: str
    agency: str
    post_id: str
    conversation: str
    root_id: str
    parent_id: str | None
    kind: str
    author_name: str
    author_id: str
    text: str
    masked: list[str]
    created_at: str
    remote_post_id: str | None
    url: str | None
    announce: tuple[str, str, bytes]


@dataclass(frozen=True)
class KnownItem:
    """What a reply inherits from the stored item it answers: its thread and the post it is about."""

    root_id: str
    post_id: str
    remote_post_id: str | None


@dataclass(frozen=True)
class EngagementRead:
    """One read of a published delivery's figures, due at `due_at` (Unix time): `engagement.py`."""

    key: str  # the delivery's
    age: str  # one of `ENGAGEMENT_AGES`
    post_id: str
    agency: str
    network: str
    page: str
    remote_id: str
    due_at: float
    failures: int


_ENGAGEMENT_COLUMNS = "key, age, post_id, agency, network, page, remote_id, due_at, failures"


_INBOX_COLUMNS = (
    "network, item_id, page, agency, post_id, conversation, root_id, parent_id, kind, author_name,"
    " author_id, text, masked, created_at, remote_post_id, url, received_at"
)

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


@migrations()
def m002_ledger(db: sqlite_utils.Database) -> None:
    table = db.table("deliveries")
    for name, kind in (
        ("failures", int),
        ("parts", str),
        ("link", str),
        ("due_at", float),
        ("sent_at", float),
        ("first_sent_at", float),
        ("maybe_sent", int),
        ("dead", int),
        ("version", int),
    ):
        table.add_column(name, kind)
    # Rows of the first schema were final or interrupted: an interrupted one is reconciled by hand.
    db.execute("update deliveries set failures = 0, maybe_sent = 0, dead = 0, version = 0, parts = '[]'")
    table.create_index(["status", "due_at"])
    table.create_index(["page", "status"])
    db.table("page_states").create(
        {"page": str, "network": str, "status": str, "reason": str, "network_code": str, "since": str},
        pk="page",
    )
    db.table("outbox").create({"id": int, "subject": str, "msg_id": str, "data": bytes}, pk="id")


@migrations()
def m003_attachments(db: sqlite_utils.Database) -> None:
    # What the variant carries besides its text: attachments (by media id), facets or entities,
    # and the content warning. Rows from before had none of them.
    table = db.table("deliveries")
    for name in ("media", "facets", "content_warning"):
        table.add_column(name, str)
    db.table("media").create({"id": str, "content_type": str, "size": int, "sha256": str}, pk="id")


@migrations()
def m004_media_buckets(db: sqlite_utils.Database) -> None:
    # Each agency's attachments moved to a bucket of its own; earlier ones are in the shared one.
    db.table("media").add_column("bucket", str)
    db.execute("update media set bucket = 'media'")


@migrations()
def m005_throttled(db: sqlite_utils.Database) -> None:
    # A delivery waiting on a network's rate limit is `throttled`, with since when and until when.
    table = db.table("deliveries")
    for name in ("throttled_since", "throttled_until"):
        table.add_column(name, float)


@migrations()
def m006_approved_at(db: sqlite_utils.Database) -> None:
    # When the post was approved: the dispatcher's latency histogram counts from it.
    db.table("deliveries").add_column("approved_at", float)


@migrations()
def m007_restored(db: sqlite_utils.Database) -> None:
    # Set by a restore: approvals up to this DECISIONS sequence may have been published by the
    # deployment the backup was taken from (`mark_restored`).
    db.table("restored").create({"id": int, "decisions_seq": int, "snapshot_at": float}, pk="id")


@migrations()
def m008_shard(db: sqlite_utils.Database) -> None:
    # The shard layout this ledger last ran with (`shards.py`) and, after targets moved to it, up to
    # which DECISIONS sequence an approval may have been delivered by their previous owner.
    db.table("shard").create({"id": int, "layout": str, "decisions_seq": int, "reconcile_at": float}, pk="id")


@migrations()
def m009_due_index(db: sqlite_utils.Database) -> None:
    # The scheduler asks for the earliest due deliveries many times a second. With only the
    # (status, due_at) index, `status in (…) order by due_at` reads and sorts every waiting row
    # each time (5,000 of them during a national fan-out); an index of the waiting rows alone,
    # in due order, gives the first ones directly.
    db.execute(f"create index deliveries_due on deliveries (due_at) where status in {_WAITING}")


@migrations()
def m010_title_and_tags(db: sqlite_utils.Database) -> None:
    # A presentation's or video's title and tags (JSON list), as the variant carries them.
    table = db.table("deliveries")
    table.add_column("title", str)
    table.add_column("tags", str)


@migrations()
def m011_inbox(db: sqlite_utils.Database) -> None:
    # What people sent the pages (issue #15), masked, keyed by the network's own id (an item read
    # twice is stored once), and where each page's reading goes on from.
    db.table("inbox_items").create(
        {
            "network": str,
            "item_id": str,
            "page": str,
            "agency": str,
            "post_id": str,
            "conversation": str,
            "root_id": str,
            "parent_id": str,
            "kind": str,
            "author_name": str,
            "author_id": str,
            "text": str,
            "masked": str,
            "created_at": str,
            "remote_post_id": str,
            "url": str,
            "received_at": str,
        },
        pk=("network", "item_id"),
    )
    db.table("inbox_cursors").create(
        {"page": str, "network": str, "cursor": str, "updated_at": str}, pk="page"
    )
    # The post a reply answers is found by the delivery's network id.
    db.table("deliveries").create_index(["remote_id"])


@migrations()
def m012_reply_to(db: sqlite_utils.Database) -> None:
    # What a reply answers (JSON of `ReplyTo`), as the approved variant carries it: null for a post.
    db.table("deliveries").add_column("reply_to", str)


@migrations()
def m013_engagement(db: sqlite_utils.Database) -> None:
    # The reads of each published delivery's figures (issue #15 item 6): one row per (delivery, age),
    # `due` until read (`done`), given up (`failed`), stopped by the network (`stopped`: the post is
    # gone) or left to the shard that owns the page now (`moved`).
    db.table("engagement_reads").create(
        {
            "key": str,
            "age": str,
            "post_id": str,
            "agency": str,
            "network": str,
            "page": str,
            "remote_id": str,
            "published_at": float,
            "due_at": float,
            "status": str,
            "failures": int,
            "measured_at": str,
            "likes": int,
            "shares": int,
            "replies": int,
            "views": int,
        },
        pk=("key", "age"),
        not_null={"post_id", "agency", "network", "page", "remote_id", "due_at", "status", "failures"},
    )
    db.execute("create index engagement_reads_due on engagement_reads (due_at) where status = 'due'")
    # When each network's figures are read, after publication (seconds, already scaled by
    # RELAIS_ENGAGEMENT_TIME_SCALE): written by the dispatcher at each start (`plan_engagement`).
    db.table("engagement_plan").create({"network": str, "age": str, "after": float}, pk=("network", "age"))
    # The reads are planned by the database itself, in the transaction that makes a delivery
    # `published`, whichever path does it (a call's result, a reconciliation, a person's
    # `mark_published`, a shard's take-over): none can publish without its reads, and a crash
    # cannot separate them. Replies are not read: their figures are nobody's question.
    db.execute(
        """
        create trigger engagement_reads_planned after update of status on deliveries
        when new.status = 'published' and new.remote_id is not null and new.reply_to is null
        begin
            insert or ignore into engagement_reads
                (key, age, post_id, agency, network, page, remote_id, published_at, due_at, status, failures)
            select new.key, plan.age, new.post_id, new.agency, new.network, new.page, new.remote_id,
                published.at, published.at + plan.after, 'due', 0
            from engagement_plan plan,
                (select coalesce(new.sent_at, (julianday('now') - 2440587.5) * 86400.0) as at) published
            where plan.network = new.network;
        end
        """
    )


@migrations()
def m014_hides(db: sqlite_utils.Database) -> None:
    # The hub's orders to hide a comment (#15 item 5), one row per (network, item): an order heard
    # twice is carried out once; `calling` is written before the network is called (hides.py).
    db.table("hides").create(
        {
            "network": str,
            "item_id": str,
            "agency": str,
            "page": str,
            "conversation": str,
            "by": str,
            "status": str,
            "attempts": int,
            "due_at": float,
            "error": str,
            "ordered_at": str,
            "updated_at": str,
        },
        pk=("network", "item_id"),
    )
    db.table("hides").create_index(["status", "due_at"])


@migrations()
def m015_advocate_accounts(db: sqlite_utils.Database) -> None:
    # Advocates' personal accounts (#16): the credentials opened from their sealed value, each field
    # encrypted again at rest (`shared.secrets`), by the registry's reference `advocate:<id>:<network>`.
    # Every shard keeps every account, so that a change of layout finds them (advocate_accounts.py).
    db.table("advocate_credentials").create(
        {
            "ref": str,
            "advocate": str,
            "network": str,
            "agency": str,
            "fields": str,  # JSON: field name -> encrypted value
            "expires_at": str,
            "updated_at": str,
        },
        pk="ref",
    )
    db.table("advocate_credentials").create_index(["advocate"])


def open_store(path: Path) -> sqlite_utils.Database:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    migrations.apply(db)
    return db


def mark_restored(db: sqlite_utils.Database, snapshot_at: float, now: float, decisions_seq: int) -> int:
    """The rule for a ledger restored from a backup taken at `snapshot_at`: every delivery not final
    in it (`pending`, `publishing`, `throttled`, `unconfirmed`) may have been published by the old
    deployment after the backup, so it becomes `unconfirmed` with `maybe_sent` and is reconciled,
    by reading its page back, before any new attempt. It looks for posts since its first call or,
    if the backup knew of none, since the backup was taken (no call after it can be older). The old
    deployment is stopped before a restore, so no call of its is still in flight: due now.

    The backup's DECISIONS stream was read after the ledger was copied, so it may hold approvals
    the copy has no row for, which the old deployment may have published: up to `decisions_seq`
    (its last sequence in the backup), `Ledger.enqueue` records them the same way.
    Returns how many rows were marked."""
    with db.conn:
        db.conn.execute(
            "insert or replace into restored (id, decisions_seq, snapshot_at) values (1, ?, ?)",
            [decisions_seq, snapshot_at],
        )
        cursor = db.conn.execute(
            f"update deliveries set status = 'unconfirmed', maybe_sent = 1, due_at = ?,"
            " first_sent_at = coalesce(first_sent_at, ?), version = version + 1"
            f" where status in {_WAITING} or status = 'publishing'",
            [now, snapshot_at],
        )
    return cursor.rowcount


def _json(text: str | None, empty: Any) -> Any:
    """A JSON column's value (`empty` when unset). msgspec: the scheduler decodes six per row it claims."""
    return msgspec.json.decode(text) if text else empty


def _row(values: Sequence[Any]) -> DeliveryRow:
    (key, post_id, agency, network, page, status, attempts, failures, parts, link, remote_id, url) = values[
        :12
    ]
    (part_ids, error, due_at, sent_at, first_sent_at, maybe_sent, dead, version) = values[12:20]
    (media, facets, content_warning, throttled_since, throttled_until, approved_at) = values[20:26]
    (title, tags, reply_to) = values[26:]
    return DeliveryRow(
        key,
        post_id,
        agency,
        network,
        page,
        status,
        attempts or 0,
        failures or 0,
        _json(parts, []),
        link,
        remote_id,
        url,
        _json(part_ids, []),
        _json(error, None),
        due_at,
        sent_at,
        first_sent_at,
        bool(maybe_sent),
        bool(dead),
        version or 0,
        _json(media, []),
        _json(facets, []),
        content_warning,
        throttled_since,
        throttled_until,
        approved_at,
        title,
        _json(tags, []),
        _json(reply_to, None),
    )


def _encode(name: str, value: Any) -> Any:
    if name in ("parts", "part_ids"):
        return json.dumps(list(value or []))
    if name == "error":
        return json.dumps(value) if value else None
    if name in ("maybe_sent", "dead"):
        return int(bool(value))
    return value


class Ledger:
    """Small query functions over the ledger; synchronous (sqlite), called from the event loop."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def enqueue(self, rows: Iterable[dict[str, Any]], decision_seq: int | None = None) -> int:
        """Insert new deliveries as `pending`; keys already there are left alone (redeliveries).
        From an approval a restored backup already held (`decision_seq`), or one that came before
        its target moved to this shard (`take_over`), they are `unconfirmed` instead: reconciled
        before anything is sent (`mark_restored`).

        Each row's `media` (MediaRef fields) are also remembered by id: the media endpoint serves
        only attachments of approved posts.
        """
        now = utc_now()
        rows = list(rows)
        restored = self.db.execute("select decisions_seq, snapshot_at from restored").fetchone()
        moved = self.db.execute(
            "select decisions_seq, reconcile_at from shard where decisions_seq > 0"
        ).fetchone()
        values = []
        for r in rows:
            status, maybe_sent, first_sent_at, due_at = "pending", 0, None, r["due_at"]
            if restored and decision_seq is not None and decision_seq <= restored[0]:
                status, maybe_sent, first_sent_at = "unconfirmed", 1, restored[1]
            elif moved and decision_seq is not None and decision_seq <= moved[0]:
                # Its target's previous owner may have posted it, from its approval on, and may
                # have been killed mid-call: reconciled once such a call can no longer land.
                status, maybe_sent = "unconfirmed", 1
                first_sent_at = r.get("approved_at") or r["due_at"]
                due_at = max(r["due_at"], moved[1])
            values.append(
                [
                    r["key"],
                    r["post_id"],
                    r["agency"],
                    r["network"],
                    r["page"],
                    status,
                    json.dumps(r["parts"]),
                    r["link"],
                    due_at,
                    now,
                    maybe_sent,
                    first_sent_at,
                    json.dumps(r.get("media") or []),
                    json.dumps(r.get("facets") or []),
                    r.get("content_warning"),
                    r.get("approved_at"),
                    r.get("title"),
                    json.dumps(r["tags"]) if r.get("tags") else None,
                    json.dumps(r["reply_to"]) if r.get("reply_to") else None,
                ]
            )
        media = {m["id"]: m for r in rows for m in r.get("media") or []}
        with self.db.conn:
            cursor = self.db.conn.executemany(
                "insert or ignore into deliveries (key, post_id, agency, network, page, status, attempts,"
                " failures, parts, link, due_at, updated_at, part_ids, maybe_sent, first_sent_at, dead,"
                " version, media, facets, content_warning, approved_at, title, tags, reply_to)"
                " values (?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?, ?, '[]', ?, ?, 0, 0, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            self.db.conn.executemany(
                "insert or ignore into media (id, bucket, content_type, size, sha256) values (?, ?, ?, ?, ?)",
                [[m["id"], m["bucket"], m["content_type"], m["size"], m["sha256"]] for m in media.values()],
            )
        return cursor.rowcount

    def approved_media(self, media_id: str) -> dict[str, Any] | None:
        """An attachment of an approved post (id, bucket, content_type, size, sha256), or None."""
        names = ("id", "bucket", "content_type", "size", "sha256")
        row = self.db.execute(f"select {', '.join(names)} from media where id = ?", [media_id]).fetchone()
        return dict(zip(names, row, strict=True)) if row else None

    def get(self, key: str) -> DeliveryRow | None:
        row = self.db.execute(f"select {_COLUMNS} from deliveries where key = ?", [key]).fetchone()
        return _row(row) if row else None

    def due(self, now: float, limit: int) -> list[DeliveryRow]:
        """Deliveries whose time has come: pending ones, throttled ones whose reset has come, and
        unknown outcomes to reconcile (a throttled one whose last call may have landed stays
        `unconfirmed`, so it is reconciled too: `maybe_sent` decides, never the status)."""
        rows = self.db.execute(
            # Named: without statistics, the planner prefers (status, due_at) and sorts.
            f"select {_COLUMNS} from deliveries indexed by deliveries_due where status in {_WAITING}"
            " and due_at <= ? order by due_at limit ?",
            [now, limit],
        ).fetchall()
        return [_row(r) for r in rows]

    def next_due(self) -> float | None:
        row = self.db.execute(
            f"select min(due_at) from deliveries indexed by deliveries_due where status in {_WAITING}"
        ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def interrupted(self) -> list[DeliveryRow]:
        rows = self.db.execute(f"select {_COLUMNS} from deliveries where status = 'publishing'").fetchall()
        return [_row(r) for r in rows]

    def held_on_page(self, page: str) -> list[DeliveryRow]:
        """Deliveries given up because their page needed reconnecting."""
        rows = self.db.execute(
            f"select {_COLUMNS} from deliveries where page = ? and status = 'failed' and dead = 1",
            [page],
        ).fetchall()
        return [_row(r) for r in rows]

    def apply(self, changes: Sequence[Change]) -> None:
        """Write every change and its announcements in one transaction."""
        if not changes:
            return
        now = utc_now()
        # Consecutive changes of the same columns (a batch of claims, of publications) go in one
        # statement: the same order, far fewer round trips through the sqlite3 module.
        runs: list[tuple[tuple[str, ...], list[list[Any]]]] = []
        messages: list[tuple[str, str, bytes]] = []
        for change in changes:
            if change.announce and not change.fields:  # an announcement of the row as it is
                messages.append(change.announce)
                continue
            names = tuple(sorted(change.fields))
            values = [*(_encode(name, change.fields[name]) for name in names), now, change.key]
            if runs and runs[-1][0] == names:
                runs[-1][1].append(values)
            else:
                runs.append((names, [values]))
            if change.announce:
                messages.append(change.announce)
            messages.extend(change.alerts)
        with self.db.conn:
            for names, rows in runs:
                assignments = "".join(f"{name} = ?, " for name in names)
                self.db.conn.executemany(
                    f"update deliveries set {assignments}updated_at = ?, version = version + 1 where key = ?",
                    rows,
                )
            self.db.conn.executemany("insert into outbox (subject, msg_id, data) values (?, ?, ?)", messages)

    def outbox(self, limit: int, after: int = 0) -> list[tuple[int, str, str, bytes]]:
        """The oldest `limit` messages not yet sent, past id `after` (those handed to the bus already)."""
        rows = self.db.execute(
            "select id, subject, msg_id, data from outbox where id > ? order by id limit ?", [after, limit]
        )
        return [(int(r[0]), r[1], r[2], bytes(r[3])) for r in rows.fetchall()]

    def sent(self, ids: Sequence[int]) -> None:
        """Forget what the bus stored, without an fsync of its own (synchronous=NORMAL for this
        transaction; the next commit of a change flushes it). A power cut may bring the rows back:
        they are then published again with the same `Nats-Msg-Id`, as after any crash between a
        publish and this delete, and a message is never lost by it."""
        self.db.execute("PRAGMA synchronous=NORMAL")
        try:
            with self.db.conn:
                self.db.conn.executemany("delete from outbox where id = ?", [[i] for i in ids])
        finally:
            self.db.execute("PRAGMA synchronous=FULL")

    def page_state(self, page: str) -> PageState | None:
        row = self.db.execute(
            "select page, network, status, reason, network_code, since from page_states where page = ?",
            [page],
        ).fetchone()
        return PageState(*row) if row else None

    def page_states(self) -> dict[str, PageState]:
        """Every page that waits for a person (few, usually none), by page."""
        rows = self.db.execute("select page, network, status, reason, network_code, since from page_states")
        return {row[0]: PageState(*row) for row in rows.fetchall()}

    def set_page_state(self, state: PageState) -> None:
        with self.db.conn:
            self.db.table("page_states").upsert(
                {
                    "page": state.page,
                    "network": state.network,
                    "status": state.status,
                    "reason": state.reason,
                    "network_code": state.network_code,
                    "since": state.since,
                },
                pk="page",
            )

    def clear_page_state(self, page: str) -> None:
        with self.db.conn:
            self.db.execute("delete from page_states where page = ?", [page])

    def layout(self) -> str | None:
        row = self.db.execute("select layout from shard").fetchone()
        return str(row[0]) if row else None

    def take_over(
        self,
        layout: str,
        owns: Callable[[str, str], bool],
        *,
        decisions_seq: int,
        reconcile_at: float,
        published: Sequence[Published] = (),
    ) -> tuple[int, int]:
        """Start with a new shard layout (`shards.py`), in one transaction. Deliveries the bus has
        announced `published` (by whichever shard) are recorded so: never attempted or read back
        again, and the ages of their figures nobody has read yet are planned here. Unfinished
        deliveries of targets this shard no longer owns become `moved` (their new owner reconciles
        them); `moved` ones of targets it owns again become `unconfirmed`, to
        reconcile at `reconcile_at` (when a call their other owner may have had in flight can no
        longer land). Approvals up to `decisions_seq` are replayed by the caller and `enqueue` makes
        their new rows `unconfirmed` the same way. Returns (rows moved away, rows taken back)."""
        now = utc_now()
        with self.db.conn:
            self.db.conn.executemany(
                "insert or ignore into deliveries (key, post_id, agency, network, page, status, attempts,"
                " failures, parts, remote_id, url, part_ids, maybe_sent, dead, version, media, facets,"
                " updated_at)"
                " values (?, ?, ?, ?, ?, 'published', 0, 0, '[]', ?, ?, ?, 0, 0, 0, '[]', '[]', ?)",
                [
                    [
                        p.key,
                        p.post_id,
                        p.agency,
                        p.network,
                        p.page,
                        p.remote_id,
                        p.url,
                        json.dumps(p.part_ids),
                        now,
                    ]
                    for p in published
                ],
            )
            self.db.conn.executemany(
                "update deliveries set status = 'published', remote_id = ?, url = ?, part_ids = ?,"
                " maybe_sent = 0, due_at = null, error = null, version = version + 1"
                " where key = ? and status = 'moved'",
                [[p.remote_id, p.url, json.dumps(p.part_ids), p.key] for p in published],
            )
            self._adopt_engagement_reads(published)
            unfinished = self.db.conn.execute(
                f"select key, network, page, status from deliveries where status in {_WAITING}"
                " or status in ('publishing', 'moved')"
            ).fetchall()
            away = [
                [k]
                for k, network, page, status in unfinished
                if status != "moved" and not owns(network, page)
            ]
            back = [
                [k] for k, network, page, status in unfinished if status == "moved" and owns(network, page)
            ]
            self.db.conn.execute(
                "insert or replace into shard (id, layout, decisions_seq, reconcile_at) values (1, ?, ?, ?)",
                [layout, decisions_seq, reconcile_at],
            )
            self.db.conn.executemany(
                "update deliveries set status = 'moved', version = version + 1 where key = ?", away
            )
            self.db.conn.executemany(
                "update deliveries set status = 'unconfirmed', maybe_sent = 1, due_at = ?,"
                " first_sent_at = coalesce(first_sent_at, approved_at, due_at), version = version + 1"
                " where key = ?",
                [[reconcile_at, *key] for key in back],
            )
        return len(away), len(back)

    def _adopt_engagement_reads(self, published: Sequence[Published]) -> None:
        """The reads of deliveries a take-over records as published (in its transaction): each age
        nobody has announced yet is due at `reads_from` plus the age (at once if that is past, like a
        read missed while down), even one this ledger had left `moved`; an age the bus already
        carries, and every age of a delivery not read here, is not read (again) by this shard."""
        plan: dict[str, dict[str, float]] = {}
        for network, age, after in self.db.execute("select network, age, after from engagement_plan"):
            plan.setdefault(network, {})[age] = after
        due, dropped = [], []
        for p in published:
            for age, after in plan.get(p.network, {}).items():
                if p.reads_from is None or p.remote_id is None or age in p.already_read:
                    dropped.append([p.key, age])
                else:
                    row = [p.key, age, p.post_id, p.agency, p.network, p.page, p.remote_id, p.reads_from]
                    due.append([*row, p.reads_from + after])
        self.db.conn.executemany(
            "insert into engagement_reads (key, age, post_id, agency, network, page, remote_id,"
            " published_at, due_at, status, failures) values (?, ?, ?, ?, ?, ?, ?, ?, ?, 'due', 0)"
            " on conflict (key, age) do update set status = 'due', due_at = excluded.due_at,"
            " published_at = excluded.published_at,"
            " failures = case when status = 'moved' then 0 else failures end"
            " where status in ('due', 'moved')",
            due,
        )
        self.db.conn.executemany(
            "delete from engagement_reads where key = ? and age = ? and status = 'due'", dropped
        )

    # --- the inbox (inbox.py) ---------------------------------------------------------------------

    def inbox_cursor(self, page: str) -> str | None:
        row = self.db.execute("select cursor from inbox_cursors where page = ?", [page]).fetchone()
        return str(row[0]) if row and row[0] is not None else None

    def inbox_item(self, network: str, item_id: str) -> KnownItem | None:
        row = self.db.execute(
            "select root_id, post_id, remote_post_id from inbox_items where network = ? and item_id = ?",
            [network, item_id],
        ).fetchone()
        return KnownItem(row[0], row[1] or "", row[2]) if row else None

    def recent_posts(self, network: str, page: str, limit: int = 50) -> list[str]:
        """The network ids of the page's published deliveries, newest first (the posts whose
        comments a network without a page-wide feed, LinkedIn, reads one by one)."""
        rows = self.db.execute(
            "select remote_id from deliveries indexed by idx_deliveries_page_status"
            " where page = ? and status = 'published' and network = ? and remote_id is not null"
            " order by coalesce(first_sent_at, approved_at, due_at) desc limit ?",
            [page, network, limit],
        )
        return [str(row[0]) for row in rows.fetchall()]

    def post_answered(self, network: str, page: str, remote_id: str) -> str | None:
        """The Relais post whose delivery to `page` is (or whose thread holds) `remote_id`."""
        row = self.db.execute(
            "select post_id from deliveries where remote_id = ? and network = ? and page = ?",
            [remote_id, network, page],
        ).fetchone()
        if row is None:  # a later part of a thread: among the page's deliveries (its own index)
            row = self.db.execute(
                "select post_id from deliveries indexed by idx_deliveries_page_status"
                " where page = ? and network = ? and instr(part_ids, ?) > 0",
                [page, network, json.dumps(remote_id)],  # the id as a whole JSON string of the list
            ).fetchone()
        return str(row[0]) if row else None

    def store_inbox(
        self, page: str, network: str, cursor: str | None, rows: Sequence[InboxRow]
    ) -> list[InboxRow]:
        """Keep the items not already kept, their announcements and the page's next cursor, in one
        transaction: a crash leaves all three or none. Returns the items that were new."""
        now = utc_now()
        fresh: list[InboxRow] = []
        with self.db.conn:
            for row in rows:
                inserted = self.db.conn.execute(
                    f"insert or ignore into inbox_items ({_INBOX_COLUMNS})"
                    " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        *(row.network, row.item_id, row.page, row.agency, row.post_id, row.conversation),
                        *(row.root_id, row.parent_id, row.kind, row.author_name, row.author_id, row.text),
                        *(json.dumps(row.masked), row.created_at, row.remote_post_id, row.url, now),
                    ],
                )
                if inserted.rowcount:
                    fresh.append(row)
                    self.db.conn.execute(
                        "insert into outbox (subject, msg_id, data) values (?, ?, ?)", list(row.announce)
                    )
            self.db.conn.execute(
                "insert or replace into inbox_cursors (page, network, cursor, updated_at)"
                " values (?, ?, ?, ?)",
                [page, network, cursor, now],
            )
        return fresh

    # --- engagement read-back (engagement.py) ------------------------------------------------------

    def plan_engagement(self, plan: dict[str, dict[str, float]]) -> None:
        """When each network's figures are read after publication (network -> age -> seconds),
        replacing the last start's plan; reads already planned keep their times."""
        with self.db.conn:
            self.db.conn.execute("delete from engagement_plan")
            self.db.conn.executemany(
                "insert into engagement_plan (network, age, after) values (?, ?, ?)",
                [[network, age, after] for network, ages in plan.items() for age, after in ages.items()],
            )

    def engagement_due(self, now: float, limit: int) -> list[EngagementRead]:
        """The reads due now, the longest overdue first."""
        rows = self.db.execute(
            f"select {_ENGAGEMENT_COLUMNS} from engagement_reads indexed by engagement_reads_due"
            " where status = 'due' and due_at <= ? order by due_at limit ?",
            [now, limit],
        ).fetchall()
        return [EngagementRead(*row) for row in rows]

    def engagement_due_of(self, key: str, now: float) -> list[EngagementRead]:
        """Every read of one delivery due now: a dispatcher back from an outage takes them in one call."""
        rows = self.db.execute(
            f"select {_ENGAGEMENT_COLUMNS} from engagement_reads"
            " where key = ? and status = 'due' and due_at <= ? order by due_at",
            [key, now],
        ).fetchall()
        return [EngagementRead(*row) for row in rows]

    def next_engagement_due(self) -> float | None:
        row = self.db.execute(
            "select min(due_at) from engagement_reads indexed by engagement_reads_due where status = 'due'"
        ).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def engagement_reads(self, key: str) -> dict[str, str]:
        """Each age's read status of one delivery (tests, logs)."""
        rows = self.db.execute("select age, status from engagement_reads where key = ?", [key]).fetchall()
        return {str(age): str(status) for age, status in rows}

    def postpone_engagement(self, reads: Sequence[EngagementRead], due_at: float, failures: int) -> None:
        with self.db.conn:
            self.db.conn.executemany(
                "update engagement_reads set due_at = ?, failures = ? where key = ? and age = ?",
                [[due_at, failures, read.key, read.age] for read in reads],
            )

    def end_engagement(self, key: str, status: str, ages: Sequence[str] | None = None) -> None:
        """The reads still due of a delivery (or only `ages`) end with `status` (`failed`,
        `stopped`, `moved`): never read."""
        with self.db.conn:
            if ages is None:
                self.db.conn.execute(
                    "update engagement_reads set status = ? where key = ? and status = 'due'", [status, key]
                )
            else:
                self.db.conn.executemany(
                    "update engagement_reads set status = ? where key = ? and age = ? and status = 'due'",
                    [[status, key, age] for age in ages],
                )

    def store_engagement(
        self,
        reads: Sequence[EngagementRead],
        figures: dict[str, int | None],
        measured_at: str,
        announce: Sequence[tuple[str, str, bytes]],
    ) -> None:
        """The figures read and their announcements, in one transaction: a crash keeps both or
        neither, and the outbox relay publishes them (each once: `engagement_msg_id`)."""
        values = [figures["likes"], figures["shares"], figures["replies"], figures["views"]]
        with self.db.conn:
            self.db.conn.executemany(
                "update engagement_reads set status = 'done', measured_at = ?, likes = ?, shares = ?,"
                " replies = ?, views = ? where key = ? and age = ? and status = 'due'",
                [[measured_at, *values, read.key, read.age] for read in reads],
            )
            self.db.conn.executemany("insert into outbox (subject, msg_id, data) values (?, ?, ?)", announce)

    def counts(self) -> dict[str, int]:
        """How many deliveries are in each status (health and tests)."""
        return {
            r[0]: r[1] for r in self.db.execute("select status, count(*) from deliveries group by status")
        }


class LedgerWriter:
    """`Ledger.apply` on a thread of its own, with its own connection.

    A commit waits for its fsync; on the event loop that wait would stop every call in flight.
    Writes go through this one thread, in the order they were asked for; reads stay on the
    event loop's connection and see each change once its commit is done (WAL).
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-writer")
        self._ledger: Ledger | None = None  # opened in the writer thread, used only there

    async def apply(self, changes: Sequence[Change]) -> None:
        if changes:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._apply, list(changes))

    async def sent(self, ids: Sequence[int]) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._sent, list(ids))

    async def enqueue(self, rows: list[dict[str, Any]], decision_seq: int | None) -> int:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, lambda: self._own_ledger().enqueue(rows, decision_seq=decision_seq)
        )

    def _own_ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger(open_store(self._path))
        return self._ledger

    def _apply(self, changes: list[Change]) -> None:
        self._own_ledger().apply(changes)

    def _sent(self, ids: list[int]) -> None:
        self._own_ledger().sent(ids)

    async def store_inbox(
        self, page: str, network: str, cursor: str | None, rows: Sequence[InboxRow]
    ) -> list[InboxRow]:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, self._store_inbox, page, network, cursor, list(rows)
        )

    def _store_inbox(
        self, page: str, network: str, cursor: str | None, rows: list[InboxRow]
    ) -> list[InboxRow]:
        return self._own_ledger().store_inbox(page, network, cursor, rows)

    async def run(self, write: Callable[[Ledger], None]) -> None:
        """Any other write (`Ledger` method calls), on the writer's thread and connection."""
        await asyncio.get_running_loop().run_in_executor(self._executor, lambda: write(self._own_ledger()))

    def close(self) -> None:
        def close_connection() -> None:
            if self._ledger is not None:
                self._ledger.db.close()

        self._executor.submit(close_connection)
        self._executor.shutdown(wait=True)
