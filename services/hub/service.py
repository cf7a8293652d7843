"""Hub bus work: approve rendered posts (policy) and record every event in the audit trail."""

from __future__ import annotations

import asyncio

import sqlite_utils
import structlog
from nats.js import JetStreamContext

from services.hub.audit import audit_fields
from services.hub.store import append_event
from shared import bus
from shared.ids import utc_now
from shared.schemas import STREAMS, PostApproved, PostRendered, decisions_subject, decode, decode_any

log = structlog.get_logger("relais.hub")

# Moderation is a policy on this step: for now every rendered post is approved by it.
AUTO_APPROVER = "policy:auto-approve"
APPROVAL = bus.ConsumerSpec(stream="VARIANTS", durable="hub-approval", filter_subject="variants.*.*.rendered")


async def approve(js: JetStreamContext, data: bytes) -> None:
    rendered = decode(data, PostRendered)
    approved = PostApproved(
        post_id=rendered.post_id,
        agency=rendered.agency,
        occurred_at=utc_now(),
        approved_by=AUTO_APPROVER,
        variants=rendered.variants,
        link=rendered.link,
        schedule_at=rendered.schedule_at,
    )
    subject = decisions_subject(rendered.agency, rendered.post_id, "approved")
    await bus.publish(js, subject, approved, f"{rendered.post_id}.approved")
    log.info("post.approved", post_id=rendered.post_id, agency=rendered.agency, by=AUTO_APPROVER)


def record(db: sqlite_utils.Database, message: bus.Incoming) -> None:
    event = decode_any(message.subject, message.data)
    fields = audit_fields(event)
    added = append_event(
        db,
        source=f"{message.stream}:{message.sequence}",
        occurred_at=event.occurred_at,
        post_id=event.post_id,
        agency=event.agency,
        event=fields.event,
        actor=fields.actor,
        network=fields.network,
        page=fields.page,
        detail=fields.detail,
    )
    if added:
        log.info("audit.recorded", post_id=event.post_id, agency=event.agency, audit_event=fields.event)


async def run_bus(js: JetStreamContext, db: sqlite_utils.Database, stop: asyncio.Event) -> None:
    async def on_rendered(message: bus.Incoming) -> None:
        await approve(js, message.data)

    async def on_event(message: bus.Incoming) -> None:
        record(db, message)

    audits = [
        bus.ConsumerSpec(stream=name, durable=f"hub-audit-{name.lower()}", filter_subject=">")
        for name in STREAMS
    ]
    async with asyncio.TaskGroup() as group:
        group.create_task(bus.consume(js, APPROVAL, on_rendered, stop))
        for spec in audits:
            group.create_task(bus.consume(js, spec, on_event, stop))
