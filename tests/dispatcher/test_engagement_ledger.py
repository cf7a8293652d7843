"""Every way a delivery becomes `published` plans its figures' reads, in the same transaction (real
SQLite file: the ledger's trigger, `m013_engagement`).

Policy, by hand: a post published on a network that reads figures gets one read per age, due at its
publication (the claim of the call that published it) plus the age times the scale, whichever path
published it (a call's result, a person's `mark_published`, a shard taking its target back); never a
second set, and a read already made is not planned again; nothing for a network that reads no
figures, a reply, or a delivery without a network id. A shard taking a target over plans each age
the bus carries no figures of yet, from the publication the bus announced, even one it had left
`moved`, and never one the bus carries (another shard read it); nothing for a delivery the bus says
is a reply or whose figures are older than the bus keeps (`reads_from` None).
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


def announced(key: str, remote_id: str | None = "110", **fields: Any) -> Published:
    post_id, network, page = key.split(".")
    return Published(key, post_id, "lyon-part-dieu", network, page, remote_id, None, [], **fields)


def take_over(ledger: Ledger, *published: Published) -> None:
    """A take-over by a shard owning every target, the bus having announced `published`."""
    ledger.take_over(
        "1/1;", lambda network, page: True, decisions_seq=0, reconcile_at=SENT_AT, published=published
    )


def test_a_target_taken_back_from_another_shard_plans_its_reads(ledger: Ledger) -> None:
    ledger.enqueue([delivery("post-1.mastodon.p")])
    ledger.apply([Change("post-1.mastodon.p", {"status": "moved", "sent_at": SENT_AT})])

    take_over(ledger, announced("post-1.mastodon.p", reads_from=SENT_AT))

    assert planned(ledger, "post-1.mastodon.p") == at_each_age()


def test_a_target_gained_plans_only_the_ages_nobody_read_from_its_announced_publication(
    ledger: Ledger,
) -> None:
    take_over(
        ledger,
        announced("post-1.mastodon.p", reads_from=SENT_AT, already_read=frozenset({"1h"})),
        announced("post-2.mastodon.p", reads_from=None),  # a reply, or older than the bus's figures
        announced("post-3.mastodon.p", remote_id=None, reads_from=SENT_AT),
        announced("post-4.telegram.p", reads_from=SENT_AT),  # the Bot API gives no figures
    )

    assert planned(ledger, "post-1.mastodon.p") == {
        age: due for age, due in at_each_age().items() if age != "1h"
    }
    for key in ("post-2.mastodon.p", "post-3.mastodon.p", "post-4.telegram.p"):
        assert planned(ledger, key) == {}


def test_a_target_taken_back_reads_what_its_other_owner_left_and_nothing_it_read(ledger: Ledger) -> None:
    key = "post-1.mastodon.p"
    ledger.enqueue([delivery(key)])
    ledger.apply([published(key)])
    ledger.end_engagement(key, "moved")  # its page went to another shard before any read fell due
    ledger.enqueue([delivery("post-2.mastodon.p")])
    ledger.apply([published("post-2.mastodon.p")])  # its page stayed: its reads are still due here

    take_over(
        ledger,
        announced(key, reads_from=SENT_AT + 5, already_read=frozenset({"1h", "24h"})),
        announced("post-2.mastodon.p", reads_from=SENT_AT, already_read=frozenset({"1h"})),
    )

    # The other owner read 1 h and 24 h: they stay `moved` here; 7 d is this shard's again.
    assert planned(ledger, key) == {
        "1h": at_each_age("moved")["1h"],
        "24h": at_each_age("moved")["24h"],
        "7d": ("due", SENT_AT + 5 + ENGAGEMENT_AGES["7d"] * SCALE),
    }
    # A due read the bus already carries is not taken again; the others stay due.
    assert planned(ledger, "post-2.mastodon.p") == {
        age: due for age, due in at_each_age().items() if age != "1h"
    }


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
