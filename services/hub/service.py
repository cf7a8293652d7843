"""Hub bus work: decide rendered posts (policy or moderator, one decision each), release scheduled
ones on time, publish what was decided through the hub's outbox, record every event in the audit
trail, and note when each agency was last heard from."""

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

from services.hub.advocates import forged_advocacy, forgotten_source
from services.hub.audit import audit_fields
from services.hub.inbox_hides import hide_order_source
from services.hub.inbox_store import escalation_source, remember_reply, reply_refusal
from services.hub.outbox import Outbox
from services.hub.policy import needs_moderator
from services.hub.schedule import late_reason, plan_release
from services.hub.share_checks import (
    invalid_msg_id,
    invalid_source,
    is_share,
    note_invalid,
    set_share_status,
    share_verdict,
)
from services.hub.store import (
    Decision,
    Hold,
    Outgoing,
    append_uncommitted,
    claim_release,
    commit_decision,
    decision_of,
    due_approvals,
    enqueue_undecided,
    keep_text,
    load_policies,
    queued_or_decided,
    queued_source,
    release_edit,
    saw_agency,
    take_from_queue,
)
from shared import bus
from shared.ids import utc_now
from shared.schemas import (
    HEARTBEAT_SUBJECTS,
    STREAMS,
    AdvocateForgotten,
    AgencyHeartbeat,
    InboxEscalated,
    InboxHideOrdered,
    Message,
    PostApproved,
    PostEdited,
    PostExpired,
    PostInvalid,
    PostQueued,
    PostReceived,
    PostRejected,
    PostRendered,
    PostScheduled,
    PostTargeted,
    ReplyTo,
    Variant,
    decisions_subject,
    decode,
    decode_any,
    encode,
    targets_subject,
)
from shared.sqlite_writes import write_transaction

log = structlog.get_logger("relais.hub")

# Moderation is a policy on this step: for now every rendered post is approved by it.
AUTO_APPROVER = "policy:auto-approve"
REPLY_CHECKER = "hub:reply-check"  # rejects a reply that does not answer its agency's conversation
UNKNOWN_REPLY_TRIES = 10  # a reply read before its conversation's first item waits for it, a while
# A share rendered before the checks read it (services/hub/share_checks.py) waits for them, however long:
# both read the same POSTS message, so the check comes; a hub catching up after an outage must not
# refuse good shares. The wait grows to `UNCHECKED_SHARE_MAX_DELAY` between looks, and is logged.
UNCHECKED_SHARE_MAX_DELAY = 30.0
APPROVAL = bus.ConsumerSpec(stream="VARIANTS", durable="hub-approval", filter_subject="variants.*.*.rendered")
# One audit reader per stream: every bus event goes to the hash-chained audit, except the figures read
# back from the networks (measurements, not anyone's decision or action: services/hub/engagement.py).
UNAUDITED_STREAMS = frozenset({"ENGAGEMENT"})
AUDITS = [
    bus.ConsumerSpec(stream=name, durable=f"hub-audit-{name.lower()}", filter_subject=">", batch=256)
    for name in STREAMS
    if name not in UNAUDITED_STREAMS
]

# Told (post id, audit event) after the hub recorded an event about a post: the dashboard's live feed.
ChangeHook = Callable[[str, str], None]


def _unheard(post_id: str, event: str) -> None:
    """The default hook: nobody listens."""


class NotQueued(Exception):
    """The post is not waiting for a moderator, and was never decided (unknown, or not yet queued)."""


