"""Dispatcher: records each approved variant in the ledger, then publishes it exactly once.

- An approval (`decisions.*.*.approved`) becomes one ledger row per page, keyed by the
  delivery's idempotency key (post, network, page), and is acked once those rows are on disk:
  a redelivered approval finds its rows and adds nothing.
- A scheduler claims due rows (marking them `publishing` durably *before* any call), within
  the page's and app's rate limits, and runs each in its own task; a limited delivery is
  postponed to the reset while the others go on, shown `throttled` with its reset time (told
  once per wait, not at each check). A page throttled for longer than
  `RELAIS_THROTTLE_ALERT_MINUTES` raises one alert for the hub (`alerts.*.*.throttled`).
- Results are recorded in groups (one transaction for many) and announced through the outbox.
- At start, rows left `publishing` by a process that died mid-call become `unconfirmed` and are
  reconciled once the interrupted call can no longer land (the HTTP timeout).
- A person's decision at the hub (`commands.*.*.<action>`) retries a dead letter or marks it
  published (`commands.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from dataclasses import replace
from typing import Any

import aiohttp
import msgspec
import structlog
from nats.aio.client import Client as NATS

from services.dispatcher.adapters.base import (
    DeliveryError,
    Media,
    NetworkAdapter,
    PageAccount,
    RateHint,
)
from services.dispatcher.adapters.registry import adapter_for
from services.dispatcher.advocate_accounts import AdvocateAccounts, account_status, advocate_of_page
from services.dispatcher.attempt import Outcome, RetryPolicy, backoff, reconcilable, run_attempt
from services.dispatcher.commands import apply_command
from services.dispatcher.credentials import CredentialStore
from services.dispatcher.limits import RateLimiter
from services.dispatcher.media import MediaLibrary
from services.dispatcher.outbox import (
    OutboxRelay,
    dead_letter,
    delivery_update,
    iso,
    needs_reauth,
    page_throttled,
    unix_time,
)
from services.dispatcher.settings import Settings
from services.dispatcher.shards import Shard
from services.dispatcher.store import Change, DeliveryRow, Ledger, LedgerWriter, PageState
from shared import bus, metrics
from shared.advocacy.accounts import credentials_ref
from shared.ids import utc_now
from shared.pages_mirror import PagesMirror
from shared.schemas import DeliveryActionRequested, PostApproved, decode, media_bucket_name

__all__ = ["COMMANDS", "CONSUMER", "Dispatcher", "consumers", "delivery_key"]

log = structlog.get_logger("relais.dispatcher")

CONSUMER = bus.ConsumerSpec(
    stream="DECISIONS", durable="dispatcher", filter_subject="decisions.*.*.approved", ack_wait=60.0, batch=16
)
COMMANDS = bus.ConsumerSpec(stream="COMMANDS", durable="dispatcher-commands", filter_subject="commands.*.*.*")


def consumers(shard: Shard) -> tuple[bus.ConsumerSpec, bus.ConsumerSpec]:
    """This shard's own durable consumers of approvals and commands. Each receives every message
    of its subjects and keeps its own targets' part: an approval names its post, not its pages, so
    no subject filter can split it between shards (`shards.py` says why that is the cheap way)."""
    return (
        replace(CONSUMER, durable=shard.name(CONSUMER.durable)),
        replace(COMMANDS, durable=shard.name(COMMANDS.durable)),
    )


# A wait shorter than this (a token bucket refilling between two calls) is not shown as `throttled`,
# and a call that ends sooner is announced by its outcome alone, never as `publishing`: nobody could
# have seen that state, and a fan-out would send twice the messages for it.
SHOWN_AFTER = 1.0
# A throttled delivery found, at its reset, to wait again is announced again only when its reset
# time moved by this much: a page's backlog draining through a bucket would otherwise be a flood.
ANNOUNCE_STEP = 60.0


# How long the scheduler waits for a batch's worth of free slots before claiming fewer.
CLAIM_WINDOW = 0.02
# How long a result waits for others to share its commit, when enough calls are in flight to send them.
GROUP_WINDOW = 0.01
# An approval's deliveries are written in parts of this many: a national post's 1,250 rows took
# about 40 ms to write in one transaction, and no call could start until it was committed.
ENQUEUE_CHUNK = 128


def delivery_key(post_id: str, network: str, page: str) -> str:
    """The idempotency key of one variant to one page: the same everywhere it is used."""
    return f"{post_id}.{network}.{page}"


@functools.cache
def _outcomes(network: str, status: str) -> Any:
    """The counter of one network's outcomes of one kind (looking a label set up costs as much as
    the rest of recording a result)."""
    return metrics.DELIVERIES.labels(network=network, status=status)


@functools.cache
def _latencies(network: str) -> Any:
    return metrics.DELIVERY_LATENCY.labels(network=network)


def _count(row: DeliveryRow, status: str) -> None:
    """An outcome for the metrics; a publication's latency from its approval (or its scheduled
    time, if later: a post scheduled for tomorrow is not late today)."""
    _outcomes(row.network, status).inc()
    if status == "published" and row.approved_at is not None:
        start = max(row.approved_at, row.due_at or 0.0)
        _latencies(row.network).observe(max(time.time() - start, 0.0))


def _timestamp(moment: str | None) -> float:
    return unix_time(moment) if moment else time.time()


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        ledger: Ledger,
        session: aiohttp.ClientSession,
        pages: PagesMirror,
        library: MediaLibrary | None = None,
        *,
        writer: LedgerWriter | None = None,
        rng: random.Random | None = None,
        advocates: AdvocateAccounts | None = None,
    ) -> None:
        self._settings = settings
        self._advocates = advocates
        self._writer = writer
        self._library = library
        self._ledger = ledger
        self._session = session
        self._pages = pages
        self._credentials = CredentialStore(settings.credentials_file)
        self._limiter = RateLimiter(shards=settings.shard.count)  # app-wide quotas shared by the shards
        self._policy = RetryPolicy(settings.max_attempts, settings.retry_base, settings.retry_cap)
        self._rng = rng or random.Random()
        self._timeout = aiohttp.ClientTimeout(
            total=settings.http_timeout, sock_connect=min(10.0, settings.http_timeout)
        )
        # One adapter per network for the process's life: adapters keep sessions (Bluesky logins
        # are rate-limited to 30 per 5 minutes per account).
        self._adapters: dict[str, NetworkAdapter] = {}
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._claiming: set[str] = set()  # claims being written, their calls not started yet
        self._results: list[Change] = []
        self._wake = asyncio.Event()
        self._written = asyncio.Event()
        self._relay: OutboxRelay | None = None
        # Pages waiting on a rate limit: since when, and those already reported to the hub. A wait
        # ends when a call of the page gets an answer other than a rate limit.
        self._throttled_pages: dict[str, float] = {}
        self._alerted_pages: set[str] = set()

    # --- bus handlers -------------------------------------------------------------------------

    async def on_approved(self, message: bus.Incoming) -> None:
        post = decode(message.data, PostApproved)
        owns = self._settings.shard.owns
        variants = [v for v in post.variants if owns(v.network, v.page)]  # this shard's share
        if not variants:
            return
        bucket = media_bucket_name(post.agency)  # the bytes are in the writer's bucket
        media = [msgspec.to_builtins(ref) | {"bucket": bucket} for ref in post.media]
        due = _timestamp(post.schedule_at)
        rows = [
            {
                "key": delivery_key(post.post_id, v.network, v.page),
                "post_id": post.post_id,
                # Announced to the page's agency: its node follows deliveries on its own pages.
                "agency": v.agency or post.agency,
                "network": v.network,
                "page": v.page,
                "parts": list(v.parts),
                "link": post.link,
                "due_at": due,
                "media": media,
                "facets": list(v.facets),
                # Only Mastodon has content warnings (the formatter counted it with the text there).
                "content_warning": post.content_warning if v.network == "mastodon" else None,
                "approved_at": _timestamp(post.occurred_at),
                "title": v.title,
                "tags": list(v.tags),
                # A reply goes with the network's reply API, under the item it answers.
                "reply_to": msgspec.to_builtins(v.reply_to) if v.reply_to is not None else None,
            }
            for v in variants
        ]
        added = 0
        for start in range(0, len(rows), ENQUEUE_CHUNK):
            added += await self._enqueue(rows[start : start + ENQUEUE_CHUNK], message.sequence)
            self._wake.set()  # the first pages' calls start while the rest are written
        log.info("post.queued_for_delivery", post_id=post.post_id, agency=post.agency, deliveries=added)

    async def _enqueue(self, rows: list[dict[str, Any]], decision_seq: int) -> int:
        if self._writer is not None:
            return await self._writer.enqueue(rows, decision_seq)
        return self._ledger.enqueue(rows, decision_seq=decision_seq)

    async def on_command(self, message: bus.Incoming) -> None:
        command = decode(message.data, DeliveryActionRequested)
        if not self._settings.shard.owns(command.network, command.page):
            return  # another shard's delivery
        key = delivery_key(command.post_id, command.network, command.page)
        busy = key in self._inflight or key in self._claiming
        readable = self._can_read_back
        if apply_command(
            self._ledger, command, key, busy=busy, can_read_back=readable, reconnect=self._credentials.reload
        ):
            self._wake.set()

    async def _attachments(self, row: DeliveryRow) -> list[Media]:
        if not row.media:
            return []
        if self._library is None:
            raise DeliveryError("this dispatcher has no media store", network_code=None, kind="permanent")
        return await self._library.attachments(row.media)

    def _can_read_back(self, row: DeliveryRow) -> bool:
        return reconcilable(row, self._adapter(row.network))

    # --- the delivery loop ---------------------------------------------------------------------

    async def run(self, nc: NATS, stop: asyncio.Event) -> None:
        log.info("credentials.opened", references=self._credentials.open_all())
        self._relay = OutboxRelay(self._ledger, nc, self._writer.sent if self._writer is not None else None)
        self._recover()
        writing = asyncio.create_task(self._write_results(stop))
        relaying = asyncio.create_task(self._relay.run(stop))
        try:
            await self._schedule(stop)
            if self._inflight:  # a clean stop lets calls in flight finish, within their timeout
                await asyncio.wait(list(self._inflight.values()), timeout=self._settings.http_timeout)
        finally:
            for task in list(self._inflight.values()):
                task.cancel()  # left `publishing`: the next start reconciles them
            self._inflight.clear()
            self._written.set()
            await writing
            await relaying

    def _recover(self) -> None:
        """Calls interrupted by a dying process: reconcile them once they can no longer land."""
        changes = []
        # The dead process sent its last call before now, however long its attempt had run
        # (uploads, a video's processing): that call lands within the HTTP timeout from now.
        due = time.time() + self._settings.http_timeout
        for row in self._ledger.interrupted():
            error: dict[str, Any] = {
                "message": "the dispatcher stopped during the call; checking the page",
                "network_code": None,
            }
            fields: dict[str, Any] = {
                "status": "unconfirmed",
                "maybe_sent": True,
                "due_at": due,
                "error": error,
            }
            changes.append(Change(row.key, fields, delivery_update(row, "unconfirmed", error=error)))
            log.warning("delivery.interrupted", post_id=row.post_id, agency=row.agency, page=row.page)
        self._ledger.apply(changes)

    async def _schedule(self, stop: asyncio.Event) -> None:
        # Claims are grouped: each claim transaction is an fsync, so with calls in flight the
        # scheduler waits until an eighth of the slots are free (or a short while) before claiming.
        # A quarter left the calls waiting on claims: 0.03–0.05 fewer deliveries per ceiling, and
        # p99 50–80 ms later, in the fan-out benchmark (2026-12-06).
        batch = max(1, self._settings.concurrency // 8)
        while not stop.is_set():
            free = self._settings.concurrency - len(self._inflight)
            deadline = time.monotonic() + CLAIM_WINDOW
            while 0 < free < batch and self._inflight and (left := deadline - time.monotonic()) > 0:
                # Each call that ends wakes the loop: keep waiting until the batch's worth is free.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), left)
                self._wake.clear()
                free = self._settings.concurrency - len(self._inflight)
            now = time.time()
            rows = self._ledger.due(now, free) if free > 0 else []
            claims: list[DeliveryRow] = []
            changes: list[Change] = []
            held = self._ledger.page_states() if rows else {}
            for row in rows:
                if len(claims) >= free:
                    break
                if row.key in self._inflight:
                    continue
                gate = self._gate(row, now, held.get(row.page))
                if gate is None:
                    claims.append(row)
                    changes.append(self._claim(row, now))
                else:
                    changes.append(gate)
            self._claiming = {row.key for row in claims}
            await self._apply(changes)  # one transaction: the claims are durable before any call
            self._claiming = set()
            claimed_at = utc_now()  # when the claims were durable: a `publishing` shown later says so
            for row in claims:
                claimed = replace(
                    row,
                    status="publishing",
                    sent_at=now,
                    first_sent_at=row.first_sent_at or now,
                    attempts=row.attempts + 1,
                    version=row.version + 1,
                )
                self._inflight[row.key] = asyncio.create_task(self._deliver(claimed, row, claimed_at))
            if self._relay is not None and changes:
                self._relay.wake.set()
            if claims or len(changes) > len(claims):
                await asyncio.sleep(0)
                continue
            next_due = self._ledger.next_due()
            timeout = 1.0 if next_due is None else min(max(next_due - now, 0.01), 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()

    async def _apply(self, changes: list[Change]) -> None:
        if self._writer is not None:
            await self._writer.apply(changes)
        else:
            self._ledger.apply(changes)

    def _claim(self, row: DeliveryRow, now: float) -> Change:
        fields: dict[str, Any] = {
            "status": "publishing",
            "sent_at": now,
            "first_sent_at": row.first_sent_at or now,
            "attempts": row.attempts + 1,
        }
        return Change(row.key, fields)

    def _gate(self, row: DeliveryRow, now: float, state: PageState | None) -> Change | None:
        """None when the delivery may go now; otherwise the change that holds or postpones it
        (`state`: the page's, when it waits for a person to reconnect it)."""
        if state is not None:
            error: dict[str, Any] = {
                "message": f"the page needs to be reconnected before anything is posted ({state.reason})",
                "network_code": state.network_code,
            }
            fields: dict[str, Any] = {"status": "failed", "dead": True, "due_at": None, "error": error}
            alerts = (dead_letter(row, "failed", row.attempts, error),)
            log.warning(
                "delivery.held", post_id=row.post_id, agency=row.agency, page=row.page, reason="needs_reauth"
            )
            _count(row, "failed")
            return Change(row.key, fields, delivery_update(row, "failed", error=error), alerts)
        if (disconnected := self._disconnected(row)) is not None:
            return disconnected
        if self._pages.get(row.page) is None:
            counted = self._pages.loaded.is_set()
            failures = row.failures + (1 if counted else 0)
            error = {
                "message": f"page {row.page} is not in the federation's registry",
                "network_code": None,
            }
            if failures >= self._settings.max_attempts:
                fields = {
                    "status": "failed",
                    "dead": True,
                    "due_at": None,
                    "error": error,
                    "failures": failures,
                }
                alerts = (dead_letter(row, "failed", row.attempts, error),)
                _count(row, "failed")
                return Change(row.key, fields, delivery_update(row, "failed", error=error), alerts)
            wait = backoff(failures, self._policy, self._rng) if counted else 1.0
            return Change(row.key, {"due_at": now + wait, "failures": failures, "error": error})
        # A reply spends what a reply costs where the network prices calls in units (YouTube).
        wait = self._limiter.reserve(row.network, row.page, "reply" if row.reply_to is not None else "post")
        if wait > 0:
            return self._wait_for_limit(row, now, now + wait)
        return None

    def _disconnected(self, row: DeliveryRow) -> Change | None:
        """An advocate's share to an account she disconnected (or after she opted out): never sent,
        at once, rather than retried while the registry forgets the page."""
        advocate = advocate_of_page(row.page)
        if advocate is None or self._advocates is None:
            return None
        if self._advocates.credentials.get(credentials_ref(advocate, row.network)) is not None:
            return None
        error: dict[str, Any] = {
            "message": "the advocate's account is not connected (disconnected, or she opted out): not sent",
            "network_code": None,
        }
        fields: dict[str, Any] = {"status": "failed", "dead": True, "due_at": None, "error": error}
        log.warning("delivery.not_connected", post_id=row.post_id, agency=row.agency, page=row.page)
        _count(row, "failed")
        return Change(row.key, fields, delivery_update(row, "failed", error=error))

    def _wait_for_limit(self, row: DeliveryRow, now: float, until: float) -> Change:
        """Postpone a delivery to its page's (or the app's) reset, shown `throttled` unless the wait
        is too short to matter or an earlier call's outcome is unknown (it stays `unconfirmed`)."""
        if row.status == "unconfirmed" or (row.status != "throttled" and until - now < SHOWN_AFTER):
            return Change(row.key, {"due_at": until})
        error = {
            "message": f"waiting for the {row.network} rate limit to reset",
            "network_code": None,
        }
        return self._throttled(row, now, until, error, {"due_at": until, "error": error})

    def _throttled(
        self, row: DeliveryRow, now: float, until: float, error: dict[str, Any] | None, fields: dict[str, Any]
    ) -> Change:
        """The change that makes `row` throttled until `until`: announced when it starts waiting
        (or its reset moved by `ANNOUNCE_STEP`), with the page's alert once it has waited too long."""
        since = row.throttled_since or now
        fields = {**fields, "status": "throttled", "throttled_since": since}
        announce = None
        if row.status != "throttled" or until - (row.throttled_until or 0.0) >= ANNOUNCE_STEP:
            fields["throttled_until"] = until
            announce = delivery_update(row, "throttled", error=error, throttled_until=until)
        return Change(row.key, fields, announce, self._throttle_alerts(row, now, until, error))

    def _throttle_alerts(
        self, row: DeliveryRow, now: float, until: float, error: dict[str, Any] | None
    ) -> tuple[tuple[str, str, bytes], ...]:
        """The hub's alert, once per wait, when the page's wait (from the first delivery held since
        a call last went through, to this reset) is longer than the threshold: as soon as it is
        known, not after the fact. (After a restart, the page's wait is counted from then.)"""
        since = self._throttled_pages.setdefault(row.page, now)
        if until - since < self._settings.throttle_alert_after or row.page in self._alerted_pages:
            return ()
        self._alerted_pages.add(row.page)
        log.warning(
            "page.throttled",
            post_id=row.post_id,
            agency=row.agency,
            page=row.page,
            since=iso(since),
            until=iso(until),
        )
        return (page_throttled(row, since, until, error),)

    def _end_throttle(self, page: str) -> None:
        self._throttled_pages.pop(page, None)
        self._alerted_pages.discard(page)

    def _adapter(self, network: str) -> NetworkAdapter:
        if network not in self._adapters:
            self._adapters[network] = adapter_for(
                network, self._session, observer=self._observe, timeout=self._timeout
            )
        return self._adapters[network]

    def _observe(self, account: PageAccount, hint: RateHint) -> None:
        self._limiter.observe(account.network, account.page_id, hint)

    # --- what the inbox reader shares with the deliveries (inbox.py) -------------------------------

    def adapter(self, network: str) -> NetworkAdapter:
        """The network's one adapter (its sessions, its rate hints into the same buckets)."""
        return self._adapter(network)

    @property
    def limiter(self) -> RateLimiter:
        return self._limiter

    @property
    def policy(self) -> RetryPolicy:
        return self._policy

    def busy(self) -> bool:
        """At least half the call slots are taken (a fan-out): the inbox's reads wait."""
        return len(self._inflight) >= max(1, self._settings.concurrency // 2)

    def wake_relay(self) -> None:
        """Something was written to the outbox: publish it now rather than at the relay's next look."""
        if self._relay is not None:
            self._relay.wake.set()

    def account(self, page_id: str) -> PageAccount | None:
        """How to reach a page of the registry (its credentials opened), or None if it left it."""
        page = self._pages.get(page_id)
        if page is None:
            return None
        base_url = self._settings.api_urls[page.network]
        if page.owner and self._advocates is not None:  # an advocate's account: her own credentials
            credentials = self._advocates.credentials.get(page.credentials_ref) or {}
            base_url = self._advocates.base_url(page.network, credentials)
        else:
            credentials = self._credentials.get(page.credentials_ref) or {}
        return PageAccount(
            page_id=page.page,
            network=page.network,
            handle=page.handle,
            credentials=credentials,
            base_url=base_url,
        )

    async def _deliver(self, claimed: DeliveryRow, row: DeliveryRow, claimed_at: str) -> None:
        """Make the call; announce `publishing` (the claim's version of `row`, dated `claimed_at`)
        only if it is still running after `SHOWN_AFTER`: the timer is cancelled before the outcome
        is recorded. Most calls end sooner: the announcement is only made when it is shown."""
        shown = asyncio.get_running_loop().call_later(SHOWN_AFTER, self._show_publishing, row, claimed_at)
        try:
            await self._attempt(claimed, shown)
        finally:
            shown.cancel()
            self._inflight.pop(claimed.key, None)
            self._wake.set()

    def _show_publishing(self, row: DeliveryRow, claimed_at: str) -> None:
        self._results.append(Change(row.key, {}, delivery_update(row, "publishing", occurred_at=claimed_at)))
        self._written.set()

    async def _attempt(self, row: DeliveryRow, shown: asyncio.TimerHandle) -> None:
        where = {"post_id": row.post_id, "agency": row.agency, "network": row.network, "page": row.page}
        try:
            await self._refresh_if_expired(row)
            account, outcome = await self._call(row)
            if outcome.needs_reauth is not None and await self._refreshed(row, account):
                # The network refused an advocate's expired token, and the hub refreshed it: once more.
                account, outcome = await self._call(row)
        except Exception as exc:
            # A bug or a vanished page: the call may have been sent, so reconcile like an unknown outcome.
            log.exception("delivery.attempt_crashed", **where)
            error: dict[str, Any] = {
                "message": f"the attempt stopped unexpectedly ({type(exc).__name__}); checking the page",
                "network_code": None,
            }
            outcome = Outcome(
                "unconfirmed",
                {"error": error, "maybe_sent": True, "due_at": time.time() + self._settings.http_timeout},
                "delivery.unconfirmed",
                error,
            )
        shown.cancel()  # no await from here to the outcome's record: `publishing` cannot follow it
        self._record(row, outcome)
        details: dict[str, Any] = {"status": outcome.status, **outcome.notes}
        if outcome.error:
            details |= {"error": outcome.error["message"], "code": outcome.error["network_code"]}
        if outcome.status == "published":
            details["remote_id"] = outcome.fields.get("remote_id")
        log.info(outcome.event, **where, **details)

    async def _call(self, row: DeliveryRow) -> tuple[PageAccount, Outcome]:
        account = self.account(row.page)
        if account is None:
            raise LookupError(f"page {row.page} left the registry")
        outcome = await run_attempt(
            row,
            self._adapter(row.network),
            account,
            policy=self._policy,
            rng=self._rng,
            attachments=self._attachments,
        )
        return account, outcome

    async def _refresh_if_expired(self, row: DeliveryRow) -> None:
        page = self._pages.get(row.page)
        if page is not None and page.owner and self._advocates is not None:
            await self._advocates.refresh_if_expired(page.agency, page.owner, row.network)

    async def _refreshed(self, row: DeliveryRow, refused: PageAccount) -> bool:
        page = self._pages.get(row.page)
        if page is None or not page.owner or self._advocates is None:
            return False
        return await self._advocates.refresh(page.agency, page.owner, row.network, refused.credentials)

    def _record(self, row: DeliveryRow, outcome: Outcome) -> None:
        _count(row, outcome.status)
        fields: dict[str, Any] = {"status": outcome.status, **outcome.fields}
        if outcome.throttle is None:  # the network answered without a rate limit: the wait is over
            fields |= {"throttled_since": None, "throttled_until": None}
            self._end_throttle(row.page)
        announce = None
        if outcome.announce:
            announce = delivery_update(
                row,
                outcome.status,
                remote_id=outcome.fields.get("remote_id"),
                url=outcome.fields.get("url"),
                error=outcome.error,
                part_ids=outcome.fields.get("part_ids") or (),
                published_at=outcome.published_at,
            )
        alerts = []
        if outcome.dead_letter:
            alerts.append(dead_letter(row, outcome.status, row.attempts, outcome.error))
        if outcome.needs_reauth is not None and outcome.error is not None:
            exc = outcome.needs_reauth
            self._ledger.set_page_state(
                PageState(row.page, row.network, "needs_reauth", exc.message, exc.network_code, utc_now())
            )
            alerts.append(needs_reauth(row, outcome.error))
            if (advocate := advocate_of_page(row.page)) is not None:  # her node tells her to reconnect
                msg_id = f"{row.key}.v{row.version + 1}.advocate_needs_reauth"
                alerts.append(
                    account_status(
                        row.agency,
                        advocate,
                        row.network,
                        "needs_reauth",
                        msg_id,
                        str(outcome.error["message"]),
                    )
                )
            log.warning(
                "page.needs_reauth",
                post_id=row.post_id,
                agency=row.agency,
                page=row.page,
                code=exc.network_code,
            )
        change = Change(row.key, fields, announce, tuple(alerts))
        if outcome.throttle is not None:
            scope, seconds = outcome.throttle
            self._limiter.block(row.network, row.page, scope, seconds)
        if outcome.status == "throttled":
            waiting = self._throttled(row, time.time(), fields["due_at"], outcome.error, fields)
            change = Change(row.key, waiting.fields, waiting.announce, (*alerts, *waiting.alerts))
        self._results.append(change)
        self._written.set()

    async def _write_results(self, stop: asyncio.Event) -> None:
        """Group commit: every result that arrived while the last transaction was written goes in the
        next. While many calls are in flight, the first result waits `GROUP_WINDOW` for others: each
        commit is an fsync, on the disk the rest of the machine writes to as well."""
        group = max(1, self._settings.concurrency // 4)
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._written.wait(), 0.5)
            if 0 < len(self._results) < group and len(self._inflight) >= group and not stop.is_set():
                await asyncio.sleep(GROUP_WINDOW)
            self._written.clear()
            results, self._results = self._results, []
            if results:
                await self._apply(results)
                self._wake.set()
                if self._relay is not None:
                    self._relay.wake.set()
            elif stop.is_set() and not self._inflight:
                return
