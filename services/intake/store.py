"""The agency's outbox and local view (sqlite-utils): posts, their deliveries, and the agency's pages.

A post is accepted only once it is committed here with `synchronous=FULL`: that is what makes a 202
mean "on disk".
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
import sqlite_utils
from sqlite_utils.migrations import Migrations

from services.intake.accounts import migrations as account_migrations
from services.intake.security import migrations as security_migrations
from shared.advocacy.accounts import ShareOf
from shared.fitting_policy import FittingPolicy
from shared.ids import utc_now
from shared.networks import NETWORKS
from shared.schemas import MediaRef, PageRecord, PostAnnounced, PostReceived, ReplyTo, Target
from shared.statuses import (
    DELIVERY_RANK,
    DELIVERY_TERMINAL,
    POST_RANK,
    POST_TERMINAL,
    advances,
    post_status_from_deliveries,
)

migrations = Migrations("relais.intake")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.table("posts").create(
        {
            "seq": int,  # acceptance order: the relay sends posts in this order
            "id": str,
            "agency": str,
            "author": str,
            "text": str,
            "link": str,
            "targets": str,
            "schedule_at": str,
            "status": str,
            "reason": str,
            "created_at": str,
            "relayed_at": str,
            "updated_at": str,
        },
        pk="seq",
        not_null={"id", "agency", "author", "text", "targets", "status", "created_at"},
    )
    db.table("posts").create_index(["id"], unique=True)
    db.table("deliveries").create(
        {
            "post_id": str,
            "page": str,
            "network": str,
            "status": str,
            "remote_id": str,
            "url": str,
            "error": str,
            "updated_at": str,
        },
        pk=("post_id", "page"),
    )
    db.table("pages").create(
        {"page": str, "network": str, "handle": str, "status": str, "record": str}, pk="page"
    )


@migrations()
def m002_unrelayed_index(db: sqlite_utils.Database) -> None:
    # The relay asks for the oldest unrelayed posts on every pass: a partial index keeps that cheap.
    db.execute("create index posts_unrelayed on posts (seq) where relayed_at is null")


@migrations()
def m003_media_and_fitting(db: sqlite_utils.Database) -> None:
    # Uploaded attachments (the bytes are files under <data_dir>/media/, named by id); `stored_at`
    # is when the relay put them in the hub's object store, which happens before any post naming
    # them is relayed.
    db.table("media").create(
        {
            "id": str,
            "agency": str,
            "content_type": str,
            "size": int,
            "sha256": str,
            "uploaded_by": str,
            "created_at": str,
            "stored_at": str,
        },
        pk="id",
        not_null={"agency", "content_type", "size", "sha256", "uploaded_by", "created_at"},
    )
    posts = db.table("posts")
    posts.add_column("policy", str)  # JSON {network: policy}, null for every network's default
    posts.add_column("content_warning", str)
    posts.add_column("media", str)  # JSON list of MediaRef


_media_refs = msgspec.json.Decoder(list[MediaRef])
_policies = msgspec.json.Decoder(dict[str, FittingPolicy])


@migrations()
def m004_delivery_parts(db: sqlite_utils.Database) -> None:
    db.table("deliveries").add_column("parts", str)


@migrations()
def m005_delivery_throttled_until(db: sqlite_utils.Database) -> None:
    # A delivery waiting on a network's rate limit shows when it resets (UTC ISO).
    db.table("deliveries").add_column("throttled_until", str)


@migrations()
def m006_idempotency_keys(db: sqlite_utils.Database) -> None:
    # A client's key for one post (`Idempotency-Key`), per author: a resend after a lost answer
    # gets the post stored the first time instead of a second post.
    db.table("idempotency_keys").create(
        {"author": str, "key": str, "post_id": str, "fingerprint": str, "created_at": str},
        pk=("author", "key"),
        not_null={"post_id", "fingerprint", "created_at"},
    )


@migrations()
def m007_title_and_tags(db: sqlite_utils.Database) -> None:
    # A presentation's or video's title and tags (JSON list); posts from before had neither.
    posts = db.table("posts")
    posts.add_column("title", str)
    posts.add_column("tags", str)


@migrations()
def m008_drafts(db: sqlite_utils.Database) -> None:
    # A composer's drafts, each its author's alone: the owner is the author's role, agency and
    # name together (an admin or another agency's advisor of the same name owns none of them).
    db.table("drafts").create(
        {
            "id": str,
            "role": str,
            "agency": str,
            "author": str,
            "body": str,  # JSON object, as the composer holds a post (not checked as one)
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"role", "agency", "author", "body", "created_at", "updated_at"},
    )
    db.table("drafts").create_index(["role", "agency", "author", "updated_at"])


@migrations()
def m009_original_text(db: sqlite_utils.Database) -> None:
    # The advisor's own text once a moderator edited it (`text` is then what is published), and
    # the advisor's own posts listed fast (`GET /v1/posts?author=me`).
    db.table("posts").add_column("original_text", str)
    db.table("posts").create_index(["author", "seq"])


@migrations()
def m010_inbox(db: sqlite_utils.Database) -> None:
    # What people sent to the agency's pages (issue #15), each item once by the network's own id,
    # already masked; grouped into conversations, each with who answers it (an advisor, or "" for the
    # agency's shared queue) and how far the hub escalated it.
    db.table("inbox_items").create(
        {
            "network": str,
            "item_id": str,
            "conversation": str,
            "page": str,
            "kind": str,
            "root_id": str,
            "parent_id": str,
            "author_name": str,
            "text": str,
            "masked": str,  # JSON list of identifier kinds masked in `text`
            "created_at": str,
            "url": str,
            "received_at": str,
        },
        pk=("network", "item_id"),
        not_null={"conversation", "page", "kind", "text", "created_at", "received_at"},
    )
    db.table("inbox_items").create_index(["conversation", "created_at"])
    db.table("conversations").create(
        {
            "id": str,
            "network": str,
            "page": str,
            "post_id": str,  # the Relais post it answers, "" when none
            "status": str,
            "assignee": str,  # an advisor's user id, "" for the agency's shared queue
            "escalation": str,  # "", then one of ESCALATION_LEVELS
            "deadline": str,
            "calendar": str,
            "items": int,
            "first_item_at": str,
            "last_item_at": str,
            "updated_at": str,
            # The INBOX stream's sequence of this conversation's last `assigned` message this node
            # sent: the next one is published only after it (exactly once, however long the outage).
            "assigned_seq": int,
        },
        pk="id",
        not_null={"network", "page", "post_id", "status", "assignee", "escalation", "items", "updated_at"},
        defaults={
            "post_id": "",
            "status": "new",
            "assignee": "",
            "escalation": "",
            "items": 0,
            "assigned_seq": 0,
        },
    )
    db.table("conversations").create_index(["assignee", "first_item_at"])
    # Assignments written here, relayed in order once the link is up (like posts).
    db.table("inbox_outbox").create(
        {
            "seq": int,
            "conversation": str,
            "event": str,
            "created_at": str,
            # Set before its first publish: only an assignment sent before can already be in the stream.
            "attempted_at": str,
            "relayed_at": str,
        },
        pk="seq",
        not_null={"conversation", "event", "created_at"},
    )
    db.execute("create index inbox_outbox_unrelayed on inbox_outbox (seq) where relayed_at is null")


@migrations()
def m011_replies(db: sqlite_utils.Database) -> None:
    # A reply to an inbox item (issue #15 item 4) is a post with what it answers (`ReplyTo`, JSON);
    # its conversation is resolved once the reply is published, and reopened by a later item.
    db.table("posts").add_column("reply_to", str)
    db.table("conversations").add_column("answered_at", str)
    db.table("conversations").add_column("answered_by_post", str)


@migrations()
def m012_saved_replies(db: sqlite_utils.Database) -> None:
    # The hub team's saved replies, as the hub replicates them (services/intake/saved_replies.py).
    db.table("saved_replies").create(
        {"id": str, "language": str, "title": str, "body": str, "version": int},
        pk="id",
        not_null={"language", "title", "body", "version"},
    )


@migrations()
def m013_hide_requests(db: sqlite_utils.Database) -> None:
    # Asking the hub to hide an item from the public (issue #15 item 5): the `InboxHideRequested`
    # written here (offline too) and relayed once the link is up; each item's `hidden` state
    # (requested, then hidden or failed, with the reason as JSON) as the hub and the dispatcher tell it.
    db.table("hide_requests").create(
        {"network": str, "item_id": str, "event": str, "created_at": str, "relayed_at": str},
        pk=("network", "item_id"),
        not_null={"event", "created_at"},
    )
    db.execute("create index hide_requests_unrelayed on hide_requests (created_at) where relayed_at is null")
    db.table("inbox_items").add_column("hidden", str)
    db.table("inbox_items").add_column("hide_error", str)


@migrations()
def m015_offered_stories(db: sqlite_utils.Database) -> None:
    # The advocacy stories the hub offers this agency (services/intake/stories.py), with the bucket
    # stream's sequence of the value kept: an older value never replaces a newer one.
    db.table("offered_stories").create(
        {"id": str, "record": str, "offered": int, "expires_at": str, "sequence": int},
        pk="id",
        not_null={"record", "offered", "expires_at", "sequence"},
    )


@migrations()
def m016_advocates(db: sqlite_utils.Database) -> None:
    # The node's advocates (issue #16, services/intake/advocates.py): the one place at the agency that
    # links a pseudonym to an advisor. A withdrawn consent keeps its row (when and to what wording it
    # was given and withdrawn) until `relais advocates forget` erases it; opting in again makes a new
    # pseudonym. Their accounts' states, as the hub and the dispatcher said them.
    db.table("advocates").create(
        {
            "advocate": str,
            "user": str,
            "consented_at": str,
            "consent_version": str,
            "consent_language": str,
            "consent_text": str,
            "opted_out_at": str,  # null while the consent stands
        },
        pk="advocate",
        not_null={"user", "consented_at", "consent_version", "consent_language", "consent_text"},
    )
    db.table("advocates").create_index(["user"])
    db.table("advocate_accounts").create(
        {
            "advocate": str,
            "network": str,
            "status": str,  # connecting, connected, needs_reauth, refused, disconnected
            "handle": str,
            "updated_at": str,
        },
        pk=("advocate", "network"),
        not_null={"status", "updated_at"},
    )


@migrations()
def m017_shares(db: sqlite_utils.Database) -> None:
    # A share of an advocacy story (issue #16, services/intake/shares.py) is a post of the outbox whose
    # `share` (JSON ShareOf: story, advocate) travels with it to the hub; null for every other post.
    db.table("posts").add_column("share", str)


@migrations()
def m018_advocates_more(db: sqlite_utils.Database) -> None:
    # What the node tells the hub of its advocates (issue #16, services/intake/advocates.py): each
    # event written with the change it reports, relayed once the link is up, in order, and deleted
    # once the stream holds it (an enrolment names the person, an app password is sealed in it: the
    # node keeps neither longer than it must); and the dispatcher's sealing public key, as the node's
    # consumer last read it (a Bluesky app password is sealed with it at once, offline too).
    db.table("advocacy_outbox").create(
        {
            "seq": int,
            "advocate": str,
            "subject": str,
            "msg_id": str,  # its Nats-Msg-Id, made with it (seq may be reused once rows are deleted)
            "event": str,  # the message's JSON
            "created_at": str,
        },
        pk="seq",
        not_null={"advocate", "subject", "msg_id", "event", "created_at"},
    )
    db.table("sealing_key").create(
        {"name": str, "public_key": str, "sequence": int}, pk="name", not_null={"public_key", "sequence"}
    )


_tags = msgspec.json.Decoder(list[str])
_reply_to = msgspec.json.Decoder(ReplyTo)
_share = msgspec.json.Decoder(ShareOf)


def open_store(path: Path) -> sqlite_utils.Database:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    migrations.apply(db)
    security_migrations.apply(db)
    account_migrations.apply(db)
    return db


def find_idempotency_key(db: sqlite_utils.Database, author: str, key: str) -> tuple[str, str] | None:
    """The post an author's key was first used for, and that request's fingerprint."""
    row = db.execute(
        "select post_id, fingerprint from idempotency_keys where author = ? and key = ?", [author, key]
    ).fetchone()
    return (str(row[0]), str(row[1])) if row else None


def insert_post(
    db: sqlite_utils.Database, post: PostReceived, idempotency: tuple[str, str] | None = None
) -> None:
    """Store the post and its pending deliveries in one durable transaction, with the client's
    idempotency key and the request's fingerprint when it gave one."""
    with db.atomic():
        if idempotency:
            key, fingerprint = idempotency
            db.table("idempotency_keys").insert(
                {
                    "author": post.author,
                    "key": key,
                    "post_id": post.post_id,
                    "fingerprint": fingerprint,
                    "created_at": post.occurred_at,
                }
            )
        db.table("posts").insert(
            {
                "id": post.post_id,
                "agency": post.agency,
                "author": post.author,
                "text": post.text,
                "link": post.link,
                "targets": json.dumps([[t.network, t.page] for t in post.targets]),
                "schedule_at": post.schedule_at,
                "status": "queued",
                "created_at": post.occurred_at,
                "updated_at": post.occurred_at,
                "policy": json.dumps(post.policy) if post.policy else None,
                "content_warning": post.content_warning,
                "media": msgspec.json.encode(post.media).decode() if post.media else None,
                "title": post.title,
                "tags": json.dumps(post.tags) if post.tags else None,
                "reply_to": msgspec.json.encode(post.reply_to).decode() if post.reply_to else None,
                "share": msgspec.json.encode(post.share).decode() if post.share else None,
            }
        )
        db.table("deliveries").insert_all(
            {"post_id": post.post_id, "page": t.page, "network": t.network, "status": "pending"}
            for t in post.targets
        )


