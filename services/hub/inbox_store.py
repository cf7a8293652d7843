"""The inbox in hub.db (tables of services/hub/store.py's m013): items, conversations, SLA clocks and
escalations. Every write goes through `write_transaction`.

- An item is stored once, keyed by (network, item id), however often it arrives (polled, pushed).
- A conversation belongs to its page's agency; it is `new` in the agency's shared queue, `pending`
  once given to an advisor (and `new` again if given back to the queue), `resolved` once a reply to
  it is published (`record_reply_published`), and `new` or `pending` again when the person writes
  after that response.
- Its clock starts at its first unanswered item (the network's date of it), on its page's calendar,
  and runs until a response (`record_response`): assignment does not stop it. An item dated after a
  response starts a new clock; one dated before the clock's start (it arrived late) moves the start.
- Each clock is a question (`inbox_questions`, written with the clock in the same transaction): when
  it started, its deadline, and when it was answered, so the figures outlive the clock.
- Each clock escalates once per level: the decision, its audit entry and its message (in the
  outbox) are one transaction (`claim_escalation`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from services.hub.store import Outgoing, add_to_outbox, append_uncommitted
from shared.ids import utc_now
from shared.schemas import DeliveryUpdated, InboxAssigned, InboxItemReceived, ReplyTo, conversation_key
from shared.sqlite_writes import write_transaction

__all__ = [
    "ClockPlan",
    "DueEscalation",
    "answered_source",
    "claim_escalation",
    "conversation_items",
    "conversations",
    "due_escalations",
    "escalation_source",
    "record_assignment",
    "record_item",
    "record_reply_published",
    "record_response",
    "remember_reply",
    "reply_refusal",
    "utc_text",
]


def utc_text(instant: datetime) -> str:
    """An instant as stored: UTC, always to the microsecond, so that text order is time order."""
    return instant.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class ClockPlan:
    """A clock started at some instant: its deadline and when it reaches each escalation level."""

    deadline: datetime
    escalations: list[tuple[str, datetime]]  # (level, due), in order


# What a clock started at an instant means (the page's calendar, the target, the fractions).
Planner = Callable[[datetime], ClockPlan]


def record_item(
    db: sqlite_utils.Database,
    item: InboxItemReceived,
    created: datetime,
    calendar: str,
    plan: Planner,
    *,
    region: str,
) -> bool:
    """Store a received item (its text already masked) and start or move its conversation's clock;
    False, with nothing changed, when the item was already stored. `region` is the agency's (the page
    registry's), kept with the question for the figures."""
    now = utc_now()
    with write_transaction(db):
        added = db.execute(
            "insert or ignore into inbox_items (network, item_id, conversation, agency, page, post_id, kind,"
            " parent_id, text, masked, created_at, received_at, via) values"
            " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                item.network,
                item.item_id,
                item.conversation,
                item.agency,
                item.page,
                item.post_id,
                item.kind,
                item.parent_id,
                item.text,
                json.dumps(item.masked),
                utc_text(created),
                now,
                item.via,
            ],
        ).rowcount
        if not added:
            return False
        row = db.execute(
            "select clock, clock_started_at, answered_at from inbox_conversations where conversation = ?",
            [item.conversation],
        ).fetchone()
        at = utc_text(created)
        if row is None:
            _new_conversation(db, item, at, calendar, plan(created), now)
            _new_question(db, item.conversation, 1, region, at, plan(created))
            return True
        clock, started, answered = row
        db.execute(
            "update inbox_conversations set first_item_at = min(first_item_at, ?), updated_at = ?,"
            " post_id = coalesce(nullif(post_id, ''), ?) where conversation = ?",
            [at, now, item.post_id, item.conversation],
        )
        if started is None and (answered is None or at > answered):  # waits for a response again
            _start_clock(db, item.conversation, clock + 1, at, plan(created), now)
            _new_question(db, item.conversation, clock + 1, region, at, plan(created))
        elif started is not None and at < started:  # arrived late: the clock started earlier
            _move_clock(db, item.conversation, clock, at, plan(created), now)
    return True


