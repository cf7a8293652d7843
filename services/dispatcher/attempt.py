"""One delivery attempt, and what its outcome means for the ledger.

The rule that prevents double posts: the posting call is never repeated blindly. When a previous
call may have reached the network (the dispatcher died during it, it timed out, a gateway
answered 5xx), the attempt first *reconciles*: it asks the network's read API whether the post
is on the page (by the delivery's key where the network keeps one, by its text otherwise), and
only publishes what is missing. A network without read-back leaves the delivery `unconfirmed`
for a person to decide.

A reply (a row with `reply_to`) takes the same path through the adapter's reply API: `reply` under
the item it answers, with the delivery's key, and `find_reply` among that item's answers to
reconcile. A network without the `reply` capability refuses it at once (`permanent`), in words.

Everything else follows the error's kind: permanent → `failed` now; auth → `failed` and the page
needs a person; throttled → `throttled` until the reset (not a failure); transient → exponential backoff
with jitter, then a dead letter once `max_attempts` failures have piled up.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from services.dispatcher.adapters.base import (
    DeliveryError,
    Media,
    NetworkAdapter,
    PageAccount,
    Publication,
    UnknownOutcome,
)
from services.dispatcher.adapters.conversations import Replier, ReplyTarget
from services.dispatcher.store import DeliveryRow
from shared.networks import NETWORKS

__all__ = ["Outcome", "RetryPolicy", "backoff", "reconcilable", "run_attempt"]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base: float = 2.0
    cap: float = 900.0


def backoff(failures: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Seconds before the next try: doubling from `base`, capped, with "equal jitter" (half random)
    so that deliveries that failed together do not all come back together."""
    delay = min(policy.cap, policy.base * 2 ** max(failures - 1, 0))
    return float(delay / 2 + rng.uniform(0, delay / 2))


@dataclass(frozen=True)
class Outcome:
    """What to record: the new status and fields, and what to tell whom."""

    status: str
    fields: dict[str, Any]
    event: str  # the log event: delivery.published, delivery.retrying…
    error: dict[str, Any] | None = None
    dead_letter: bool = False
    needs_reauth: DeliveryError | None = None
    throttle: tuple[str, float] | None = None  # (scope, seconds) to block in the rate limiter
    announce: bool = True
    notes: dict[str, Any] = field(default_factory=dict)
    published_at: float | None = None  # `published`: the network's date of it, where it says


def _error(message: str, code: str | None) -> dict[str, Any]:
    return {"message": message, "network_code": code}


def published(publication: Publication, *, reconciled: bool = False) -> Outcome:
    fields: dict[str, Any] = {
        "remote_id": publication.remote_id,
        "url": publication.url,
        "part_ids": list(publication.part_ids),
        "error": None,
        "due_at": None,
        "maybe_sent": False,
        "dead": False,
        "failures": 0,
    }
    return Outcome(
        "published",
        fields,
        "delivery.published",
        notes={"reconciled": reconciled},
        published_at=publication.published_at,
    )


def _held(row: DeliveryRow, message: str, part_ids: list[str]) -> Outcome:
    """An outcome only a person can check: stays `unconfirmed`, never retried automatically."""
    error = _error(message, None)
    fields: dict[str, Any] = {
        "error": error,
        "due_at": None,
        "maybe_sent": True,
        "dead": True,
        "part_ids": part_ids,
    }
    return Outcome("unconfirmed", fields, "delivery.unconfirmed", error, dead_letter=True)