def insert_announced(db: sqlite_utils.Database, post: PostAnnounced) -> bool:
    """A campaign from elsewhere reaching this agency's pages: shown here, never relayed from here."""
    with db.atomic():
        if db.execute("select 1 from posts where id = ?", [post.post_id]).fetchone():
            return False
        db.table("posts").insert(
            {
                "id": post.post_id,
                "agency": post.origin_agency,
                "author": post.author,
                "text": post.text,
                "link": post.link,
                "targets": json.dumps([[t.network, t.page] for t in post.targets]),
                "schedule_at": post.schedule_at,
                "status": "received",  # at the hub; its policy decides there
                "created_at": post.occurred_at,
                "relayed_at": post.occurred_at,
                "updated_at": post.occurred_at,
                "reply_to": msgspec.json.encode(post.reply_to).decode() if post.reply_to else None,
            }
        )
        db.table("deliveries").insert_all(
            {"post_id": post.post_id, "page": t.page, "network": t.network, "status": "pending"}
            for t in post.targets
        )
    return True


def expire_deliveries(db: sqlite_utils.Database, post_id: str, pages: list[str], reason: str) -> None:
    for page in pages:
        update_delivery(db, post_id, page, "expired", None, None, {"message": reason, "network_code": None})
    with db.atomic():
        db.execute("update posts set reason = ? where id = ?", [reason, post_id])