def _new_conversation(
    db: sqlite_utils.Database, item: InboxItemReceived, at: str, calendar: str, plan: ClockPlan, now: str
) -> None:
    db.execute(
        "insert into inbox_conversations (conversation, agency, page, network, post_id, calendar, status,"
        " assignee, first_item_at, clock, clock_started_at, deadline, escalation_level, updated_at)"
        " values (?, ?, ?, ?, ?, ?, 'new', '', ?, 1, ?, ?, '', ?)",
        [
            item.conversation,
            item.agency,
            item.page,
            item.network,
            item.post_id,
            calendar,
            at,
            at,
            utc_text(plan.deadline),
            now,
        ],
    )
    _plan_escalations(db, item.conversation, 1, plan)


def _new_question(
    db: sqlite_utils.Database, conversation: str, clock: int, region: str, at: str, plan: ClockPlan
) -> None:
    """The question a clock is, from the conversation as its clock now stands."""
    db.execute(
        "insert or replace into inbox_questions (conversation, clock, agency, region, page, network,"
        " calendar, received_at, deadline, answered_at) select conversation, ?, agency, ?, page, network,"
        " calendar, ?, ?, null from inbox_conversations where conversation = ?",
        [clock, region, at, utc_text(plan.deadline), conversation],
    )


def _start_clock(
    db: sqlite_utils.Database, conversation: str, clock: int, at: str, plan: ClockPlan, now: str
) -> None:
    """A new clock: the person wrote again after a response, which reopens a resolved conversation
    (back to its advisor, or to the shared queue)."""
    db.execute(
        "update inbox_conversations set clock = ?, clock_started_at = ?, deadline = ?,"
        " escalation_level = '', updated_at = ?, status = case when status = 'resolved' then"
        " (case when assignee = '' then 'new' else 'pending' end) else status end where conversation = ?",
        [clock, at, utc_text(plan.deadline), now, conversation],
    )
    _plan_escalations(db, conversation, clock, plan)


def _move_clock(
    db: sqlite_utils.Database, conversation: str, clock: int, at: str, plan: ClockPlan, now: str
) -> None:
    """The same clock, started earlier: a level already reached stays reached (once per clock)."""
    db.execute(
        "update inbox_conversations set clock_started_at = ?, deadline = ?, updated_at = ?"
        " where conversation = ?",
        [at, utc_text(plan.deadline), now, conversation],
    )
    db.execute(
        "update inbox_questions set received_at = ?, deadline = ? where conversation = ? and clock = ?",
        [at, utc_text(plan.deadline), conversation, clock],
    )
    for level, due in plan.escalations:
        db.execute(
            "update inbox_escalations set due_at = ? where conversation = ? and clock = ? and level = ?"
            " and escalated_at is null",
            [utc_text(due), conversation, clock, level],
        )


def _plan_escalations(db: sqlite_utils.Database, conversation: str, clock: int, plan: ClockPlan) -> None:
    for level, due in plan.escalations:
        db.execute(
            "insert or ignore into inbox_escalations (conversation, clock, level, due_at)"
            " values (?, ?, ?, ?)",
            [conversation, clock, level, utc_text(due)],
        )


def record_assignment(db: sqlite_utils.Database, assigned: InboxAssigned) -> str:
    """An agency node's assignment: `assigned`, `stale` (a later one is already recorded), `unknown`
    (no such conversation yet) or `foreign` (the conversation is another agency's)."""
    with write_transaction(db):
        row = db.execute(
            "select agency, assigned_at from inbox_conversations where conversation = ?",
            [assigned.conversation],
        ).fetchone()
        if row is None:
            return "unknown"
        if row[0] != assigned.agency:
            return "foreign"
        if row[1] is not None and row[1] > assigned.occurred_at:
            return "stale"
        db.execute(
            "update inbox_conversations set assignee = ?, assigned_by = ?, assigned_at = ?,"
            " status = case when ? = '' then 'new' else 'pending' end, updated_at = ? where conversation = ?",
            [
                assigned.assignee,
                assigned.by,
                assigned.occurred_at,
                assigned.assignee,
                utc_now(),
                assigned.conversation,
            ],
        )
    return "assigned"


def remember_reply(
    db: sqlite_utils.Database, post_id: str, agency: str, author: str, reply_to: ReplyTo
) -> None:
    """A rendered reply, as the hub first decides it (before any delivery of it can exist)."""
    with write_transaction(db):
        db.execute(
            "insert or ignore into inbox_replies (post_id, agency, author, conversation, network, page,"
            " item_id, recorded_at) values (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                post_id,
                agency,
                author,
                reply_to.conversation,
                reply_to.network,
                reply_to.page,
                reply_to.item_id,
                utc_now(),
            ],
        )


