"""The inbox reader: what people send the pages, read with each page's own credentials (issue #15).

Beside the delivery loop, for every active page of this shard whose network's adapter reads comments
(`read_comments`), every `RELAIS_INBOX_POLL_SECONDS` (each page at its own offset in the interval, so
that a thousand pages are not read in one burst):

- the adapter reads the items since the page's stored cursor, oldest first (with the page's
  published deliveries, newest first, in `PageAccount.recent_posts`: LinkedIn reads their comments);
- each item's text (and author name) is masked (`shared.personal_data`) before anything is written
  or sent: the ledger, the bus and the logs only ever see the masked text;
- an item is attached to its thread: a reply to an item already stored inherits its conversation
  and post; a reply to one of this page's deliveries (its network id, or a later part of its
  thread), or deeper in a thread whose first post is one, carries that post's id; anything else
  starts its own conversation;
- the new items, their `InboxItemReceived` announcements and the page's next cursor are written in
  one transaction (`Ledger.store_inbox`), keyed by (network, item id): an item read twice is kept
  and announced once. The outbox relay then publishes them (`Nats-Msg-Id` = `inbox_msg_id`), so a
  crash between the write and the bus publishes once, after the restart;
- deliveries go first: while at least half the dispatcher's call slots are taken (a national
  fan-out), no read starts unless its page is overdue by a whole interval;
- `CursorExpired` reads again from the newest items (the key drops what is already stored); a rate
  limit holds the page's (or the app's) reads until the reset the network named, never its posts
  (`reads.ReadHolds`: where a network counts reads with posts, Mastodon, the answers' rate-limit
  headers bring the posts' buckets down to what it says is left); any other failure backs off for that
  page alone, and nothing stops the loop. Where reads spend a budget the posts share (YouTube's
  daily quota in units: `Network.quota`, paced by `Network.read_budget`), each read takes its cost
  from the app-wide quota first (`RateLimiter.reserve_read`), never below the floor that keeps the
  day's replies and uploads, so the pages share out what they leave.

Each log line names the page, its agency and network; never a token, never an item's text.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import zlib
from dataclasses import dataclass, replace

import structlog

from services.dispatcher.adapters.base import DeliveryError
from services.dispatcher.adapters.conversations import CommentReader, CursorExpired, Incoming
from services.dispatcher.attempt import backoff
from services.dispatcher.outbox import iso
from services.dispatcher.reads import PageReader, ReaderWiring, first_of
from services.dispatcher.store import InboxRow, KnownItem, Ledger
from shared.ids import utc_now
from shared.personal_data import mask
from shared.schemas import (
    INBOX_KINDS,
    InboxItemReceived,
    PageRecord,
    conversation_key,
    encode,
    inbox_msg_id,
    inbox_subject,
)

__all__ = ["InboxReader", "inbox_rows"]

log = structlog.get_logger("relais.dispatcher.inbox")

# The loop looks again at most this long after its last look, and at the soonest this soon.
_IDLE_LOOK, _SHORTEST_PAUSE = 1.0, 0.01


@dataclass
class _Schedule:
    """When a page is read next, and how many reads in a row failed (its backoff)."""

    due_at: float
    failures: int = 0


def inbox_rows(
    ledger: Ledger, page: PageRecord, items: tuple[Incoming, ...], *, now: float | None = None
) -> list[InboxRow]:
    """The items as the ledger keeps them and the bus hears them: masked, attached to their thread
    and post. Items of the same batch answer each other too (it comes oldest first)."""
    batch: dict[str, KnownItem] = {}
    rows = []
    for item in items:
        if item.kind not in INBOX_KINDS:
            log.warning("inbox.unknown_kind", agency=page.agency, page=page.page, network=page.network)
            continue
        parent = None
        if item.parent_id is not None:
            parent = batch.get(item.parent_id) or ledger.inbox_item(page.network, item.parent_id)
        if parent is not None:
            root, post_id, remote_post_id = parent.root_id, parent.post_id, parent.remote_post_id
        else:
            root, remote_post_id = item.root_id, item.remote_post_id
            post_id = ""
            if remote_post_id is not None:
                post_id = ledger.post_answered(page.network, page.page, remote_post_id) or ""
            if not post_id and root != item.item_id:  # deeper in a thread whose first post is ours
                post_id = ledger.post_answered(page.network, page.page, root) or ""
                remote_post_id = root if post_id else remote_post_id
        batch[item.item_id] = KnownItem(root, post_id, remote_post_id)
        text = mask(item.text)
        conversation = conversation_key(page.network, root)
        created_at = iso(item.created_at if item.created_at is not None else now or time.time())
        message = InboxItemReceived(
            post_id=post_id,
            agency=page.agency,
            occurred_at=utc_now(),
            network=page.network,
            page=page.page,
            item_id=item.item_id,
            conversation=conversation,
            root_id=root,
            parent_id=item.parent_id,
            kind=item.kind,
            author_name=mask(item.author_name).text,  # a display name can hold a number too
            author_id=item.author_id,
            text=text.text,
            masked=list(text.kinds),
            created_at=created_at,
            remote_post_id=remote_post_id,
            url=item.url,
            via="poll",
        )
        announce = (
            inbox_subject(page.agency, conversation, "received"),
            inbox_msg_id(page.network, item.item_id),
            encode(message),
        )
        rows.append(
            InboxRow(
                network=page.network,
                item_id=item.item_id,
                page=page.page,
                agency=page.agency,
                post_id=post_id,
                conversation=conversation,
                root_id=root,
                parent_id=item.parent_id,
                kind=item.kind,
                author_name=message.author_name,
                author_id=item.author_id,
                text=message.text,
                masked=message.masked,
                created_at=created_at,
                remote_post_id=remote_post_id,
                url=item.url,
                announce=announce,
            )
        )
    return rows


class InboxReader(PageReader):
    """Reads every readable page of the shard in turn; see the module's docstring."""

    def __init__(self, wiring: ReaderWiring, rng: random.Random | None = None) -> None:
        super().__init__(wiring, rng)
        self._interval = wiring.settings.inbox_poll_seconds
        self._schedule: dict[str, _Schedule] = {}
        self._readable_at: tuple[int, list[PageRecord]] = (-1, [])

    def _readable(self) -> list[PageRecord]:
        """The pages to read, filtered again only when the registry changed: every read's end looks
        at them, and a fan-out's 1,250 pages made that scan a twentieth of the dispatcher's time."""
        revision, pages = self._readable_at
        if revision != self._pages.revision:
            pages = self._filter_readable()
            self._readable_at = (self._pages.revision, pages)
        return pages

    def _filter_readable(self) -> list[PageRecord]:
        owns = self._settings.shard.owns
        return [
            page
            for page in self._pages.records()
            if page.status == "active"
            and not page.owner  # an advocate's own account: only her shares' figures are read (#16)
            and owns(page.network, page.page)
            and "read_comments" in self._adapter(page.network).capabilities
        ]

    def _first_read(self, page: str, now: float) -> float:
        """A page's own offset in the interval, the same at every start."""
        return now + self._interval * (zlib.crc32(page.encode()) / 2**32)

    async def run(self, stop: asyncio.Event) -> None:
        while not self._pages.loaded.is_set():
            if stop.is_set():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._pages.loaded.wait(), 1.0)
        try:
            while not stop.is_set():
                now = time.time()
                self._start_due(now)
                self._finished.clear()
                with contextlib.suppress(TimeoutError):  # until a read ends, the next is due, or stop
                    await asyncio.wait_for(first_of(stop, self._finished), self._pause(now))
        finally:
            if self._reading:  # a read in flight finishes (its items are stored, or read again)
                await asyncio.gather(*self._reading.values(), return_exceptions=True)

    def _pause(self, now: float) -> float:
        """How long the loop may sleep: until the next read is due, but never spinning while the
        slots are full (a read's end wakes it) or while deliveries go first."""
        if len(self._reading) >= self._slots or self._busy():
            return _IDLE_LOOK
        upcoming = [s.due_at for page, s in self._schedule.items() if page not in self._reading]
        return min(max(min(upcoming, default=now + _IDLE_LOOK) - now, _SHORTEST_PAUSE), _IDLE_LOOK)

    def _start_due(self, now: float) -> None:
        """Start the reads that are due, the longest overdue first, as far as the slots go (in the
        registry's order, the first pages would take every slot again before the last were read)."""
        free = self._slots - len(self._reading)
        if free <= 0:
            return
        # Deliveries first: during a fan-out only pages a whole interval late are read.
        due_by = now - self._interval if self._busy() else now
        due: list[tuple[float, PageRecord, _Schedule]] = []
        for page in self._readable():
            schedule = self._schedule.get(page.page)
            if schedule is None:
                schedule = self._schedule[page.page] = _Schedule(self._first_read(page.page, now))
            if schedule.due_at <= due_by and page.page not in self._reading:
                due.append((schedule.due_at, page, schedule))
        due.sort(key=lambda entry: entry[0])
        for _, page, schedule in due[:free]:
            self._reading[page.page] = asyncio.create_task(self._read(page, schedule))

    async def _read(self, page: PageRecord, schedule: _Schedule) -> None:
        try:
            await self._read_once(page, schedule)
        finally:
            self._reading.pop(page.page, None)
            self._finished.set()

    async def _read_once(self, page: PageRecord, schedule: _Schedule) -> None:
        where = {"agency": page.agency, "page": page.page, "network": page.network}
        now = time.time()
        schedule.due_at = now + self._interval
        try:
            account = self._account(page.page)
            if account is None:
                return
            if self._ledger.page_state(page.page) is not None:
                return  # it waits for a person to reconnect it: its token would be refused again
            wait = (
                self._limiter.blocked(page.network, page.page)
                or self._holds.wait(page.network, page.page, now)
                or self._limiter.reserve_read(page.network)
            )
            if wait > 0:  # the network said to wait (a 429, nothing left), or its read budget is spent
                schedule.due_at = now + wait
                return
            # Networks that read comments post by post (LinkedIn) read the page's own deliveries too.
            account = replace(account, recent_posts=tuple(self._ledger.recent_posts(page.network, page.page)))
            reader: CommentReader = self._adapter(page.network)  # type: ignore[assignment]
            cursor = self._ledger.inbox_cursor(page.page)
            try:
                batch = await reader.read_comments(account, cursor)
            except CursorExpired:
                log.info("inbox.cursor_expired", **where)
                batch = await reader.read_comments(account, None)
            rows = inbox_rows(self._ledger, page, batch.items)
            if self._writer is not None:
                fresh = await self._writer.store_inbox(page.page, page.network, batch.cursor, rows)
            else:
                fresh = self._ledger.store_inbox(page.page, page.network, batch.cursor, rows)
        except DeliveryError as exc:
            schedule.failures += 1
            self._failed(page, schedule, exc, where)
            return
        except Exception as exc:  # a bug must not stop the other pages' reading
            schedule.failures += 1
            schedule.due_at = time.time() + backoff(schedule.failures, self._policy, self._rng)
            log.exception("inbox.read_crashed", **where, error=type(exc).__name__)
            return
        schedule.failures = 0
        if fresh:
            self._wake_relay()
        for row in fresh:
            log.info("inbox.item_received", **where, post_id=row.post_id, item=row.item_id, kind=row.kind)
        if batch.items and batch.cursor != cursor:
            schedule.due_at = time.time()  # a full page may hide more behind it: read on now
        log.debug("inbox.read", **where, items=len(batch.items), fresh=len(fresh))

    def _failed(
        self, page: PageRecord, schedule: _Schedule, exc: DeliveryError, where: dict[str, str]
    ) -> None:
        now = time.time()
        if exc.throttled:
            seconds = exc.retry_after if exc.retry_after is not None else self._interval
            self._holds.hold(page.network, page.page, exc.scope, now + seconds)
            schedule.due_at = now + seconds
            log.warning(
                "inbox.throttled",
                **where,
                seconds=round(seconds, 1),
                until=iso(now + seconds),  # no read of the page (or the app) before then
                code=exc.network_code,
            )
            return
        delay = backoff(schedule.failures, self._policy, self._rng)
        if exc.kind != "transient":  # a person must act (a token, a scope): not worth reading often
            delay = max(delay, self._interval)
        schedule.due_at = now + delay
        log.warning(
            "inbox.read_failed",
            **where,
            kind=exc.kind,
            code=exc.network_code,
            error=exc.message,
            retry_in=round(delay, 1),
        )
