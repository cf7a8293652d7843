"""The inbox at the hub (issue #15 items 2 and 3): every item received on the federation's pages and
every assignment made at an agency's node, read from the INBOX stream by a durable consumer into
hub.db (services/hub/inbox_store.py); and, every `escalate_every` seconds, the conversations still
waiting past each configured fraction of their deadline escalated, once per level, to the region's
moderators then to the hub team (InboxEscalated, through the hub's outbox).

The same consumer reads the nodes' requests to hide an item (`hide_requested`: checked, audited and
ordered by services/hub/inbox_hides.py) and the dispatcher's outcomes (`hidden`); a moderator's request
at the hub takes the same path (`ask_to_hide`).

The clock runs on the page's calendar (`PageRecord.calendar`, the registry's), in the calendar's zone.
The current time comes from `now`, so that tests move it instead of waiting hours.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo

import msgspec
import sqlite_utils
import structlog
from nats.js import JetStreamContext

from services.hub.inbox_hides import (
    HideAsk,
    Refusal,
    audit_hide_refused,
    hide_refusal,
    order_hide,
    record_hidden,
)
from services.hub.inbox_settings import InboxSettings
from services.hub.inbox_store import (
    ClockPlan,
    DueEscalation,
    claim_escalation,
    due_escalations,
    record_assignment,
    record_item,
    record_reply_published,
)
from services.hub.outbox import Outbox
from services.hub.store import Outgoing
from shared import bus
from shared.business_hours import Calendar, deadline, format_instant
from shared.pages_mirror import PagesMirror
from shared.personal_data import KINDS, mask
from shared.schemas import (
    DEFAULT_PAGE_CALENDAR,
    HIDE_OUTCOMES,
    DeliveryUpdated,
    InboxAssigned,
    InboxEscalated,
    InboxHideRequested,
    InboxItemHidden,
    InboxItemReceived,
    encode,
    inbox_subject,
)

__all__ = ["CONSUMER", "REPLIES", "Inbox"]

log = structlog.get_logger("relais.hub.inbox")

# One consumer for both kinds, so that an assignment is read after the items it follows (stream
# order); the hub's own `escalated` messages on the same stream are passed over.
CONSUMER = bus.ConsumerSpec(stream="INBOX", durable="hub-inbox", filter_subject="inbox.*.*.*")
UNKNOWN_CONVERSATION_TRIES = 10  # an assignment read before its conversation's first item waits for it
# Published deliveries: a reply's resolves its conversation (the hub remembered the reply when it
# decided it, before the dispatcher could have it; services/hub/service.py).
REPLIES = bus.ConsumerSpec(
    stream="DELIVERIES", durable="hub-inbox-replies", filter_subject="deliveries.*.*.published"
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Inbox:
    def __init__(
        self,
        db: sqlite_utils.Database,
        mirror: PagesMirror,
        settings: InboxSettings,
        outbox: Outbox,
        now: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._db = db
        self._mirror = mirror
        self._settings = settings
        self._outbox = outbox
        self.now = now

    def calendar(self, calendar_id: str) -> Calendar | None:
        """A calendar by its id; None for one the configuration no longer has."""
        try:
            return self._settings.calendars.get(calendar_id)
        except LookupError:
            return None

    def in_calendar_zone(self, instant: str, calendar_id: str) -> datetime:
        """A stored UTC instant in the calendar's zone (UTC for a calendar configuration lost since)."""
        calendar = self.calendar(calendar_id)
        zone: tzinfo = calendar.zone if calendar is not None else UTC
        return datetime.fromisoformat(instant).astimezone(zone)

    async def handle(self, message: bus.Incoming) -> None:
        """One INBOX message, as the consumer hands it over."""
        event = message.subject.rsplit(".", 1)[1]
        if event == "received":
            self.received(message.subject, msgspec.json.decode(message.data, type=InboxItemReceived))
        elif event == "assigned":
            assigned = msgspec.json.decode(message.data, type=InboxAssigned)
            self.assigned(message.subject, assigned, message.attempt)
        elif event == "hide_requested":
            requested = msgspec.json.decode(message.data, type=InboxHideRequested)
            await self.hide_requested(message, requested)
        elif event == "hidden":
            self.hidden(message.subject, msgspec.json.decode(message.data, type=InboxItemHidden))

    async def hide_requested(self, message: bus.Incoming, requested: InboxHideRequested) -> Refusal | None:
        """A node's request: checked against the hub's inbox, then ordered (or refused, audited)."""
        subject_agency = message.subject.split(".")[1]
        ask = HideAsk(
            agency=subject_agency,  # who published it: a node publishes on its own subjects only
            conversation=requested.conversation,
            network=requested.network,
            page=requested.page,
            item_id=requested.item_id,
            by=requested.by,
        )
        source = f"hub:inbox.hide_refused:{message.stream}:{message.sequence}"
        if message.subject != inbox_subject(requested.agency, requested.conversation, "hide_requested"):
            reason = (
                f"the request names agency {requested.agency} and conversation {requested.conversation}"
                f" but came on {message.subject}"
            )
            forged = Refusal(403, "forged", "conversation", reason)
            self._refuse_hide(source, ask, forged)
            return forged
        try:
            refusal = hide_refusal(self._db, ask)
        except LookupError:
            if message.attempt < UNKNOWN_CONVERSATION_TRIES:
                raise bus.Retry("the conversation's first item is not here yet", delay=2.0) from None
            refusal = Refusal(
                404, "not_found", "conversation", f"conversation {ask.conversation} is not at the hub"
            )
        if refusal is not None and refusal.code == "already_hidden":  # asked twice: the first one stands
            log.info(
                "inbox.hide_already_ordered", post_id="", agency=ask.agency, item_id=ask.item_id, by=ask.by
            )
            return None
        if refusal is not None:
            self._refuse_hide(source, ask, refusal)
            return refusal
        await self.order_hide(ask, origin="node")
        return None

    async def ask_to_hide(self, ask: HideAsk, source: str) -> Refusal | None:
        """A moderator's request at the hub (the conversation exists: the API read it)."""
        refusal = hide_refusal(self._db, ask)
        if refusal is not None:
            self._refuse_hide(source, ask, refusal)
            return refusal
        if not await self.order_hide(ask, origin="hub"):
            return Refusal(409, "already_hidden", "item_id", f"item {ask.item_id} was ordered meanwhile")
        return None

    async def order_hide(self, ask: HideAsk, *, origin: str) -> bool:
        hlog = log.bind(post_id="", agency=ask.agency, conversation=ask.conversation)
        ordered = order_hide(self._db, ask, origin=origin)
        hlog.info(
            "inbox.hide_ordered" if ordered else "inbox.hide_already_ordered", item_id=ask.item_id, by=ask.by
        )
        if ordered:
            await self._outbox.flush()
        return ordered

    def _refuse_hide(self, source: str, ask: HideAsk, refusal: Refusal) -> None:
        audit_hide_refused(self._db, source, ask, refusal.reason)
        log.warning(
            "inbox.hide_refused",
            post_id="",
            agency=ask.agency,
            conversation=ask.conversation,
            item_id=ask.item_id,
            by=ask.by,
            reason=refusal.reason,
        )

    def hidden(self, subject: str, hidden: InboxItemHidden) -> bool:
        """The dispatcher's outcome: the item's `hidden` state (audited by the audit consumer)."""
        hlog = log.bind(post_id="", agency=hidden.agency, conversation=hidden.conversation)
        if subject != inbox_subject(hidden.agency, hidden.conversation, "hidden") or (
            hidden.outcome not in HIDE_OUTCOMES
        ):
            hlog.error("inbox.forged", subject=subject)
            return False
        changed = record_hidden(self._db, hidden)
        hlog.info(f"inbox.item_{hidden.outcome}", item_id=hidden.item_id, changed=changed)
        return changed

    def received(self, subject: str, item: InboxItemReceived) -> bool:
        """Store an item once and start (or move) its conversation's clock; True when it was new."""
        ilog = log.bind(post_id=item.post_id, agency=item.agency, conversation=item.conversation)
        if subject != inbox_subject(item.agency, item.conversation, "received"):
            ilog.error("inbox.forged", subject=subject)  # whose would it be?
            return False
        calendar = self._calendar(item, ilog)
        # Masked by whoever published it; masked again here (idempotent), so that hub.db and every
        # view hold no identifier even if a publisher forgot.
        masked = mask(item.text)
        kinds = {*item.masked, *masked.kinds}  # what it masked, as a publisher that masked says
        item = msgspec.structs.replace(item, text=masked.text, masked=[k for k in KINDS if k in kinds])
        created = min(_instant(item.created_at) or self.now(), self.now())

        def plan(start: datetime) -> ClockPlan:
            target = self._settings.target
            return ClockPlan(
                deadline(calendar, start, target),
                [
                    (level, deadline(calendar, start, target * share))
                    for level, share in self._settings.levels()
                ],
            )

        region = self._mirror.region_of(item.agency) or ""
        added = record_item(self._db, item, created, calendar.id, plan, region=region)
        ilog.info("inbox.received" if added else "inbox.already_received", item_id=item.item_id, via=item.via)
        return added

    def _calendar(self, item: InboxItemReceived, ilog: structlog.typing.FilteringBoundLogger) -> Calendar:
        """The page's calendar, as the registry gives it. The mirror must hold the registry first
        (the clock would otherwise run on a guess); a page the registry does not have is logged and
        runs on the default calendar rather than lose the question."""
        if not self._mirror.loaded.is_set():
            raise bus.Retry("the page registry is not loaded yet", delay=2.0)
        record = self._mirror.get(item.page)
        if record is None or record.agency != item.agency:
            ilog.warning("inbox.page_unknown", page=item.page, registered_agency=record and record.agency)
            calendar_id = DEFAULT_PAGE_CALENDAR
        else:
            calendar_id = record.calendar
        try:
            return self._settings.calendars.get(calendar_id)
        except LookupError as exc:  # the registry's configuration is not the hub's: fix, then it goes on
            ilog.error("inbox.calendar_unknown", calendar=calendar_id, error=str(exc))
            raise bus.Retry(str(exc), delay=60.0) from None

    def assigned(self, subject: str, assigned: InboxAssigned, attempt: int = 1) -> str:
        alog = log.bind(post_id=assigned.post_id, agency=assigned.agency, conversation=assigned.conversation)
        # An agency's NATS user publishes on its own subjects only, but the body could name another.
        if subject != inbox_subject(assigned.agency, assigned.conversation, "assigned"):
            alog.error("inbox.forged", subject=subject)
            return "forged"
        outcome = record_assignment(self._db, assigned)
        if outcome == "unknown" and attempt < UNKNOWN_CONVERSATION_TRIES:
            raise bus.Retry("the conversation's first item is not here yet", delay=2.0)
        level = alog.info if outcome == "assigned" else alog.warning
        level(f"inbox.assignment_{outcome}", assignee=assigned.assignee, by=assigned.by)
        return outcome

    async def handle_published(self, message: bus.Incoming) -> None:
        delivery = msgspec.json.decode(message.data, type=DeliveryUpdated)
        self.published(delivery, message.attempt)

    def published(self, delivery: DeliveryUpdated, attempt: int = 1) -> str:
        """A published delivery: a reply's stops its conversation's clock and resolves it, once."""
        at = min(_instant(delivery.published_at or delivery.occurred_at) or self.now(), self.now())
        outcome = record_reply_published(self._db, delivery, at)
        if outcome == "not_reply":
            return outcome
        if outcome == "unknown" and attempt < UNKNOWN_CONVERSATION_TRIES:
            raise bus.Retry("the conversation's first item is not here yet", delay=2.0)
        rlog = log.bind(post_id=delivery.post_id, agency=delivery.agency)
        level = rlog.info if outcome in ("answered", "already") else rlog.error
        level(f"inbox.reply_{outcome}", page=delivery.page, remote_id=delivery.remote_id)
        return outcome

    async def escalate_due(self) -> int:
        """One pass: escalate every level reached and not yet escalated; returns how many."""
        now = self.now()
        escalated = 0
        # Each claimed (or answered) level leaves the query: batches until none is left.
        while batch := due_escalations(self._db, now):
            escalated += await self._escalate(batch, now)
        return escalated

    async def _escalate(self, batch: list[DueEscalation], now: datetime) -> int:
        escalated = 0
        for due in batch:
            shown = format_instant(self.in_calendar_zone(due.deadline, due.calendar))
            message = _escalation_message(due, shown, now)
            if claim_escalation(self._db, due, message, shown, now):
                escalated += 1
                log.warning(
                    "inbox.escalated",
                    post_id=due.post_id,
                    agency=due.agency,
                    conversation=due.conversation,
                    escalation_level=due.level,
                    deadline=shown,
                )
        if escalated:
            await self._outbox.flush()
        return escalated

    async def keep_escalating(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.escalate_due()
            except Exception:  # the next pass tries again; the claim makes each escalation once
                log.exception("inbox.escalation_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._settings.escalate_every)

    async def run(self, js: JetStreamContext, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(bus.consume(js, CONSUMER, self.handle, stop))
            group.create_task(bus.consume(js, REPLIES, self.handle_published, stop))
            group.create_task(self.keep_escalating(stop))


def _escalation_message(due: DueEscalation, deadline_shown: str, now: datetime) -> Outgoing:
    escalation = InboxEscalated(
        post_id=due.post_id,
        agency=due.agency,
        occurred_at=now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        conversation=due.conversation,
        network=due.network,
        page=due.page,
        level=due.level,
        deadline=deadline_shown,
        calendar=due.calendar,
    )
    subject = inbox_subject(due.agency, due.conversation, "escalated")
    return Outgoing(subject, f"{subject}.{due.clock}.{due.level}", encode(escalation))


def _instant(text: str) -> datetime | None:
    """The network's date of an item, or None when it gives none a clock can use."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