def edit_text(db: sqlite_utils.Database, post_id: str, text: str) -> None:
    """A moderator's edit: the agency shows the text that is published, and keeps the advisor's
    own (the first text, whatever later edits and redeliveries say)."""
    with db.atomic():
        db.execute(
            "update posts set original_text = coalesce(original_text, text), text = ?, updated_at = ?"
            " where id = ? and text != ?",
            [text, utc_now(), post_id, text],
        )


def _original_text(row: Mapping[str, Any]) -> str | None:
    """The advisor's text when a moderator changed it (an edit back to it is no change)."""
    original = row["original_text"]
    return original if original is not None and original != row["text"] else None


def pending_count(db: sqlite_utils.Database) -> int:
    return int(
        db.execute("select count(*) from posts where relayed_at is null and status != 'expired'").fetchone()[
            0
        ]
    )


def unrelayed_posts(db: sqlite_utils.Database, limit: int = 500) -> list[PostReceived]:
    rows = db.execute(
        "select id, agency, author, text, link, targets, schedule_at, created_at, policy, content_warning,"
        " media, title, tags, reply_to, share from posts where relayed_at is null and status != 'expired'"
        " order by seq limit ?",
        [limit],
    ).fetchall()
    return [
        PostReceived(
            post_id=r[0],
            agency=r[1],
            author=r[2],
            text=r[3],
            link=r[4],
            targets=[Target(n, p) for n, p in json.loads(r[5])],
            schedule_at=r[6],
            occurred_at=r[7],
            policy=_policies.decode(r[8]) if r[8] else {},
            content_warning=r[9],
            media=_media_refs.decode(r[10]) if r[10] else [],
            title=r[11],
            tags=_tags.decode(r[12]) if r[12] else [],
            reply_to=_reply_to.decode(r[13]) if r[13] else None,
            share=_share.decode(r[14]) if r[14] else None,
        )
        for r in rows
    ]