def reply_refusal(db: sqlite_utils.Database, agency: str, reply_to: ReplyTo) -> str | None:
    """Why the hub does not send a reply, or None. An agency's NATS user can publish any body on its
    own subjects, so what a reply answers is checked against the hub's own inbox: the conversation is
    the agency's, on the reply's page, its thread is `root_id`'s, and the item answered is one of its
    items, of the kind said (a private message is never answered in public). Raises `LookupError`
    when the conversation is not at the hub (yet)."""
    row = db.execute(
        "select agency, page, network from inbox_conversations where conversation = ?",
        [reply_to.conversation],
    ).fetchone()
    if row is None:
        raise LookupError(reply_to.conversation)
    what = f"conversation {reply_to.conversation}"
    if row[0] != agency:
        return f"{what} is not agency {agency}'s"
    if (row[2], row[1]) != (reply_to.network, reply_to.page):
        return f"{what} is on {row[2]}:{row[1]}, not {reply_to.network}:{reply_to.page}"
    if conversation_key(reply_to.network, reply_to.root_id) != reply_to.conversation:
        return f"{reply_to.root_id} is not the first item of {what}"
    item = db.execute(
        "select kind from inbox_items where network = ? and item_id = ? and conversation = ?",
        [reply_to.network, reply_to.item_id, reply_to.conversation],
    ).fetchone()
    if item is None:
        return f"item {reply_to.item_id} is not one of {what}'s"
    if item[0] != reply_to.kind:
        return f"item {reply_to.item_id} is a {item[0]}, not a {reply_to.kind}"
    return None


def answered_source(post_id: str, page: str) -> str:
    return f"hub:inbox.answered:{post_id}:{page}"


def record_reply_published(db: sqlite_utils.Database, delivery: DeliveryUpdated, at: datetime) -> str:
    """A published delivery: when it is a reply's, its conversation's clock stops and the
    conversation is resolved, audited as `inbox.answered` (who wrote it, which delivery), in one
    transaction. `not_reply`, `answered`, `already` (a redelivery), `unknown` (the conversation is
    not at the hub yet) or `foreign` (it is not the reply's agency's, or not on its page)."""
    # Most deliveries are not replies: those take no write lock (a campaign publishes thousands).
    if db.execute("select 1 from inbox_replies where post_id = ?", [delivery.post_id]).fetchone() is None:
        return "not_reply"
    with write_transaction(db):
        reply = db.execute(
            "select agency, author, conversation, network, page, item_id, answered_at from inbox_replies"
            " where post_id = ?",
            [delivery.post_id],
        ).fetchone()
        if reply is None or reply[4] != delivery.page or reply[0] != delivery.agency:
            return "not_reply"
        agency, author, conversation, network, page, item_id, answered_at = reply
        if answered_at is not None:
            return "already"
        found = db.execute(
            "select agency, page from inbox_conversations where conversation = ?", [conversation]
        ).fetchone()
        if found is None:
            return "unknown"
        if tuple(found) != (agency, page):
            return "foreign"
        record_response(db, conversation, at)
        now = utc_now()
        db.execute(
            "update inbox_conversations set status = 'resolved', updated_at = ? where conversation = ?",
            [now, conversation],
        )
        db.execute(
            "update inbox_replies set answered_at = ? where post_id = ?", [utc_text(at), delivery.post_id]
        )
        append_uncommitted(
            db,
            source=answered_source(delivery.post_id, page),
            occurred_at=utc_text(at),
            post_id=delivery.post_id,
            agency=agency,
            event="inbox.answered",
            actor=author,
            network=network,
            page=page,
            detail={
                "conversation": conversation,
                "item_id": item_id,
                "remote_id": delivery.remote_id,
                "url": delivery.url,
            },
        )
    return "answered"


def record_response(db: sqlite_utils.Database, conversation: str, at: datetime) -> bool:
    """A response was sent: the running clock stops (its levels not reached are never escalated) and
    its question is answered. A response dated before the question (the network's clock, or an item
    that arrived late and moved the start) answers it at its start: a first-response time is never
    negative."""
    with write_transaction(db):
        db.execute(
            "update inbox_questions set answered_at = max(?, received_at) where conversation = ?"
            " and answered_at is null"
            " and clock = (select clock from inbox_conversations where conversation = ?"
            " and clock_started_at is not null)",
            [utc_text(at), conversation, conversation],
        )
        return bool(
            db.execute(
                "update inbox_conversations set clock_started_at = null, deadline = null,"
                " answered_at = max(?, clock_started_at),"
                " updated_at = ? where conversation = ? and clock_started_at is not null",
                [utc_text(at), utc_now(), conversation],
            ).rowcount
        )


