"""The agency's inbox at its node (tables made by services/intake/store.py's `m010_inbox`): items
people sent to its pages, each stored once by (network, item id), their conversations with who
answers them and how far they were escalated, and the assignments waiting to be relayed.

Only this agency's conversations are ever here: its consumer is filtered on its subjects, and the
follower checks each event's agency besides (`services/intake/inbox_follower.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from shared.ids import utc_now
from shared.personal_data import KINDS, mask
from shared.schemas import (
    ESCALATION_LEVELS,
    InboxAssigned,
    InboxEscalated,
    InboxItemReceived,
    decode,
    encode,
)

__all__ = [
    "PendingAssignment",
    "agency_advisors",
    "answered_item",
    "assign",
    "escalate",
    "find_conversation",
    "is_agency_advisor",
    "items_of",
    "list_conversations",
    "mark_assignment_attempted",
    "mark_assignment_relayed",
    "resolve",
    "store_item",
    "unrelayed_assignments",
]

# Enough for any agency's open conversations; a list past it shows the oldest waiting first.
LIST_LIMIT = 1000
_ESCALATION_RANK = {"": 0, **{level: rank for rank, level in enumerate(ESCALATION_LEVELS, 1)}}
_SUMMARY_COLUMNS = (
    "id, network, page, post_id, status, assignee, escalation, deadline, calendar, items,"
    " first_item_at, last_item_at, updated_at"
)
_SUMMARY_KEYS = tuple(name.strip() for name in _SUMMARY_COLUMNS.split(","))


def store_item(db: sqlite_utils.Database, item: InboxItemReceived) -> bool:
    """Keep the item and count it in its conversation; False when it was already here (a redelivery,
    or the same item polled and pushed: its network id says so).

    Its publisher masked it; it is masked again here, its author's name too (masking is
    idempotent), so that an identifier a publisher let through by mistake, or that a person put in
    their display name, never reaches a view or this file."""
    now = utc_now()
    masked, author = mask(item.text), mask(item.author_name)
    kinds = [kind for kind in KINDS if kind in masked.kinds or kind in author.kinds]
    with db.atomic():
        cursor = db.execute(
            "insert into inbox_items (network, item_id, conversation, page, kind, root_id, parent_id,"
            " author_name, text, masked, created_at, url, received_at)"
            " values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (network, item_id) do nothing",
            [
                item.network,
                item.item_id,
                item.conversation,
                item.page,
                item.kind,
                item.root_id,
                item.parent_id,
                author.text,
                masked.text,
                json.dumps(kinds),
                item.created_at,
                item.url,
                now,
            ],
        )
        if cursor.rowcount != 1:
            return False
        _ensure_conversation(db, item.conversation, item.network, item.page, item.post_id)
        db.execute(
            "update conversations set items = items + 1,"
            " first_item_at = min(coalesce(first_item_at, ?), ?),"
            " last_item_at = max(coalesce(last_item_at, ?), ?), updated_at = ? where id = ?",
            [item.created_at] * 4 + [now, item.conversation],
        )
        _reopen_if_written_after_reply(db, item)
    return True


def _reopen_if_written_after_reply(db: sqlite_utils.Database, item: InboxItemReceived) -> None:
    """A person writing again after the reply reopens the conversation (as the hub's clock
    restarts): back to its advisor, or to the shared queue. An item dated before the reply (it
    arrived late) was answered by it."""
    row = db.execute("select status, answered_at from conversations where id = ?", [item.conversation])
    status, answered_at = row.fetchone()
    if status == "resolved" and answered_at and _instant(item.created_at) > _instant(answered_at):
        db.execute(
            "update conversations set status = case when assignee = '' then 'new' else 'pending' end"
            " where id = ?",
            [item.conversation],
        )


def _instant(text: str) -> datetime:
    """An ISO-8601 instant as the network or the bus wrote it (`Z` or an offset; none is UTC)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)  # undated: taken as written after the reply
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def answered_item(db: sqlite_utils.Database, conversation: str, item_id: str | None) -> dict[str, Any] | None:
    """The item a reply answers: `item_id` when given (None when it is not this conversation's),
    else the conversation's latest item (None when it has none)."""
    where, values = ("and item_id = ?", [item_id]) if item_id is not None else ("", [])
    row = db.execute(
        "select item_id, kind, root_id, author_name from inbox_items where conversation = ?"
        f" {where} order by created_at desc, item_id desc limit 1",
        [conversation, *values],
    ).fetchone()
    return dict(zip(("item_id", "kind", "root_id", "author_name"), row, strict=True)) if row else None