def mark_relayed(db: sqlite_utils.Database, post_ids: list[str]) -> None:
    """One statement and one transaction (one fsync) for a whole relayed batch."""
    if not post_ids:
        return
    now = utc_now()
    marks = ",".join("?" * len(post_ids))
    with db.atomic():
        db.execute(
            "update posts set relayed_at = ?, updated_at = ?, status = case when status in"
            f" ('queued', 'waiting_for_hub') then 'received' else status end where id in ({marks})",
            [now, now, *post_ids],
        )


def mark_waiting_for_hub(db: sqlite_utils.Database) -> int:
    with db.atomic():
        cursor = db.execute(
            "update posts set status = 'waiting_for_hub', updated_at = ? where relayed_at is null"
            " and status = 'queued'",
            [utc_now()],
        )
    return cursor.rowcount


def set_post_status(db: sqlite_utils.Database, post_id: str, status: str, reason: str | None = None) -> bool:
    with db.atomic():
        changed = _advance_post(db, post_id, status, reason)
        if changed and status in ("invalid", "rejected", "expired"):
            final = "expired" if status == "expired" else "rejected"
            db.execute(
                "update deliveries set status = ?, updated_at = ? where post_id = ? and status = 'pending'",
                [final, utc_now(), post_id],
            )
    return changed


