"""Every way a delivery becomes `published` plans its figures' reads, in the same transaction (real
SQLite file: the ledger's trigger, `m013_engagement`).

Policy, by hand: a post published on a network that reads figures gets one read per age, due at its
publication (the claim of the call that published it) plus the age times the scale, whichever path
published it (a call's result, a person's `mark_published`, a shard taking its target back); never a
second set, and a read already made is not planned again; nothing for a network that reads no
figures, a reply, or a delivery without a network id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.dispatcher.commands import apply_command
from services.dispatcher.engagement import engagement_plan
from services.dispatcher.store import Change, Ledger, Published, open_store
from shared.ids import utc_now
from shared.schemas import ENGAGEMENT_AGES, DeliveryActionRequested

SCALE = 0.001
SENT_AT = 1_800_000_000.0


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    ledger = Ledger(open_store(tmp_path / "dispatcher.db"))
    ledger.plan_engagement(engagement_plan(SCALE))
    return ledger


def delivery(key: str, network: str = "mastodon", **fields: Any) -> dict[str, Any]:
    return {
        "key": key,
        "post_id": key.split(".")[0],
        "agency": "lyon-part-dieu",
        "network": network,
        "page": f"lyon-part-dieu-{network}",
        "parts": ["Forum emploi jeudi"],
        "link": None,
        "due_at": SENT_AT,
        **fields,
    }


def planned(ledger: Ledger, key: str) -> dict[str, tuple[str, float]]:
    rows = ledger.db.execute("select age, status, due_at from engagement_reads where key = ?", [key])
    return {age: (status, due_at) for age, status, due_at in rows.fetchall()}


def published(key: str, remote_id: str | None = "110") -> Change:
    return Change(key, {"status": "published", "remote_id": remote_id, "sent_at": SENT_AT})


def at_each_age(status: str = "due") -> dict[str, tuple[str, float]]:
    return {age: (status, SENT_AT + seconds * SCALE) for age, seconds in ENGAGEMENT_AGES.items()}


def test_a_publication_plans_one_read_per_age_once(ledger: Ledger) -> None:
    ledger.enqueue([delivery("post-1.mastodon.p")])

    ledger.apply([published("post-1.mastodon.p")])
    first = planned(ledger, "post-1.mastodon.p")
    reads = ledger.engagement_due(SENT_AT + 3600, 10)
    ledger.store_engagement(reads, {"likes": 1, "shares": 0, "replies": 0, "views": None}, utc_now(), [])
    ledger.apply([published("post-1.mastodon.p")])  # announced again: nothing planned anew

    assert first == at_each_age()
    assert planned(ledger, "post-1.mastodon.p") == at_each_age("done")


def test_a_person_marking_it_published_plans_its_reads(ledger: Ledger) -> None:
    ledger.enqueue([delivery("post-1.mastodon.p")])
    ledger.apply([Change("post-1.mastodon.p", {"status": "failed", "dead": True, "remote_id": "110"})])
    ledger.apply([Change("post-1.mastodon.p", {"sent_at": SENT_AT})])
    command = DeliveryActionRequested(
        post_id="post-1",
        agency="lyon-part-dieu",
        occurred_at=utc_now(),
        network="mastodon",
        page="lyon-part-dieu-mastodon",
        action="mark_published",
        requested_by="admin",
    )

    applied = apply_command(
        ledger,
        command,
        "post-1.mastodon.p",
        busy=False,
        can_read_back=lambda row: True,
        reconnect=lambda: None,
    )

    assert applied
    assert planned(ledger, "post-1.mastodon.p") == at_each_age()


def test_a_target_taken_back_from_another_shard_plans_its_reads(ledger: Ledger) -> None:
    ledger.enqueue([delivery("post-1.mastodon.p")])
    ledger.apply([Change("post-1.mastodon.p", {"status": "moved", "sent_at": SENT_AT})])

    ledger.take_over(
        "1/1;",
        lambda network, page: True,
        decisions_seq=0,
        reconcile_at=SENT_AT,
        published=[
            Published(
                "post-1.mastodon.p",
                "post-1",
                "lyon-part-dieu",
                "mastodon",
                "lyon-part-dieu-mastodon",
                "110",
                None,
                [],
            )
        ],
    )

    assert planned(ledger, "post-1.mastodon.p") == at_each_age()


def test_nothing_is_planned_without_figures_to_read(ledger: Ledger) -> None:
    ledger.enqueue(
        [
            delivery("post-1.telegram.p", "telegram"),  # the Bot API gives no figures
            delivery("reply-1.mastodon.p", reply_to={"item_id": "1101", "kind": "reply"}),
            delivery("post-2.mastodon.p"),
        ]
    )

    ledger.apply(
        [
            published("post-1.telegram.p"),
            published("reply-1.mastodon.p"),
            published("post-2.mastodon.p", remote_id=None),  # marked published with no id known
        ]
    )

    assert ledger.db.execute("select count(*) from engagement_reads").fetchone()[0] == 0
