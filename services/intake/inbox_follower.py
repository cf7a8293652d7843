"""The agency's inbox arriving at its node through its durable consumer (`inbox_consumer`, made by
the hub side): what was sent while the node was offline is applied when it reconnects, each item
once whatever the redeliveries. Hides: the hub's order and the dispatcher's outcome set the item's
`hidden` state (hide_requests.py); the node's own requests come back too and change nothing."""

from __future__ import annotations

import asyncio

import sqlite_utils
import structlog
from nats.js import JetStreamContext

from services.intake.hide_requests import record_hide_ordered, record_hide_outcome
from services.intake.inbox_store import escalate, store_item
from shared import bus
from shared.agency_consumers import inbox_consumer
from shared.schemas import (
    ESCALATION_LEVELS,
    HIDE_OUTCOMES,
    InboxAssigned,
    InboxEscalated,
    InboxHideOrdered,
    InboxItemHidden,
    InboxItemReceived,
    decode_any,
)

__all__ = ["apply_inbox_event", "follow_inbox"]

log = structlog.get_logger("relais.intake.inbox")


def apply_inbox_event(db: sqlite_utils.Database, agency: str, subject: str, data: bytes) -> None:
    event = decode_any(subject, data)
    subject_agency = subject.split(".")[1]
    clog = log.bind(post_id=event.post_id, agency=agency, conversation=getattr(event, "conversation", None))
    if subject_agency != agency or event.agency != agency:  # the filter says ours: a bug upstream
        clog.error("inbox.not_ours", subject_agency=subject_agency, event_agency=event.agency)
        return
    match event:
        case InboxItemReceived():
            if store_item(db, event):
                clog.info("inbox.item_stored", network=event.network, page=event.page, kind=event.kind)
        case InboxEscalated():
            if event.level not in ESCALATION_LEVELS:  # it would never apply: a bug upstream
                clog.error("inbox.unknown_level", level=event.level)
            elif escalate(db, event):
                clog.info("inbox.escalated", level=event.level, deadline=event.deadline)
        case InboxHideOrdered():  # asked here, or by a moderator at the hub
            if record_hide_ordered(db, event):
                clog.info("inbox.hide_ordered", item_id=event.item_id, by=event.by)
        case InboxItemHidden():
            if event.outcome not in HIDE_OUTCOMES:  # it would never apply: a bug upstream
                clog.error("inbox.unknown_hide_outcome", outcome=event.outcome)
            elif record_hide_outcome(db, event):
                clog.info(f"inbox.item_{event.outcome}", item_id=event.item_id)
        case InboxAssigned():
            # This node's own, written here first: nothing to change. (Taking its stream sequence
            # as the conversation's last would let a resend of an unmarked one through twice.)
            pass


async def follow_inbox(
    js: JetStreamContext, db: sqlite_utils.Database, agency: str, stop: asyncio.Event
) -> None:
    async def on_message(message: bus.Incoming) -> None:
        apply_inbox_event(db, agency, message.subject, message.data)

    await bus.consume(js, inbox_consumer(agency), on_message, stop)