def reply_of(db: sqlite_utils.Database, post_id: str) -> ReplyTo | None:
    """What the post answers, when it is a reply written here."""
    row = db.execute("select reply_to from posts where id = ?", [post_id]).fetchone()
    return _reply_to.decode(row[0]) if row and row[0] else None


def awaits_decision(db: sqlite_utils.Database, post_id: str, agency: str) -> bool:
    """A post of `agency` written here whose approval this node has not applied yet (campaigns from
    elsewhere are approved where they were written: this node never hears of it)."""
    row = db.execute("select status from posts where id = ? and agency = ?", [post_id, agency]).fetchone()
    return row is not None and POST_RANK.get(row[0], len(POST_RANK)) < POST_RANK["scheduled"]


def has_delivery(db: sqlite_utils.Database, post_id: str, page: str) -> bool:
    row = db.execute("select 1 from deliveries where post_id = ? and page = ?", [post_id, page]).fetchone()
    return row is not None


def update_delivery(
    db: sqlite_utils.Database,
    post_id: str,
    page: str,
    status: str,
    remote_id: str | None,
    url: str | None,
    error: dict[str, Any] | None,
    parts: list[dict[str, Any]] | None = None,
    throttled_until: str | None = None,
) -> bool:
    """Apply a delivery update if it moves forward, then derive the post's status from its deliveries.

    `throttled_until` is kept only while the delivery is `throttled`."""
    with db.atomic():
        row = db.execute(
            "select status from deliveries where post_id = ? and page = ?", [post_id, page]
        ).fetchone()
        if row is None or not advances(row[0], status, DELIVERY_RANK, DELIVERY_TERMINAL):
            return False
        db.execute(
            "update deliveries set status = ?, remote_id = ?, url = ?, error = ?, parts = ?,"
            " throttled_until = ?, updated_at = ? where post_id = ? and page = ?",
            [
                status,
                remote_id,
                url,
                json.dumps(error) if error else None,
                json.dumps(parts) if parts else None,
                throttled_until if status == "throttled" else None,
                utc_now(),
                post_id,
                page,
            ],
        )
        statuses = [r[0] for r in db.execute("select status from deliveries where post_id = ?", [post_id])]
        derived = post_status_from_deliveries(statuses)
        if derived:
            _advance_post(db, post_id, derived, None, force_terminal=derived in POST_TERMINAL)
    return True