def _from_error(
    row: DeliveryRow, exc: DeliveryError, done: list[str], policy: RetryPolicy, rng: random.Random, now: float
) -> Outcome:
    part_ids = list(exc.part_ids) or done
    error = _error(exc.message, exc.network_code)
    if exc.kind == "auth":
        fields: dict[str, Any] = {
            "error": error,
            "due_at": None,
            "dead": True,
            "maybe_sent": False,
            "part_ids": part_ids,
        }
        return Outcome("failed", fields, "delivery.needs_reauth", error, dead_letter=True, needs_reauth=exc)
    if exc.kind == "permanent":
        fields = {"error": error, "due_at": None, "maybe_sent": False, "part_ids": part_ids}
        return Outcome("failed", fields, "delivery.failed", error)
    if exc.throttled and exc.retry_after is not None:
        # The network said when: waiting for its reset is not a failed attempt. The delivery is
        # `throttled` (shown with its reset time) unless an earlier call's outcome is still unknown
        # (a 429 while reading the page back): then it stays `unconfirmed` and is reconciled first.
        wait = exc.retry_after
        maybe = exc.maybe_created
        fields = {"error": error, "due_at": now + wait, "maybe_sent": maybe, "part_ids": part_ids}
        status = "unconfirmed" if maybe else "throttled"
        return Outcome(status, fields, "delivery.throttled", error, throttle=(exc.scope, wait))
    # A throttle without a reset time backs off like any transient error (and dead-letters in the
    # end), so that a network that keeps refusing is not asked again every few seconds forever.
    failures = row.failures + 1
    if failures >= policy.max_attempts:
        given_up = _error(f"gave up after {failures} attempts: {exc.message}", exc.network_code)
        fields = {
            "error": given_up,
            "due_at": None,
            "dead": True,
            "failures": failures,
            "part_ids": part_ids,
        }
        fields["maybe_sent"] = exc.maybe_created
        return Outcome(
            "unconfirmed" if exc.maybe_created else "failed",
            fields,
            "delivery.dead_letter",
            given_up,
            dead_letter=True,
        )
    wait = max(backoff(failures, policy, rng), exc.retry_after or 0.0)
    fields = {
        "error": error,
        "due_at": now + wait,
        "failures": failures,
        "part_ids": part_ids,
    }
    fields["maybe_sent"] = exc.maybe_created
    status = "unconfirmed" if exc.maybe_created else "pending"
    return Outcome(
        status, fields, "delivery.retrying", error, announce=exc.maybe_created, notes={"in_s": wait}
    )


def _unknown(
    row: DeliveryRow,
    message: str,
    part_ids: list[str],
    can_read_back: bool,
    policy: RetryPolicy,
    rng: random.Random,
    now: float,
) -> Outcome:
    if not can_read_back:
        return _held(
            row, f"{message}; this network cannot be read back: check the page, then decide", part_ids
        )
    failures = row.failures + 1
    error = _error(message, None)
    if failures >= policy.max_attempts:
        return _held(row, f"outcome still unknown after {failures} attempts: {message}", part_ids)
    fields: dict[str, Any] = {
        "error": error,
        "due_at": now + backoff(failures, policy, rng),
        "maybe_sent": True,
        "failures": failures,
        "part_ids": part_ids,
    }
    return Outcome("unconfirmed", fields, "delivery.unconfirmed", error)


async def run_attempt(
    row: DeliveryRow,
    adapter: NetworkAdapter,
    account: PageAccount,
    *,
    policy: RetryPolicy,
    rng: random.Random,
    clock: Callable[[], float] = time.time,
    attachments: Callable[[DeliveryRow], Awaitable[Sequence[Media]]] | None = None,
) -> Outcome:
    """Reconcile when a previous call may have landed, then publish what is missing.

    `attachments` loads the row's media (bytes and URL) only when something is to be published.
    """
    if row.reply_to is not None:
        return await _run_reply(row, adapter, account, policy=policy, rng=rng, clock=clock)
    done = list(row.part_ids)
    if row.maybe_sent:
        if not adapter.can_read_back:
            return _held(
                row, "an earlier call's outcome is unknown and this network cannot be read back", done
            )
        try:
            found = await adapter.find(
                account, row.parts, idempotency_key=row.key, since=row.first_sent_at or clock()
            )
        except DeliveryError as exc:
            if exc.kind == "transient":
                # The post may exist: keep reconciling (never publish without having looked).
                exc.maybe_created = True
            return _from_error(row, exc, done, policy, rng, clock())
        if found is not None and len(found.part_ids) >= len(row.parts):
            return published(found, reconciled=True)
        if found is not None and len(found.part_ids) > len(done):
            done = list(found.part_ids)
    try:
        # A thread resumed after its first part carries no media (they went with that part).
        media = await attachments(row) if attachments is not None and row.media and not done else ()
        publication = await adapter.publish(
            account,
            row.parts,
            idempotency_key=row.key,
            link=row.link,
            facets=row.facets or None,
            media=media,
            content_warning=row.content_warning,
            done=done,
            title=row.title,
            tags=row.tags,
        )
    except DeliveryError as exc:
        return _from_error(row, exc, done, policy, rng, clock())
    except UnknownOutcome as exc:
        return _unknown(
            row, exc.message, list(exc.part_ids) or done, adapter.can_read_back, policy, rng, clock()
        )
    return published(publication)


