"""Which shard owns which target, and what a ledger does when the layout changes (no processes).

The policy, written down: `i/N` with 1 ≤ i ≤ N (`1/1` by default); a target is a network and an
account; exactly one shard owns each target; going from N to N+1 shards moves targets only to the
new shard; a target pinned by hand goes where it is pinned; a ledger starting with a new layout
hands its unfinished deliveries of lost targets over (`moved`, never attempted again here), takes
back its own `moved` ones to reconcile, and makes the rows of approvals that came before the change
`unconfirmed` (reconciled by reading the page back before any attempt).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from services.dispatcher.settings import Settings
from services.dispatcher.shards import Shard, target_key
from services.dispatcher.store import Ledger, Published, open_store

NETWORKS = ("x", "mastodon", "bluesky", "linkedin", "facebook", "telegram")
TARGETS = [(network, f"page-{number:04d}") for number in range(500) for network in NETWORKS]


def owners(count: int, moves: str = "") -> dict[tuple[str, str], int]:
    shards = [Shard.parse(f"{i}/{count}", moves) for i in range(1, count + 1)]
    result = {}
    for target in TARGETS:
        owning = [s.number for s in shards if s.owns(*target)]
        assert len(owning) == 1, (target, owning)  # exactly one owner, computed by each alone
        result[target] = owning[0]
    return result


def test_one_dispatcher_owns_everything_with_todays_names() -> None:
    shard = Shard.parse(None)
    assert (shard.number, shard.count, shard.sharded) == (1, 1, False)
    assert all(shard.owns(*target) for target in TARGETS)
    assert shard.name("dispatcher") == "dispatcher"
    assert Settings.from_env({}).database.name == "dispatcher.db"
    assert Settings.from_env({"RELAIS_DISPATCHER_SHARD": "2/3"}).database.name == "dispatcher-shard-2.db"
    assert Settings.from_env({"RELAIS_DISPATCHER_SHARD": "1/3"}).database.name == "dispatcher.db"


@pytest.mark.parametrize(
    ("spec", "moves"),
    [
        ("0/3", ""),
        ("4/3", ""),
        ("3", ""),
        ("a/b", ""),
        ("1/0", ""),
        ("-1/2", ""),
        ("1/2", "page-1=2"),  # a target names its network
        ("1/2", "x/page-1=3"),  # no shard 3 of 2
        ("1/2", "x/page-1=two"),
    ],
)
def test_a_malformed_shard_setting_is_refused(spec: str, moves: str) -> None:
    with pytest.raises(ValueError):
        Settings.from_env({"RELAIS_DISPATCHER_SHARD": spec, "RELAIS_DISPATCHER_SHARD_MOVES": moves})


def test_three_shards_share_the_targets_evenly_and_disjointly() -> None:
    counts = Counter(owners(3).values())
    assert set(counts) == {1, 2, 3}
    for shard, count in counts.items():
        assert 0.28 < count / len(TARGETS) < 0.39, (shard, count)


def test_the_same_account_id_on_two_networks_is_two_targets() -> None:
    layout = owners(3)
    split = [n for n in range(500) if len({layout[(net, f"page-{n:04d}")] for net in NETWORKS}) > 1]
    assert split  # the key is the network's account, not the page registry's id alone
    assert target_key("x", "a") != target_key("mastodon", "a")


def test_a_fourth_shard_takes_targets_only_for_itself() -> None:
    before, after = owners(3), owners(4)
    moved = [t for t in TARGETS if before[t] != after[t]]
    assert all(after[t] == 4 for t in moved)
    assert 0.18 < len(moved) / len(TARGETS) < 0.32
    assert [t for t in TARGETS if after[t] == 4] == moved


def test_a_target_pinned_by_hand_goes_to_its_shard_alone() -> None:
    target = next(t for t, owner in owners(3).items() if owner == 1)
    pinned = owners(3, f"{target[0]}/{target[1]}=2")
    assert pinned[target] == 2
    assert {t: o for t, o in pinned.items() if t != target} == {
        t: o for t, o in owners(3).items() if t != target
    }


def _row(post: str, network: str, page: str) -> dict[str, Any]:
    return {
        "key": f"{post}.{network}.{page}",
        "post_id": post,
        "agency": "agence-000",
        "network": network,
        "page": page,
        "parts": ["Forum de l'emploi"],
        "link": None,
        "due_at": 1000.0,
        "approved_at": 990.0,
    }


def test_a_new_layout_hands_unfinished_deliveries_over_and_reconciles_what_it_gains(tmp_path: Path) -> None:
    ledger = Ledger(open_store(tmp_path / "dispatcher.db"))
    kept, lost = ("x", "kept"), ("x", "lost")
    ledger.enqueue([_row("p1", *kept), _row("p1", *lost)], decision_seq=1)
    ledger.db.execute("update deliveries set status = 'publishing' where page = 'lost'")
    ledger.db.conn.commit()

    away, back = ledger.take_over("1/2;", lambda n, p: p != "lost", decisions_seq=5, reconcile_at=2000.0)
    assert (away, back) == (1, 0)
    assert {k: r.status for k, r in ((k, ledger.get(k)) for k in ("p1.x.kept", "p1.x.lost")) if r} == {
        "p1.x.kept": "pending",
        "p1.x.lost": "moved",
    }
    assert ledger.due(10_000.0, 10) == [ledger.get("p1.x.kept")]  # never attempted here again
    assert ledger.interrupted() == []  # nor reconciled here: its new owner does

    # Approvals replayed after the change: up to seq 5 their new rows are reconciled first, not before
    # a call the previous owner had in flight can no longer land; later ones are new.
    ledger.enqueue([_row("p1", "x", "gained")], decision_seq=1)
    ledger.enqueue([_row("p9", "x", "gained")], decision_seq=6)
    replayed, fresh = ledger.get("p1.x.gained"), ledger.get("p9.x.gained")
    assert replayed is not None and fresh is not None
    assert (replayed.status, replayed.maybe_sent, replayed.due_at, replayed.first_sent_at) == (
        "unconfirmed",
        True,
        2000.0,
        990.0,
    )
    assert (fresh.status, fresh.maybe_sent, fresh.due_at) == ("pending", False, 1000.0)

    # Back to owning everything: the row it had handed over is reconciled, like any gained one.
    assert ledger.take_over("1/1;", lambda n, p: True, decisions_seq=7, reconcile_at=3000.0) == (0, 1)
    taken = ledger.get("p1.x.lost")
    assert taken is not None
    assert (taken.status, taken.maybe_sent, taken.due_at) == ("unconfirmed", True, 3000.0)
    assert ledger.layout() == "1/1;"


def test_what_the_bus_announced_published_is_taken_over_as_published(tmp_path: Path) -> None:
    ledger = Ledger(open_store(tmp_path / "dispatcher.db"))
    ledger.enqueue([_row("p1", "x", "away-and-back")], decision_seq=1)
    ledger.take_over("1/2;", lambda n, p: False, decisions_seq=1, reconcile_at=2000.0)
    done = [
        Published(f"p1.x.{page}", "p1", "agence-000", "x", page, f"id-{page}", f"https://x.test/{page}", [])
        for page in ("away-and-back", "gained")
    ]

    ledger.take_over("1/1;", lambda n, p: True, decisions_seq=2, reconcile_at=3000.0, published=done)
    ledger.enqueue([_row("p1", "x", "gained")], decision_seq=1)  # its approval, replayed

    for page in ("away-and-back", "gained"):
        row = ledger.get(f"p1.x.{page}")
        assert row is not None
        assert (row.status, row.remote_id, row.maybe_sent) == ("published", f"id-{page}", False)
    assert ledger.due(10_000.0, 10) == []