def _advance_post(
    db: sqlite_utils.Database, post_id: str, status: str, reason: str | None, force_terminal: bool = False
) -> bool:
    row = db.execute("select status from posts where id = ?", [post_id]).fetchone()
    if row is None:
        return False
    current = row[0]
    # A post's final status follows its deliveries, which may still change (unconfirmed → published).
    derived_final = current in ("published", "partially_published", "failed")
    if not advances(current, status, POST_RANK, POST_TERMINAL) and not (force_terminal and derived_final):
        return False
    db.execute(
        "update posts set status = ?, reason = coalesce(?, reason), updated_at = ? where id = ?",
        [status, reason, utc_now(), post_id],
    )
    return True


def get_post(db: sqlite_utils.Database, post_id: str) -> dict[str, Any] | None:
    rows = list(db.table("posts").rows_where("id = ?", [post_id]))
    if not rows:
        return None
    post = rows[0]
    deliveries = [
        {
            "network": d["network"],
            "page": d["page"],
            "status": d["status"],
            "remote_id": d["remote_id"],
            "url": d["url"],
            "error": json.loads(d["error"]) if d["error"] else None,
            # every part of a thread, with its id and URL (the first part is also remote_id/url)
            "parts": json.loads(d["parts"]) if d["parts"] else [],
            "throttled_until": d["throttled_until"],  # while `throttled`: when the rate limit resets
        }
        for d in db.table("deliveries").rows_where("post_id = ?", [post_id], order_by="network, page")
    ]
    return {
        "id": post["id"],
        "agency": post["agency"],
        "author": post["author"],
        "status": post["status"],
        "reason": post["reason"],
        "text": post["text"],
        "original_text": _original_text(post),
        "link": post["link"],
        "schedule_at": post["schedule_at"],
        "created_at": post["created_at"],
        "policy": json.loads(post["policy"]) if post["policy"] else {},
        "content_warning": post["content_warning"],
        "title": post["title"],
        "tags": _tags.decode(post["tags"]) if post["tags"] else [],
        "media": [
            {
                "id": m.id,
                "alt": m.alt,
                "content_type": m.content_type,
                "size": m.size,
                "captions": [{"lang": c.lang, "media_id": c.id} for c in m.captions],
            }
            for m in (_media_refs.decode(post["media"]) if post["media"] else [])
        ],
        "deliveries": deliveries,
        "reply_to": _reply_view(post["reply_to"]),
    }


def _reply_view(stored: str | None) -> dict[str, str] | None:
    """What a reply answers, as its advisor reads it: ids, never the text answered."""
    if not stored:
        return None
    reply_to = _reply_to.decode(stored)
    return {"conversation": reply_to.conversation, "item_id": reply_to.item_id}


