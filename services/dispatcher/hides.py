"""Hiding a comment that shows a citizen's identifiers (issue #15 item 5), exactly once.

The hub orders it (`inbox.<agency>.<conversation>.hide`, `InboxHideOrdered`); the shard that owns the
page carries it out with the network's moderation API (`CommentHider.hide_comment`: Facebook's
`is_hidden`, Instagram's `hide`, YouTube's `heldForReview`):

- the order becomes one row of the `hides` table, keyed by (network, item id), and is acknowledged
  once the row is on disk: an order heard twice (a redelivery, a moderator asking twice) finds its
  row and adds nothing;
- the row is marked `calling` durably before the network is called; the outcome (`hidden`, or
  `failed` with the reason) and its `InboxItemHidden` announcement are written in one transaction
  and published by the outbox relay (`Nats-Msg-Id` `hide:<network>:<item_id>`, so the hub and the
  node hear it once even when the relay publishes twice);
- a process killed after the call and before the record finds the row `calling` at its next start
  and calls again. That is not blind: on all three networks hiding a hidden comment is documented to
  change nothing and answers success again (the adapters send it as a repeatable call), so the second
  call confirms the first, and only the record, written once, is announced;
- where the network prices calls in units (YouTube's daily quota), each call first takes its cost from
  the dispatcher's limiter (`RateLimiter.reserve` with kind "hide"): a hide waits for the quota's reset
  rather than spend the units kept for uploads, and waits while a `quotaExceeded` holds the app;
  elsewhere hides go around the publications' buckets, as before;
- a transient failure (5xx, a rate limit, a lost answer) is tried again after a back-off, or at the
  reset the network named; a permanent one (the comment deleted meanwhile, the page's token refused,
  a network without `hide_comments`) fails at once with an `ErrorReport` in plain words. The adapters
  redact every token from what networks say, and nothing else goes into the report.

Each log line names the item's page, agency and network; never a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from dataclasses import dataclass

import structlog

from services.dispatcher.adapters.base import DeliveryError
from services.dispatcher.adapters.conversations import CommentHider
from services.dispatcher.attempt import backoff
from services.dispatcher.reads import ReaderWiring
from shared import bus
from shared.ids import utc_now
from shared.networks import NETWORKS
from shared.schemas import ErrorReport, InboxHideOrdered, InboxItemHidden, decode, encode, inbox_subject

__all__ = ["HIDES", "Hider", "hide_msg_id"]

log = structlog.get_logger("relais.dispatcher.hides")

HIDES = bus.ConsumerSpec(stream="INBOX", durable="dispatcher-hides", filter_subject="inbox.*.*.hide")
_COLUMNS = "network, item_id, agency, page, conversation, by, status, attempts"
_IDLE_LOOK = 1.0  # the loop looks for due rows at least this often


def hide_msg_id(network: str, item_id: str) -> str:
    return f"hide:{network}:{item_id}"


@dataclass(frozen=True)
class HideRow:
    network: str
    item_id: str
    agency: str
    page: str
    conversation: str
    by: str
    status: str
    attempts: int


class Hider:
    """This shard's hides: records the orders, calls the networks, announces the outcomes."""

    def __init__(self, wiring: ReaderWiring) -> None:
        self._settings = wiring.settings
        self._db = wiring.ledger.db
        self._adapter = wiring.adapter
        self._account = wiring.account
        self._wake_relay = wiring.wake_relay
        self._registry_loaded = wiring.pages.loaded  # a page not yet mirrored is not a page gone
        self._limiter = wiring.limiter
        self._policy = wiring.policy
        self._rng = random.Random()
        self._wake = asyncio.Event()

    async def on_ordered(self, message: bus.Incoming) -> None:
        """Record the order (acknowledged once on disk); another shard's page is not ours."""
        order = decode(message.data, InboxHideOrdered)
        if not self._settings.shard.owns(order.network, order.page):
            return
        with self._db.conn:
            added = self._db.conn.execute(
                "insert or ignore into hides (network, item_id, agency, page, conversation, by, status,"
                " attempts, due_at, ordered_at, updated_at) values (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
                [
                    order.network,
                    order.item_id,
                    order.agency,
                    order.page,
                    order.conversation,
                    order.by,
                    time.time(),
                    order.occurred_at,
                    utc_now(),
                ],
            ).rowcount
        log.info(
            "hide.ordered" if added else "hide.already_ordered",
            agency=order.agency,
            page=order.page,
            network=order.network,
            item_id=order.item_id,
        )
        if added:
            self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Carry out due orders until `stop`; first, those a killed process left `calling`. Not
        before the pages' registry is read: a page not yet known is not a page that left it."""
        waiting = [asyncio.create_task(self._registry_loaded.wait()), asyncio.create_task(stop.wait())]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        for task in waiting:
            task.cancel()
        with self._db.conn:
            resumed = self._db.conn.execute(
                "update hides set status = 'pending', due_at = ? where status = 'calling'", [time.time()]
            ).rowcount
        if resumed:
            log.warning("hide.resumed_after_interruption", count=resumed)
        while not stop.is_set():
            for row in self._due():
                if stop.is_set():
                    return
                try:
                    await self._carry_out(row)
                except Exception:  # a bug must not stop the dispatcher: this row waits, the others go on
                    log.exception("hide.crashed", agency=row.agency, page=row.page, network=row.network)
                    self._again(row, backoff(row.attempts + 1, self._policy, self._rng), None)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._next_look())
            self._wake.clear()

    def _due(self) -> list[HideRow]:
        rows = self._db.execute(
            f"select {_COLUMNS} from hides where status = 'pending' and due_at <= ? order by due_at limit 50",
            [time.time()],
        ).fetchall()
        return [HideRow(*row) for row in rows]

    def _next_look(self) -> float:
        row = self._db.execute("select min(due_at) from hides where status = 'pending'").fetchone()
        soonest = row[0] if row and row[0] is not None else None
        return _IDLE_LOOK if soonest is None else min(_IDLE_LOOK, max(soonest - time.time(), 0.01))

    async def _carry_out(self, row: HideRow) -> None:
        hlog = log.bind(agency=row.agency, page=row.page, network=row.network, item_id=row.item_id)
        hider, account = self._hider(row.network), self._account(row.page)
        if hider is None:
            title = NETWORKS[row.network].title if row.network in NETWORKS else row.network
            why = f"Relais cannot hide comments on {title}: hide it on the network itself"
            self._finish(row, "failed", ErrorReport(why, "no_hide_comments"), hlog)
            return
        if account is None:
            why = "the page left the registry, so Relais cannot reach it: hide the comment on the network"
            self._finish(row, "failed", ErrorReport(why, "page_unknown"), hlog)
            return
        wait = self._limiter.reserve(row.network, row.page, "hide")
        if wait > 0:  # the quota is spent for today (or held by the network): not an attempt
            self._again(row, wait, None)
            hlog.info("hide.waits_for_quota", wait=round(wait, 1))
            return
        with self._db.conn:  # before the call: a process killed during it finds the row `calling`
            self._db.conn.execute(
                "update hides set status = 'calling', attempts = attempts + 1, updated_at = ?"
                " where network = ? and item_id = ?",
                [utc_now(), row.network, row.item_id],
            )
        attempts = row.attempts + 1
        try:
            await hider.hide_comment(account, row.item_id)
        except DeliveryError as exc:
            report = ErrorReport(exc.message, exc.network_code)
            if exc.kind == "transient" and attempts < self._policy.max_attempts:
                delay = (
                    exc.retry_after
                    if exc.retry_after is not None
                    else backoff(attempts, self._policy, self._rng)
                )
                self._again(row, delay, report)
                hlog.warning(
                    "hide.retry", attempts=attempts, delay=round(delay, 1), network_code=exc.network_code
                )
                return
            self._finish(row, "failed", report, hlog)
            return
        except (OSError, TimeoutError) as exc:  # the adapters raise DeliveryError; a socket may not
            delay = backoff(attempts, self._policy, self._rng)
            self._again(row, delay, ErrorReport(f"the network could not be reached ({type(exc).__name__})"))
            hlog.warning("hide.retry", attempts=attempts, delay=round(delay, 1), error=type(exc).__name__)
            return
        self._finish(row, "hidden", None, hlog)

    def _hider(self, network: str) -> CommentHider | None:
        if network not in NETWORKS:
            return None
        adapter = self._adapter(network)
        hide = getattr(adapter, "hide_comment", None)
        if "hide_comments" not in adapter.capabilities or not callable(hide):
            return None
        return adapter  # type: ignore[return-value]  # checked: it has the capability and its method

    def _again(self, row: HideRow, delay: float, report: ErrorReport | None) -> None:
        with self._db.conn:
            self._db.conn.execute(
                "update hides set status = 'pending', due_at = ?, error = ?, updated_at = ?"
                " where network = ? and item_id = ?",
                [time.time() + delay, _error_json(report), utc_now(), row.network, row.item_id],
            )

    def _finish(
        self, row: HideRow, outcome: str, error: ErrorReport | None, hlog: structlog.BoundLogger
    ) -> None:
        """The outcome and its announcement, in one transaction (the outbox relay publishes it)."""
        message = InboxItemHidden(
            post_id="",
            agency=row.agency,
            occurred_at=utc_now(),
            conversation=row.conversation,
            network=row.network,
            page=row.page,
            item_id=row.item_id,
            outcome=outcome,
            error=error,
        )
        subject = inbox_subject(row.agency, row.conversation, "hidden")
        with self._db.conn:
            self._db.conn.execute(
                "update hides set status = ?, error = ?, updated_at = ? where network = ? and item_id = ?",
                [outcome, _error_json(error), utc_now(), row.network, row.item_id],
            )
            self._db.conn.execute(
                "insert into outbox (subject, msg_id, data) values (?, ?, ?)",
                [subject, hide_msg_id(row.network, row.item_id), encode(message)],
            )
        self._wake_relay()
        if error is None:
            hlog.info("hide.done")
        else:
            hlog.warning("hide.failed", network_code=error.network_code, reason=error.message)


def _error_json(report: ErrorReport | None) -> str | None:
    if report is None:
        return None
    return json.dumps({"message": report.message, "network_code": report.network_code})