class AlreadyDecided(Exception):
    """The post has its decision already: this one changes nothing."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(f"{decision.post_id} was already {decision.decision} by {decision.by}")
        self.decision = decision


class Approver:
    """Decides rendered posts: by policy, or by a moderator from the queue; one decision per post.

    Every decision is a compare-and-set in the hub's SQLite (`commit_decision`), committed with the
    messages that announce it (the outbox): whoever comes second, moderator or policy, changes
    nothing and publishes nothing. The scheduler only carries out an approval (releases each page
    at its time, or expires it past the grace period): it decides nothing, so a moderator cannot
    reject what it holds (409, the approval stands) and it never holds a rejected post.
    """

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
        self.outbox = Outbox(link, db)

    @property
    def _js(self) -> JetStreamContext:
        assert self._link.nc is not None, "the bus is not connected yet"
        return self._link.nc.jetstream()

    async def decide(self, data: bytes, attempt: int = 1) -> None:
        """A freshly rendered post: approved by the policy, or queued for a moderator (a reply that
        does not answer one of its agency's conversations is rejected). A post already queued or
        decided stays as it is (a redelivered rendering, a policy changed since): the first
        evaluation stands, and the policy never overrides a moderator. `attempt`: the consumer's."""
        rendered = decode(data, PostRendered)
        plog = log.bind(post_id=rendered.post_id, agency=rendered.agency)
        if rendered.edited_by:  # the moderator who edited this text approved it
            await self._release_edit(rendered, rendered.edited_by)
            return
        if queued_or_decided(self._db, rendered.post_id):
            plog.info("post.already_evaluated")
            return
        reply_to = next((v.reply_to for v in rendered.variants if v.reply_to is not None), None)
        if reply_to is not None:
            if refusal := self._reply_refusal(rendered, reply_to, attempt):
                await self._refuse(rendered, refusal)
                return
            # Before any decision: its delivery's `published` resolves the conversation.
            remember_reply(self._db, rendered.post_id, rendered.agency, rendered.author, reply_to)
        pages = [v.page for v in rendered.variants]
        share = is_share(rendered.author, pages)
        if share and not await self._share_passed(rendered, attempt):
            return
        policies = load_policies(self._db)
        if needs_moderator(
            policies, rendered.author, rendered.agency, pages, reply=reply_to is not None, share=share
        ):
            text = await self.original_text(rendered.agency, rendered.post_id)
            # The agency hears that its post now awaits approval (PostQueued, from the outbox, in the
            # transaction that queues it); until then it shows `received`, never `awaiting_approval`.
            queued = PostQueued(
                post_id=rendered.post_id, agency=rendered.agency, occurred_at=utc_now(), pages=pages
            )
            subject = decisions_subject(rendered.agency, rendered.post_id, "queued")
            notice = Outgoing(subject, f"{rendered.post_id}.queued", encode(queued), 0)
            if enqueue_undecided(
                self._db, rendered.post_id, rendered.agency, rendered.author, data, text, pages, notice
            ):
                plog.info("post.queued")
                if share:
                    set_share_status(self._db, rendered.post_id, "queued")
                self.on_change(rendered.post_id, "queued")
                await self.outbox.flush()
            return
        decision = Decision(rendered.post_id, rendered.agency, "approved", AUTO_APPROVER, utc_now())
        outgoing, holds = self._approval(rendered, AUTO_APPROVER)
        if commit_decision(self._db, decision, outgoing, holds, from_queue=False):
            if share:
                set_share_status(self._db, rendered.post_id, "approved")
            _log_decided(decision, outgoing)
            await self.outbox.flush()

    async def _share_passed(self, rendered: PostRendered, attempt: int) -> bool:
        """A share is decided once the hub's checks passed it (services/hub/share_checks.py); an
        invalid one never is (its `PostInvalid` went from the checks)."""
        verdict = share_verdict(self._db, rendered.post_id)
        if verdict is None:
            if attempt % 10 == 9:
                log.warning(
                    "share.waiting_for_checks",
                    post_id=rendered.post_id,
                    agency=rendered.agency,
                    attempt=attempt,
                )
            delay = min(float(attempt + 1), UNCHECKED_SHARE_MAX_DELAY)
            raise bus.Retry("the share's checks have not read it yet", delay=delay)
        if verdict.status == "invalid":
            log.info(
                "share.not_decided", post_id=rendered.post_id, agency=rendered.agency, reason=verdict.reason
            )
            return False
        return True

    def _reply_refusal(self, rendered: PostRendered, reply_to: ReplyTo, attempt: int) -> str | None:
        try:
            return reply_refusal(self._db, rendered.agency, reply_to)
        except LookupError:
            # The INBOX consumer may not have read the conversation yet: wait for it, a while.
            if attempt < UNKNOWN_REPLY_TRIES:
                raise bus.Retry("the reply's conversation is not at the hub yet", delay=2.0) from None
            return f"conversation {reply_to.conversation} is not at the hub"

    async def _refuse(self, rendered: PostRendered, reason: str) -> None:
        """A reply rejected by the hub's checks, as a moderator would reject it (the agency hears why)."""
        now = utc_now()
        decision = Decision(rendered.post_id, rendered.agency, "rejected", REPLY_CHECKER, now, reason=reason)
        rejected = PostRejected(
            post_id=rendered.post_id,
            agency=rendered.agency,
            occurred_at=now,
            rejected_by=REPLY_CHECKER,
            reason=reason,
        )
        subject = decisions_subject(rendered.agency, rendered.post_id, "rejected")
        outgoing = [Outgoing(subject, f"{rendered.post_id}.rejected", encode(rejected), 0)]
        if commit_decision(self._db, decision, outgoing, from_queue=False):
            log.error("reply.refused", post_id=rendered.post_id, agency=rendered.agency, reason=reason)
            await self.outbox.flush()

    async def moderate(
        self, post_id: str, moderator: str, *, text: str | None = None, reason: str | None = None
    ) -> Decision:
        """A moderator's decision on a queued post: approve it, edit then approve it (`text` differs
        from what was written) or reject it (`reason`). The first decision wins: raises
        `AlreadyDecided` (with that decision) or `NotQueued`."""
        data = take_from_queue(self._db, post_id)
        if data is None:
            raise self._refusal(post_id)
        rendered = decode(data, PostRendered)
        now = utc_now()
        decision = Decision(post_id, rendered.agency, "approved", moderator, now)
        holds: list[Hold] = []
        if reason is not None:
            decision = Decision(post_id, rendered.agency, "rejected", moderator, now, reason=reason)
            rejected = PostRejected(
                post_id=post_id, agency=rendered.agency, occurred_at=now, rejected_by=moderator, reason=reason
            )
            subject = decisions_subject(rendered.agency, post_id, "rejected")
            outgoing = [Outgoing(subject, f"{post_id}.rejected", encode(rejected), 0)]
        elif (
            text is not None and text != (targeted := await self._targeted(rendered.agency, post_id))[0].text
        ):
            outgoing, revision = self._edit(*targeted, text, moderator)
            decision = Decision(
                post_id, rendered.agency, "edited_and_approved", moderator, now, revision=revision
            )
        else:
            outgoing, holds = self._approval(rendered, moderator)
        if not commit_decision(self._db, decision, outgoing, holds, from_queue=True):
            raise self._refusal(post_id)
        # A share's row follows its moderator's decision (no row: not a share, nothing changes).
        set_share_status(self._db, post_id, "rejected" if reason is not None else "approved", reason or "")
        _log_decided(decision, outgoing)
        await self.outbox.flush()
        return decision

    def _refusal(self, post_id: str) -> Exception:
        decision = decision_of(self._db, post_id)
        return AlreadyDecided(decision) if decision else NotQueued(post_id)

    async def _targeted(self, agency: str, post_id: str) -> tuple[PostTargeted, int]:
        """The post as the formatter last received it (the TARGETS stream keeps it), and where."""
        message = await self._js.get_last_msg("TARGETS", targets_subject(agency, post_id))
        assert message.data is not None and message.seq is not None
        return msgspec.json.decode(message.data, type=PostTargeted), message.seq

    async def original_text(self, agency: str, post_id: str) -> str | None:
        try:
            return (await self._targeted(agency, post_id))[0].text
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError):
            return None  # the queue still works; an edit then starts from the rendered text

    def _edit(
        self, targeted: PostTargeted, sequence: int, text: str, edited_by: str
    ) -> tuple[list[Outgoing], int]:
        """The edited text goes through the formatter again; its rendering is approved by `edited_by`
        (`_release_edit`). Returns the messages and the new revision."""
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
        again = msgspec.structs.replace(
            targeted, text=text, revision=revision, edited_by=edited_by, occurred_at=utc_now()
        )
        post_id, agency = targeted.post_id, targeted.agency
        return [
            Outgoing(
                decisions_subject(agency, post_id, "edited"),
                f"{post_id}.edited.{revision}",
                encode(edited),
                0,
            ),
            Outgoing(
                targets_subject(agency, post_id), f"{post_id}.targeted.{revision}", encode(again), sequence
            ),
        ], revision

    async def _release_edit(self, rendered: PostRendered, edited_by: str) -> None:
        """The edited text, rendered: approve it once, if a moderator's recorded decision made it."""
        plog = log.bind(post_id=rendered.post_id, agency=rendered.agency)
        outgoing, holds = self._approval(rendered, edited_by)
        if release_edit(self._db, rendered.post_id, rendered.revision, outgoing, holds):
            plog.info("post.edit_released", by=edited_by, revision=rendered.revision, sent=_kinds(outgoing))
            await self.outbox.flush()
        else:
            plog.warning("post.edit_not_released", revision=rendered.revision, reason="no such pending edit")

    def _approval(self, rendered: PostRendered, approved_by: str) -> tuple[list[Outgoing], list[Hold]]:
        """What approving `rendered` now means, page by page: published now, held until its time, or
        expired. Every one of them is the first message of its subject."""
        post_id, agency = rendered.post_id, rendered.agency
        plan = plan_release(rendered.schedule_at, rendered.variants, datetime.now(UTC), self._grace)
        outgoing: list[Outgoing] = []
        if plan.expired:
            assert rendered.schedule_at is not None
            expired = self._expired(rendered, [v.page for v in plan.expired], rendered.schedule_at)
            outgoing.append(
                Outgoing(decisions_subject(agency, post_id, "expired"), f"{post_id}.expired", expired, 0)
            )
        holds = [
            Hold(
                due.isoformat(), encode(self._approved(rendered, variants, approved_by, rendered.schedule_at))
            )
            for due, variants in plan.later.items()
        ]
        if plan.later:
            scheduled = PostScheduled(
                post_id=post_id,
                agency=agency,
                occurred_at=utc_now(),
                approved_by=approved_by,
                publish_at=min(plan.later).isoformat(),
            )
            subject = decisions_subject(agency, post_id, "scheduled")
            outgoing.append(Outgoing(subject, f"{post_id}.scheduled", encode(scheduled), 0))
        if plan.now:
            approved = encode(self._approved(rendered, plan.now, approved_by))
            subject = decisions_subject(agency, post_id, "approved")
            outgoing.append(Outgoing(subject, f"{post_id}.approved", approved, 0))
        return outgoing, holds

    async def release_due(self, stop: asyncio.Event) -> None:
        """Every second, publish the approvals whose time has come (or expire them if too late)."""
        while not stop.is_set():
            await self.release_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    async def release_once(self) -> None:
        """One pass of the scheduler: each due row is claimed (taken off the schedule with its
        message put in the outbox, in one transaction), so it is released or expired once."""
        now = datetime.now(UTC)
        claimed = False
        for row_id, due, data in due_approvals(self._db, now.isoformat()):
            approval = msgspec.json.decode(data, type=PostApproved)
            post_id, agency = approval.post_id, approval.agency
            if now - datetime.fromisoformat(due) > self._grace:
                assert approval.schedule_at is not None
                pages = [v.page for v in approval.variants]
                expired = self._expired(approval, pages, approval.schedule_at)
                message = Outgoing(
                    decisions_subject(agency, post_id, "expired"), f"{post_id}.expired.{due}", expired
                )
                event = "post.expired"
            else:
                # Released approvals carry no schedule: the dispatcher publishes what it receives, now.
                released = msgspec.structs.replace(approval, schedule_at=None, occurred_at=utc_now())
                subject = decisions_subject(agency, post_id, "approved")
                message = Outgoing(subject, f"{post_id}.approved.{due}", encode(released))
                event = "post.released"
            if claim_release(self._db, row_id, post_id, agency, message):
                claimed = True
                level = log.warning if event == "post.expired" else log.info
                level(event, post_id=post_id, agency=agency, due=due)
        if claimed:
            await self.outbox.flush()

    def _approved(
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

    def _expired(self, post: PostRendered | PostApproved, pages: list[str], schedule_at: str) -> bytes:
        reason = late_reason(schedule_at, self._grace)
        return encode(
            PostExpired(
                post_id=post.post_id, agency=post.agency, occurred_at=utc_now(), pages=pages, reason=reason
            )
        )


def _kinds(outgoing: list[Outgoing]) -> list[str]:
    """`approved`, `scheduled`, `edited`, `targets`…: what a decision sent, for its log line."""
    return [
        m.subject.rsplit(".", 1)[1] if m.subject.startswith("decisions.") else m.subject.split(".")[0]
        for m in outgoing
    ]


def _log_decided(decision: Decision, outgoing: list[Outgoing]) -> None:
    """Logged once the decision is committed (a losing attempt logs nothing of the kind)."""
    level = log.warning if any(m.subject.endswith(".expired") for m in outgoing) else log.info
    level(
        "post.decided",
        post_id=decision.post_id,
        agency=decision.agency,
        decision=decision.decision,
        by=decision.by,
        sent=_kinds(outgoing),
    )


def _forged(subject: str, event: Message) -> bool:
    """An agency's user may publish only on its own `posts.`, `security.`, `inbox.` and `advocacy.`
    subjects, but the body could name another agency (or, on `advocacy.`, another advocate than the
    subject's): such an event is not recorded as that agency's."""
    kind, agency = subject.split(".")[:2]
    if (kind in ("posts", "security", "inbox") and event.agency != agency) or (
        kind == "advocacy" and forged_advocacy(subject, event)
    ):
        log.error("audit.forged", subject=subject, agency=agency, claimed=event.agency, post_id=event.post_id)
        return True
    return False


def _audit_source(message: bus.Incoming, event: Message) -> str:
    """The same fact is audited once: the hub wrote its `queued` entry with the queue row, each
    escalation's entry with its decision (services/hub/inbox_store.py), and a share's `invalid` with
    its verdict (services/hub/share_checks.py)."""
    if isinstance(event, PostQueued):
        return queued_source(event.post_id)
    if isinstance(event, InboxEscalated):
        return escalation_source(event.conversation, event.level, event.deadline)
    if isinstance(event, InboxHideOrdered):
        return hide_order_source(event.network, event.item_id)
    if isinstance(event, PostInvalid) and (message.headers or {}).get("Nats-Msg-Id") == invalid_msg_id(
        event.post_id
    ):
        return invalid_source(event.post_id)
    if isinstance(event, AdvocateForgotten):  # `relais advocates forget` wrote it with its erasure
        return forgotten_source(event.advocate)
    return f"{message.stream}:{message.sequence}"


def record(db: sqlite_utils.Database, messages: list[bus.Incoming], on_change: ChangeHook = _unheard) -> None:
    """Append a fetched batch of bus events to the audit in one transaction (one fsync)."""
    added: list[tuple[Message, str]] = []
    agencies: set[str] = set()
    with write_transaction(db):
        for message in messages:
            try:
                event = decode_any(message.subject, message.data)
            except msgspec.DecodeError as exc:  # a body or subject outside the contract, never readable
                log.error("audit.unreadable", subject=message.subject, error=str(exc))
                continue
            # A message the audit has no entry for is the hub's bug, not the message's: the batch
            # fails and comes back, rather than leaving a hole in the audit.
            fields = audit_fields(event)
            if _forged(message.subject, event):
                continue
            if append_uncommitted(
                db,
                source=_audit_source(message, event),
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
                if isinstance(event, PostReceived | PostEdited):  # once: a redelivery is no newer
                    keep_text(db, event.post_id, event.text)
                if isinstance(event, PostInvalid):  # a share refused by the formatter (too long)
                    note_invalid(db, event.post_id, event.reasons)
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
        await approver.decide(message.data, message.attempt)

    async def on_events(messages: list[bus.Incoming]) -> None:
        record(db, messages, approver.on_change)

    async with asyncio.TaskGroup() as group:
        group.create_task(bus.consume(js, APPROVAL, on_rendered, stop))
        group.create_task(approver.release_due(stop))
        group.create_task(approver.outbox.run(stop))
        group.create_task(follow_heartbeats(nc, db, stop))
        for spec in AUDITS:
            group.create_task(bus.consume_batches(js, spec, on_events, stop))
