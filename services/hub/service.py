"""Hub bus work: approve rendered posts (policy), release scheduled ones on time, record every event
in the audit trail, and note when each agency was last heard from."""

from __future__ import annotations

import asyncio
import contextlib
import difflib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import msgspec
import nats.errors
import nats.js.errors
import sqlite_utils
import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from services.hub.audit import audit_fields
from services.hub.policy import needs_moderator
from services.hub.schedule import late_reason, plan_release
from services.hub.store import (
    append_event,
    append_uncommitted,
    due_approvals,
    enqueue,
    hold,
    load_policies,
    release,
    saw_agency,
)
from shared import bus
from shared.ids import utc_now
from shared.schemas import (
    HEARTBEAT_SUBJECTS,
    STREAMS,
    AgencyHeartbeat,
    Message,
    PostApproved,
    PostEdited,
    PostExpired,
    PostReceived,
    PostRejected,
    PostRendered,
    PostScheduled,
    PostTargeted,
    Variant,
    decisions_subject,
    decode,
    decode_any,
    encode,
    targets_subject,
)

log = structlog.get_logger("relais.hub")

# Moderation is a policy on this step: for now every rendered post is approved by it.
AUTO_APPROVER = "policy:auto-approve"
APPROVAL = bus.ConsumerSpec(stream="VARIANTS", durable="hub-approval", filter_subject="variants.*.*.rendered")

# Told (post id, audit event) after the hub recorded an event about a post: the dashboard's live feed.
ChangeHook = Callable[[str, str], None]


def _unheard(post_id: str, event: str) -> None:
    """The default hook: nobody listens."""