def reconcilable(row: DeliveryRow, adapter: NetworkAdapter) -> bool:
    """Whether the network can show this delivery, so that an unknown outcome is looked up rather than
    left to a person: a post where the adapter reads the page back, a reply there too, but an answer
    to a private message only where the private chat is made of ordinary items (Mastodon's `direct`
    statuses): Messenger's Send API and Telegram's Bot API let no page read its answers back; their
    `find_reply` says so."""
    private = row.reply_to is not None and row.reply_to.get("kind") == "message"
    return adapter.can_read_back and (not private or adapter.private_replies_read_back)


def _replier(row: DeliveryRow, adapter: NetworkAdapter) -> Replier | DeliveryError:
    """The adapter's reply API, or why this reply cannot be sent (never worth a retry)."""
    if "reply" not in adapter.capabilities or not callable(getattr(adapter, "reply", None)):
        title = NETWORKS[row.network].title if row.network in NETWORKS else row.network
        return DeliveryError(
            f"Relais cannot answer people on {title}: this network has no reply capability, so the"
            " reply was not sent; answer on the network itself",
            network_code=None,
            kind="permanent",
        )
    if len(row.parts) != 1:
        return DeliveryError(
            f"a reply is sent as one part, this one has {len(row.parts)}: shorten it",
            network_code=None,
            kind="permanent",
        )
    return cast(Replier, adapter)


async def _run_reply(
    row: DeliveryRow,
    adapter: NetworkAdapter,
    account: PageAccount,
    *,
    policy: RetryPolicy,
    rng: random.Random,
    clock: Callable[[], float],
) -> Outcome:
    """`run_attempt` for a reply: reconcile among the answered item's answers, then answer it once."""
    assert row.reply_to is not None
    replier = _replier(row, adapter)
    if isinstance(replier, DeliveryError):
        return _from_error(row, replier, [], policy, rng, clock())
    target = ReplyTarget(
        item_id=row.reply_to["item_id"], root_id=row.reply_to["root_id"], kind=row.reply_to["kind"]
    )
    text = row.parts[0]
    if row.maybe_sent and not reconcilable(row, adapter):
        return _held(row, "an earlier reply's outcome is unknown and this network cannot be read back", [])
    if row.maybe_sent:
        try:
            found = await replier.find_reply(account, text, target, since=row.first_sent_at or clock())
        except NotImplementedError:
            return _held(
                row, "an earlier reply's outcome is unknown and this network cannot be read back", []
            )
        except DeliveryError as exc:
            if exc.kind == "transient":
                exc.maybe_created = True  # the reply may exist: never answer again without having looked
            return _from_error(row, exc, [], policy, rng, clock())
        if found is not None:
            return published(found, reconciled=True)
    try:
        publication = await replier.reply(account, text, target, idempotency_key=row.key)
    except DeliveryError as exc:
        return _from_error(row, exc, [], policy, rng, clock())
    except UnknownOutcome as exc:
        return _unknown(row, exc.message, [], reconcilable(row, adapter), policy, rng, clock())
    return published(publication)