def list_posts(db: sqlite_utils.Database, author: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The latest posts at the agency (`author`'s only, when given), latest first, each with the
    networks its deliveries go to (in the registry's order)."""
    where, values = ("author = ?", [author]) if author is not None else (None, [])
    rows = list(db.table("posts").rows_where(where, values, order_by="seq desc", limit=limit))
    networks = _networks_of(db, [r["id"] for r in rows])
    return [
        {
            "id": r["id"],
            "status": r["status"],
            "created_at": r["created_at"],
            "author": r["author"],
            "text": r["text"],
            "reason": r["reason"],
            "schedule_at": r["schedule_at"],
            "networks": networks.get(r["id"], []),
            "edited": _original_text(r) is not None,
        }
        for r in rows
    ]


def _networks_of(db: sqlite_utils.Database, post_ids: Sequence[str]) -> dict[str, list[str]]:
    if not post_ids:
        return {}
    marks = ",".join("?" * len(post_ids))
    found: dict[str, set[str]] = {}
    for post_id, network in db.execute(
        f"select distinct post_id, network from deliveries where post_id in ({marks})", list(post_ids)
    ):
        found.setdefault(post_id, set()).add(network)
    order = {name: index for index, name in enumerate(NETWORKS)}
    return {p: sorted(n, key=lambda name: (order.get(name, len(order)), name)) for p, n in found.items()}


def upsert_page(db: sqlite_utils.Database, record: PageRecord, raw: bytes) -> None:
    with db.atomic():
        db.table("pages").upsert(
            {
                "page": record.page,
                "network": record.network,
                "handle": record.handle,
                "status": record.status,
                "record": raw.decode(),
            },
            pk="page",
        )


def delete_page(db: sqlite_utils.Database, page: str) -> None:
    with db.atomic():
        db.execute("delete from pages where page = ?", [page])


_page_record = msgspec.json.Decoder(PageRecord)


def page_records(db: sqlite_utils.Database) -> list[PageRecord]:
    """Every page of this agency known locally, as the hub described it, by network then page id."""
    return [_page_record.decode(r[0]) for r in db.execute("select record from pages order by network, page")]


def agency_pages(db: sqlite_utils.Database) -> dict[str, str]:
    """Page id -> network, for every page of this agency known locally: never an advocate's personal
    account (`PageRecord.owner`, #16), which her own shares alone reach."""
    rows = db.execute(
        "select page, network from pages where coalesce(json_extract(record, '$.owner'), '') = ''"
    )
    return {r[0]: r[1] for r in rows}


def insert_media(db: sqlite_utils.Database, row: dict[str, Any]) -> None:
    with db.atomic():
        db.table("media").insert(row)


def find_media(db: sqlite_utils.Database, ids: Sequence[str], agency: str) -> Mapping[str, MediaRef]:
    """The media among `ids` that `agency` uploaded, by id (alt text empty: a post gives its own)."""
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = db.execute(
        f"select id, content_type, size, sha256 from media where agency = ? and id in ({marks})",
        [agency, *ids],
    )
    return {r[0]: MediaRef(id=r[0], content_type=r[1], size=r[2], sha256=r[3]) for r in rows}


def unstored_media(db: sqlite_utils.Database, ids: Sequence[str]) -> list[MediaRef]:
    """Those of `ids` not yet in the hub's object store, in the order given."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = db.execute(
        f"select id, content_type, size, sha256 from media where stored_at is null and id in ({marks})",
        list(ids),
    )
    found = {r[0]: MediaRef(id=r[0], content_type=r[1], size=r[2], sha256=r[3]) for r in rows}
    return [found[i] for i in dict.fromkeys(ids) if i in found]


def mark_media_stored(db: sqlite_utils.Database, media_id: str) -> None:
    with db.atomic():
        db.execute("update media set stored_at = ? where id = ?", [utc_now(), media_id])