def resolve(db: sqlite_utils.Database, conversation: str, post_id: str, at: str) -> bool:
    """The reply `post_id` was published at `at`: the conversation is resolved, as the hub
    stops its clock (a redelivery, or an earlier reply published late, changes nothing). True when
    it changed."""
    with db.atomic():
        row = db.execute("select status, answered_at from conversations where id = ?", [conversation])
        found = row.fetchone()
        if found is None or (found[0] == "resolved" and found[1] and _instant(found[1]) >= _instant(at)):
            return False
        db.execute(
            "update conversations set status = 'resolved', answered_at = ?, answered_by_post = ?,"
            " updated_at = ? where id = ?",
            [at, post_id, utc_now(), conversation],
        )
    return True


def escalate(db: sqlite_utils.Database, event: InboxEscalated) -> bool:
    """Raise the conversation to the event's level (never lower it: a redelivered `region` after
    `hub` changes nothing; a level outside ESCALATION_LEVELS changes nothing either). True when it
    changed."""
    if event.level not in ESCALATION_LEVELS:
        return False
    with db.atomic():
        _ensure_conversation(db, event.conversation, event.network, event.page, event.post_id)
        current = db.execute("select escalation from conversations where id = ?", [event.conversation])
        if _ESCALATION_RANK[current.fetchone()[0]] >= _ESCALATION_RANK[event.level]:
            return False
        db.execute(
            "update conversations set escalation = ?, deadline = ?, calendar = ?, updated_at = ?"
            " where id = ?",
            [event.level, event.deadline, event.calendar, utc_now(), event.conversation],
        )
    return True


def _ensure_conversation(
    db: sqlite_utils.Database, conversation: str, network: str, page: str, post_id: str
) -> None:
    db.execute(
        "insert into conversations (id, network, page, post_id, updated_at) values (?, ?, ?, ?, ?)"
        " on conflict (id) do update set post_id = excluded.post_id"
        " where conversations.post_id = '' and excluded.post_id != ''",
        [conversation, network, page, post_id, utc_now()],
    )


def list_conversations(db: sqlite_utils.Database, assignee: str | None = None) -> list[dict[str, Any]]:
    """The agency's conversations, the longest waiting first; only `assignee`'s when given ("" is
    the shared queue)."""
    where, values = ("where assignee = ?", [assignee]) if assignee is not None else ("", [])
    rows = db.execute(
        f"select {_SUMMARY_COLUMNS} from conversations {where}"
        " order by first_item_at is null, first_item_at, id limit ?",
        [*values, LIST_LIMIT],
    )
    return [_summary(row) for row in rows]


def find_conversation(db: sqlite_utils.Database, conversation: str) -> dict[str, Any] | None:
    row = db.execute(f"select {_SUMMARY_COLUMNS} from conversations where id = ?", [conversation]).fetchone()
    return _summary(row) if row else None


def _summary(row: Any) -> dict[str, Any]:
    summary = dict(zip(_SUMMARY_KEYS, row, strict=True))
    summary["escalation"] = summary["escalation"] or None
    return summary


def items_of(db: sqlite_utils.Database, conversation: str) -> list[dict[str, Any]]:
    """The conversation's items as stored (masked), the oldest first."""
    rows = db.execute(
        "select network, item_id, kind, parent_id, author_name, text, masked, created_at, url, hidden,"
        " hide_error from inbox_items where conversation = ? order by created_at, item_id",
        [conversation],
    )
    return [
        {
            "item_id": r[1],
            "kind": r[2],
            "parent_id": r[3],
            "author_name": r[4],
            "text": r[5],
            "masked": json.loads(r[6] or "[]"),
            "created_at": r[7],
            "url": r[8],
            "hidden": r[9],
            "hide_error": json.loads(r[10]) if r[10] else None,
        }
        for r in rows
    ]