@dataclass(frozen=True)
class DueEscalation:
    conversation: str
    clock: int
    level: str
    agency: str
    page: str
    network: str
    post_id: str
    calendar: str
    deadline: str  # UTC


def due_escalations(db: sqlite_utils.Database, now: datetime, limit: int = 500) -> list[DueEscalation]:
    """The levels that running clocks have reached by `now` and that were not escalated yet."""
    rows = db.execute(
        "select e.conversation, e.clock, e.level, c.agency, c.page, c.network, coalesce(c.post_id, ''),"
        " c.calendar, c.deadline from inbox_escalations e join inbox_conversations c"
        " on c.conversation = e.conversation and c.clock = e.clock"
        " where e.escalated_at is null and e.due_at <= ? and c.clock_started_at is not null"
        " order by e.due_at limit ?",
        [utc_text(now), limit],
    ).fetchall()
    return [DueEscalation(*row) for row in rows]


def escalation_source(conversation: str, level: str, deadline: str) -> str:
    """The audit source of an escalation: written with the decision, so the InboxEscalated the audit
    consumer reads back from the bus (same source) is not recorded a second time."""
    return f"hub:inbox.escalated:{conversation}:{level}:{deadline}"


def claim_escalation(
    db: sqlite_utils.Database, due: DueEscalation, message: Outgoing, deadline: str, now: datetime
) -> bool:
    """Record that the clock reached the level, with its audit entry and its message in the outbox,
    in one transaction; False, with nothing changed, when it was escalated already or answered
    meanwhile. `deadline` is as the message carries it (in the calendar's zone)."""
    with write_transaction(db):
        claimed = db.execute(
            "update inbox_escalations set escalated_at = ? where conversation = ? and clock = ? and level = ?"
            " and escalated_at is null and exists (select 1 from inbox_conversations where conversation = ?"
            " and clock = ? and clock_started_at is not null)",
            [utc_text(now), due.conversation, due.clock, due.level, due.conversation, due.clock],
        ).rowcount
        if not claimed:
            return False
        db.execute(
            "update inbox_conversations set escalation_level = ?, updated_at = ? where conversation = ?",
            [due.level, utc_now(), due.conversation],
        )
        add_to_outbox(db, due.post_id, due.agency, message)
        append_uncommitted(
            db,
            source=escalation_source(due.conversation, due.level, deadline),
            occurred_at=utc_text(now),
            post_id=due.post_id,
            agency=due.agency,
            event="inbox.escalated",
            actor="hub",
            network=due.network,
            page=due.page,
            detail={
                "conversation": due.conversation,
                "level": due.level,
                "deadline": deadline,
                "calendar": due.calendar,
            },
        )
    return True


def conversations(db: sqlite_utils.Database, conversation: str | None = None) -> list[dict[str, Any]]:
    """Every conversation (or the one named) with its last item, the most urgent first (those
    waiting for no response last)."""
    where, parameters = ("where c.conversation = ?", [conversation]) if conversation is not None else ("", [])
    return [
        dict(row)
        for row in db.execute_returning_dicts(
            "select c.*, i.text as last_text, i.kind as last_kind, i.created_at as last_item_at"
            " from inbox_conversations c left join inbox_items i on i.rowid = (select rowid from inbox_items"
            f" where conversation = c.conversation order by created_at desc, rowid desc limit 1) {where}"
            " order by c.deadline is null, c.deadline, c.first_item_at",
            parameters,
        )
    ]


def conversation_items(db: sqlite_utils.Database, conversation: str) -> list[dict[str, Any]]:
    return [
        {
            **row,
            "masked": json.loads(row["masked"] or "[]"),
            "hide_error": json.loads(row["hide_error"]) if row["hide_error"] else None,
        }
        for row in db.execute_returning_dicts(
            "select network, item_id, kind, parent_id, text, masked, created_at, via, hidden, hide_error"
            " from inbox_items where conversation = ? order by created_at, rowid",
            [conversation],
        )
    ]