class Approver:
    """Approves rendered posts: by policy, or by a moderator's decision from the queue."""

    def __init__(
        self,
        link: bus.BusLink,
        db: sqlite_utils.Database,
        grace: timedelta,
        on_change: ChangeHook = _unheard,
    ) -> None:
        self._link = link
        self._db = db
        self._grace = grace
        self.on_change = on_change

    @property
    def _js(self) -> JetStreamContext:
        assert self._link.nc is not None, "the bus is not connected yet"
        return self._link.nc.jetstream()

    async def decide(self, data: bytes) -> None:
        """A freshly rendered post: approved by the policy, or queued for a moderator."""
        rendered = decode(data, PostRendered)
        if rendered.edited_by:  # the moderator who edited this text approved it
            await self.approve(rendered, rendered.edited_by)
            return
        pages = [v.page for v in rendered.variants]
        if needs_moderator(load_policies(self._db), rendered.author, rendered.agency, pages):
            text = await self.original_text(rendered.agency, rendered.post_id)
            enqueue(self._db, rendered.post_id, rendered.agency, rendered.author, data, text)
            append_event(
                self._db,
                source=f"hub:queued:{rendered.post_id}",
                occurred_at=utc_now(),
                post_id=rendered.post_id,
                agency=rendered.agency,
                event="queued",
                actor="policy",
                detail={"pages": pages},
            )
            log.info("post.queued", post_id=rendered.post_id, agency=rendered.agency)
            self.on_change(rendered.post_id, "queued")
            return
        await self.approve(rendered, AUTO_APPROVER)

    async def approve(self, rendered: PostRendered, approved_by: str) -> None:
        plog = log.bind(post_id=rendered.post_id, agency=rendered.agency)
        plan = plan_release(rendered.schedule_at, rendered.variants, datetime.now(UTC), self._grace)
        if plan.expired:
            assert rendered.schedule_at is not None
            await self._expire(
                rendered.post_id, rendered.agency, [v.page for v in plan.expired], rendered.schedule_at
            )
        for due, variants in plan.later.items():
            approval = self._approval(rendered, variants, approved_by, schedule_at=rendered.schedule_at)
            hold(self._db, rendered.post_id, rendered.agency, due.isoformat(), encode(approval))
        if plan.later:
            first = min(plan.later).isoformat()
            scheduled = PostScheduled(
                post_id=rendered.post_id,
                agency=rendered.agency,
                occurred_at=utc_now(),
                approved_by=approved_by,
                publish_at=first,
            )
            subject = decisions_subject(rendered.agency, rendered.post_id, "scheduled")
            await bus.publish(self._js, subject, scheduled, f"{rendered.post_id}.scheduled")
            plog.info("post.scheduled", publish_at=first, by=approved_by)
        if plan.now:
            approval = self._approval(rendered, plan.now, approved_by)
            await self._release(approval, f"{rendered.post_id}.approved")
            plog.info("post.approved", by=approved_by, pages=len(plan.now))

    async def targeted(self, agency: str, post_id: str) -> PostTargeted:
        """The post as the formatter last received it (the TARGETS stream keeps it)."""
        message = await self._js.get_last_msg("TARGETS", targets_subject(agency, post_id))
        assert message.data is not None
        return msgspec.json.decode(message.data, type=PostTargeted)

    async def original_text(self, agency: str, post_id: str) -> str | None:
        try:
            return (await self.targeted(agency, post_id)).text
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError):
            return None  # the queue still works; an edit then starts from the rendered text

    async def approve_queued(self, rendered: PostRendered, moderator: str, text: str | None) -> int:
        """A moderator's approval, with an edit when `text` differs from what was written; returns the
        revision (0 without an edit)."""
        if text is not None:
            targeted = await self.targeted(rendered.agency, rendered.post_id)
            if text != targeted.text:
                return await self.edit(targeted, text, moderator)
        await self.approve(rendered, moderator)
        return 0

    async def edit(self, targeted: PostTargeted, text: str, edited_by: str) -> int:
        """Send the edited text through the formatter again; its rendering is approved by `edited_by`."""
        revision = targeted.revision + 1
        diff = "".join(
            difflib.unified_diff(
                targeted.text.splitlines(keepends=True),
                text.splitlines(keepends=True),
                f"revision {targeted.revision}",
                f"revision {revision} ({edited_by})",
            )
        )
        edited = PostEdited(
            post_id=targeted.post_id,
            agency=targeted.agency,
            occurred_at=utc_now(),
            edited_by=edited_by,
            revision=revision,
            text=text,
            diff=diff,
        )
        subject = decisions_subject(targeted.agency, targeted.post_id, "edited")
        await bus.publish(self._js, subject, edited, f"{targeted.post_id}.edited.{revision}")
        again = msgspec.structs.replace(
            targeted, text=text, revision=revision, edited_by=edited_by, occurred_at=utc_now()
        )
        subject = targets_subject(targeted.agency, targeted.post_id)
        await bus.publish(self._js, subject, again, f"{targeted.post_id}.targeted.{revision}")
        log.info(
            "post.edited", post_id=targeted.post_id, agency=targeted.agency, by=edited_by, revision=revision
        )
        return revision

    async def reject(self, post_id: str, agency: str, rejected_by: str, reason: str) -> None:
        rejected = PostRejected(
            post_id=post_id, agency=agency, occurred_at=utc_now(), rejected_by=rejected_by, reason=reason
        )
        await bus.publish(
            self._js, decisions_subject(agency, post_id, "rejected"), rejected, f"{post_id}.rejected"
        )
        log.info("post.rejected", post_id=post_id, agency=agency, by=rejected_by)

    async def release_due(self, stop: asyncio.Event) -> None:
        """Every second, publish the approvals whose time has come (or expire them if too late)."""
        while not stop.is_set():
            now = datetime.now(UTC)
            for row_id, due, data in due_approvals(self._db, now.isoformat()):
                approval = msgspec.json.decode(data, type=PostApproved)
                if now - datetime.fromisoformat(due) > self._grace:
                    assert approval.schedule_at is not None
                    pages = [v.page for v in approval.variants]
                    await self._expire(
                        approval.post_id, approval.agency, pages, approval.schedule_at, suffix=due
                    )
                else:
                    await self._release(approval, f"{approval.post_id}.approved.{due}")
                    log.info("post.released", post_id=approval.post_id, agency=approval.agency, due=due)
                release(self._db, row_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    def _approval(
        self,
        rendered: PostRendered,
        variants: list[Variant],
        approved_by: str,
        schedule_at: str | None = None,
    ) -> PostApproved:
        return PostApproved(
            post_id=rendered.post_id,
            agency=rendered.agency,
            occurred_at=utc_now(),
            approved_by=approved_by,
            variants=variants,
            link=rendered.link,
            content_warning=rendered.content_warning,
            media=rendered.media,
            schedule_at=schedule_at,
        )

    async def _release(self, approval: PostApproved, msg_id: str) -> None:
        # Released approvals carry no schedule: the dispatcher publishes what it receives, now.
        now = msgspec.structs.replace(approval, schedule_at=None, occurred_at=utc_now())
        await bus.publish(
            self._js, decisions_subject(approval.agency, approval.post_id, "approved"), now, msg_id
        )

    async def _expire(
        self, post_id: str, agency: str, pages: list[str], schedule_at: str, suffix: str = ""
    ) -> None:
        reason = late_reason(schedule_at, self._grace)
        expired = PostExpired(
            post_id=post_id, agency=agency, occurred_at=utc_now(), pages=pages, reason=reason
        )
        await bus.publish(
            self._js,
            decisions_subject(agency, post_id, "expired"),
            expired,
            f"{post_id}.expired{'.' + suffix if suffix else ''}",
        )
        log.warning("post.expired", post_id=post_id, agency=agency, pages=len(pages), reason=reason)


def _forged(subject: str, event: Message) -> bool:
    """An agency's user may publish only on its own `posts.` and `security.` subjects, but the body
    could name another agency: such an event is not recorded as that agency's."""
    kind, agency = subject.split(".")[:2]
    if kind in ("posts", "security") and event.agency != agency:
        log.error("audit.forged", subject=subject, agency=agency, claimed=event.agency, post_id=event.post_id)
        return True
    return False


def record(db: sqlite_utils.Database, messages: list[bus.Incoming], on_change: ChangeHook = _unheard) -> None:
    """Append a fetched batch of bus events to the audit in one transaction (one fsync)."""
    added: list[tuple[Message, str]] = []
    agencies: set[str] = set()
    with db.conn:
        for message in messages:
            try:
                event = decode_any(message.subject, message.data)
                fields = audit_fields(event)
            except (msgspec.DecodeError, msgspec.ValidationError, KeyError) as exc:
                log.error("audit.unreadable", subject=message.subject, error=str(exc))
                continue
            if _forged(message.subject, event):
                continue
            if append_uncommitted(
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
            ):
                added.append((event, fields.event))
            if isinstance(event, PostReceived):
                agencies.add(event.agency)
    for agency in agencies:
        saw_agency(db, agency, utc_now())
    for event, name in added:
        log.info("audit.recorded", post_id=event.post_id, agency=event.agency, audit_event=name)
    # Once per post and kind of event in the batch: a campaign's thousand deliveries are one change.
    for post_id, name in dict.fromkeys((event.post_id, name) for event, name in added):
        on_change(post_id, name)


async def follow_heartbeats(nc: NATS, db: sqlite_utils.Database, stop: asyncio.Event) -> None:
    async def on_heartbeat(msg: Msg) -> None:
        with contextlib.suppress(msgspec.DecodeError, msgspec.ValidationError):
            beat = msgspec.json.decode(msg.data, type=AgencyHeartbeat)
            # Only agency-<id> may publish on its subject; the body could name any agency.
            if beat.agency == msg.subject.split(".")[1]:
                saw_agency(db, beat.agency, utc_now(), beat.outbox_pending)

    sub = await nc.subscribe(HEARTBEAT_SUBJECTS, cb=on_heartbeat)
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


async def run_bus(nc: NATS, db: sqlite_utils.Database, approver: Approver, stop: asyncio.Event) -> None:
    js = nc.jetstream()

    async def on_rendered(message: bus.Incoming) -> None:
        await approver.decide(message.data)

    async def on_events(messages: list[bus.Incoming]) -> None:
        record(db, messages, approver.on_change)

    audits = [
        bus.ConsumerSpec(stream=name, durable=f"hub-audit-{name.lower()}", filter_subject=">", batch=256)
        for name in STREAMS
    ]
    async with asyncio.TaskGroup() as group:
        group.create_task(bus.consume(js, APPROVAL, on_rendered, stop))
        group.create_task(approver.release_due(stop))
        group.create_task(follow_heartbeats(nc, db, stop))
        for spec in audits:
            group.create_task(bus.consume_batches(js, spec, on_events, stop))