def is_agency_advisor(db: sqlite_utils.Database, agency: str, username: str) -> bool:
    """An enabled advisor account of `agency`, as the node mirrors the hub's accounts."""
    row = db.execute(
        "select 1 from users where username = ? and role = 'advisor' and agency = ? and disabled = 0",
        [username, agency],
    ).fetchone()
    return row is not None


def assign(
    db: sqlite_utils.Database, agency: str, conversation: str, assignee: str, by: str
) -> tuple[dict[str, Any] | None, bool]:
    """Give the conversation to `assignee` ("" for the shared queue) and write the `InboxAssigned`
    to relay, in one durable transaction. The conversation as it now is (None when it is not here),
    and whether it changed: giving it to whoever already has it writes nothing."""
    with db.atomic():
        found = find_conversation(db, conversation)
        if found is None or found["assignee"] == assignee:
            return found, False
        now = utc_now()
        event = InboxAssigned(
            post_id=found["post_id"],
            agency=agency,
            occurred_at=now,
            conversation=conversation,
            network=found["network"],
            page=found["page"],
            assignee=assignee,
            by=by,
        )
        # `pending` while someone has it, `new` back in the shared queue (as the hub reads it); a later
        # status (answered, resolved) is not the assignment's to change.
        db.execute(
            "update conversations set assignee = ?, updated_at = ?, status = case when status in"
            " ('new', 'pending') then (case when ? = '' then 'new' else 'pending' end) else status end"
            " where id = ?",
            [assignee, now, assignee, conversation],
        )
        db.table("inbox_outbox").insert(
            {"conversation": conversation, "event": encode(event).decode(), "created_at": now}
        )
    return find_conversation(db, conversation), True


@dataclass(frozen=True)
class PendingAssignment:
    seq: int  # the node's outbox order (the message id derives from it)
    event: InboxAssigned
    after: int  # the stream sequence of the conversation's last `assigned` this node sent, 0 if none
    attempted: bool  # published at least once before (it may be in the stream already)


def unrelayed_assignments(db: sqlite_utils.Database, limit: int = 100) -> list[PendingAssignment]:
    rows = db.execute(
        "select o.seq, o.event, c.assigned_seq, o.attempted_at is not null from inbox_outbox o"
        " join conversations c on c.id = o.conversation where o.relayed_at is null order by o.seq limit ?",
        [limit],
    )
    return [
        PendingAssignment(r[0], decode(r[1].encode(), InboxAssigned), int(r[2] or 0), bool(r[3]))
        for r in rows
    ]


def mark_assignment_attempted(db: sqlite_utils.Database, pending: PendingAssignment) -> None:
    """On disk before its first publish (so that a crash just after still counts as an attempt)."""
    with db.atomic():
        db.execute("update inbox_outbox set attempted_at = ? where seq = ?", [utc_now(), pending.seq])


def mark_assignment_relayed(db: sqlite_utils.Database, pending: PendingAssignment, stream_seq: int) -> None:
    """The stream holds it at `stream_seq`: the conversation's next assignment goes after it."""
    with db.atomic():
        db.execute("update inbox_outbox set relayed_at = ? where seq = ?", [utc_now(), pending.seq])
        db.execute(
            "update conversations set assigned_seq = ? where id = ?", [stream_seq, pending.event.conversation]
        )


def agency_advisors(db: sqlite_utils.Database, agency: str) -> list[str]:
    """The enabled advisor accounts of `agency` (who a conversation may be given to), by name."""
    rows = db.execute(
        "select username from users where role = 'advisor' and agency = ? and disabled = 0 order by username",
        [agency],
    )
    return [row[0] for row in rows]
