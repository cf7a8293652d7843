"""What a rate limit means for the ledger (pure rules of `attempt.py` and `shared/statuses.py`):
a throttled delivery has made no call, so it is never taken for one in flight; but a 429 met while
reading the page back after an unknown outcome must keep the delivery reconciling, never let the
next attempt publish without having looked."""

from __future__ import annotations

import random

from services.dispatcher.adapters.base import DeliveryError
from services.dispatcher.attempt import RetryPolicy, _from_error
from services.dispatcher.store import DeliveryRow
from shared.statuses import DELIVERY_RANK, DELIVERY_TERMINAL, advances, post_status_from_deliveries


def row(*, maybe_sent: bool) -> DeliveryRow:
    return DeliveryRow(
        key="post-1.x.page-x",
        post_id="post-1",
        agency="lyon",
        network="x",
        page="page-x",
        status="publishing",
        attempts=1,
        failures=0,
        parts=["Forum de l'emploi"],
        link=None,
        remote_id=None,
        url=None,
        part_ids=[],
        error=None,
        due_at=None,
        sent_at=1.0,
        first_sent_at=1.0,
        maybe_sent=maybe_sent,
        dead=False,
        version=1,
    )


def rate_limited(*, maybe_created: bool) -> DeliveryError:
    return DeliveryError(
        "X rate limit reached for this account; X allows more in 30 s",
        network_code="429",
        kind="transient",
        retry_after=30.0,
        throttled=True,
        maybe_created=maybe_created,
    )


def test_a_refused_call_waits_throttled_until_the_reset_without_counting_a_failure() -> None:
    outcome = _from_error(
        row(maybe_sent=False), rate_limited(maybe_created=False), [], RetryPolicy(), random.Random(1), 100.0
    )
    assert outcome.status == "throttled" and outcome.announce
    assert outcome.fields["due_at"] == 130.0 and outcome.fields["maybe_sent"] is False
    assert "failures" not in outcome.fields and not outcome.dead_letter
    assert outcome.throttle == ("page", 30.0)


def test_a_rate_limit_while_reading_back_keeps_the_delivery_reconciling() -> None:
    # run_attempt marks a transient error of the read-back `maybe_created`: the post may exist.
    outcome = _from_error(
        row(maybe_sent=True), rate_limited(maybe_created=True), [], RetryPolicy(), random.Random(1), 100.0
    )
    assert outcome.status == "unconfirmed"
    assert outcome.fields["maybe_sent"] is True  # the next attempt reads the page back first
    assert outcome.fields["due_at"] == 130.0


def test_throttled_is_a_waiting_status_between_pending_and_published() -> None:
    assert "throttled" not in DELIVERY_TERMINAL
    assert advances("pending", "throttled", DELIVERY_RANK, DELIVERY_TERMINAL)
    assert advances("publishing", "throttled", DELIVERY_RANK, DELIVERY_TERMINAL)  # a 429 after the claim
    assert advances("throttled", "publishing", DELIVERY_RANK, DELIVERY_TERMINAL)  # the call after the reset
    assert advances("throttled", "published", DELIVERY_RANK, DELIVERY_TERMINAL)
    assert not advances("published", "throttled", DELIVERY_RANK, DELIVERY_TERMINAL)
    assert not advances("unconfirmed", "throttled", DELIVERY_RANK, DELIVERY_TERMINAL)  # unknown stays shown
    assert post_status_from_deliveries(["throttled", "published"]) == "publishing"
