"""Relaying the node's inbox assignments to the hub, in the order they were made, each exactly once.

A conversation's assignments all travel on one subject (`inbox.<agency>.<conversation>.assigned`),
and only this node may publish there (relais/nats_auth.py). So each is published with
`Nats-Expected-Last-Subject-Sequence` set to the stream sequence of the conversation's previous one
this node sent: a resend after a crash between JetStream's acknowledgement and the local commit is
refused as "wrong last sequence: N", N being the copy already stored, whatever the outage lasted
(`Nats-Msg-Id` alone drops duplicates only within the stream's two-minute window).

That answer means "already stored" only for an assignment published before (its attempt is on disk
before the publish). One never sent meets it when the node's file is older than the stream (restored
from a backup): N is then the last one the stream holds, and it is sent after N.
"""

from __future__ import annotations

import dataclasses
import re

import nats.errors
import nats.js.errors
import sqlite_utils
import structlog
from nats.aio.client import Client as NATS

from services.intake.inbox_store import (
    PendingAssignment,
    mark_assignment_attempted,
    mark_assignment_relayed,
    unrelayed_assignments,
)
from shared import bus
from shared.schemas import encode, inbox_subject

__all__ = ["relay_assignments"]

log = structlog.get_logger("relais.intake.inbox")

_STORED_AT = re.compile(r"wrong last sequence: (\d+)")


async def relay_assignments(nc: NATS, db: sqlite_utils.Database) -> int:
    """Send every unrelayed assignment, one at a time (people make them: a handful a minute). Returns
    how many the stream now holds; stops at the first failure, to keep the order."""
    js = nc.jetstream()
    sent = 0
    while batch := unrelayed_assignments(db):
        for pending in batch:
            if not pending.attempted:
                mark_assignment_attempted(db, pending)
            stored_at = await _publish(js, pending)
            if stored_at is None:
                return sent
            mark_assignment_relayed(db, pending, stored_at)
            sent += 1
    return sent


async def _publish(js: nats.js.JetStreamContext, pending: PendingAssignment) -> int | None:
    """The stream sequence that holds the assignment (sent now or before), or None when the link failed."""
    event = pending.event
    subject = inbox_subject(event.agency, event.conversation, "assigned")
    headers = {
        "Nats-Msg-Id": f"inbox-assigned:{event.agency}:{pending.seq}:{event.occurred_at}",
        "Nats-Expected-Last-Subject-Sequence": str(pending.after),
    }
    clog = log.bind(post_id=event.post_id, agency=event.agency, conversation=event.conversation)
    try:
        ack = await js.publish(subject, encode(event), headers=headers, timeout=5)
    except nats.js.errors.APIError as exc:
        stored = _STORED_AT.search(exc.description or "") if exc.err_code == bus.ALREADY_STORED else None
        if stored is None:
            clog.warning("inbox.assignment_relay_failed", error=repr(exc))
            return None
        last = int(stored.group(1))
        # Sent before, and the subject holds something newer than the node knew: that is this one.
        if pending.attempted and last != 0:
            clog.info("inbox.assignment_already_relayed", stream_seq=last)
            return last
        # Never sent (the node's file is older than the stream), or nothing at all on the subject
        # (the previous one aged out, so this one cannot be there): send it after what is there.
        if last == pending.after:  # cannot happen (JetStream accepted that), but never loop
            return None
        clog.warning("inbox.assignment_after_unknown", known=pending.after, stream_seq=last)
        return await _publish(js, dataclasses.replace(pending, after=last, attempted=True))
    except (nats.errors.Error, OSError, TimeoutError) as exc:  # the link dropped while sending
        clog.warning("inbox.assignment_relay_failed", error=repr(exc))
        return None
    clog.info("inbox.assignment_relayed", assignee=event.assignee, by=event.by, stream_seq=ack.seq)
    return int(ack.seq)
