"""The dispatcher's rule for a ledger restored from a backup (`store.mark_restored`), on a real
SQLite file: nothing the old deployment may have published is sent again before its page has been
read back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.dispatcher.store import Ledger, mark_restored, open_store

SNAPSHOT_AT = 1_800_000_000.0
NOW = SNAPSHOT_AT + 3600


def delivery(key: str) -> dict[str, Any]:
    return {
        "key": key,
        "post_id": key.split(".")[0],
        "agency": "lyon-part-dieu",
        "network": "mastodon",
        "page": "lyon-part-dieu-mastodon",
        "parts": ["Atelier CV mardi #emploi"],
        "link": None,
        "due_at": SNAPSHOT_AT - 10,
    }


def test_every_unfinished_delivery_of_a_restored_ledger_is_reconciled_first(tmp_path: Path) -> None:
    ledger = Ledger(open_store(tmp_path / "dispatcher.db"))
    ledger.enqueue([delivery(k) for k in ("a.1", "b.1", "c.1", "d.1")])
    ledger.db.execute(
        "update deliveries set status = 'publishing', first_sent_at = ? where key = 'b.1'", [5.0]
    )
    ledger.db.execute("update deliveries set status = 'published' where key = 'c.1'")
    ledger.db.execute("update deliveries set status = 'throttled' where key = 'd.1'")
    ledger.db.conn.commit()

    assert mark_restored(ledger.db, SNAPSHOT_AT, NOW, decisions_seq=40) == 3

    rows = {key: ledger.get(key) for key in ("a.1", "b.1", "c.1", "d.1")}
    assert {k: (r.status, r.maybe_sent) for k, r in rows.items() if r} == {
        "a.1": ("unconfirmed", True),
        "b.1": ("unconfirmed", True),
        "c.1": ("published", False),
        "d.1": ("unconfirmed", True),
    }
    # Read back from its first call, or from the backup's time when none was known: later calls
    # cannot be older. Due now: the old deployment is stopped, none of its calls is in flight.
    assert [rows[k].first_sent_at for k in ("a.1", "b.1", "d.1")] == [SNAPSHOT_AT, 5.0, SNAPSHOT_AT]  # type: ignore[union-attr]
    assert [r.key for r in ledger.due(NOW, 10)] == ["a.1", "b.1", "d.1"]


def test_an_approval_the_backup_held_but_the_ledger_did_not_is_reconciled_first(tmp_path: Path) -> None:
    ledger = Ledger(open_store(tmp_path / "dispatcher.db"))
    mark_restored(ledger.db, SNAPSHOT_AT, NOW, decisions_seq=40)

    ledger.enqueue([delivery("late.1")], decision_seq=40)  # in the backup's stream: may have gone out
    ledger.enqueue([delivery("new.1")], decision_seq=41)  # approved after the restore

    late, new = ledger.get("late.1"), ledger.get("new.1")
    assert late and (late.status, late.maybe_sent, late.first_sent_at) == ("unconfirmed", True, SNAPSHOT_AT)
    assert new and (new.status, new.maybe_sent, new.first_sent_at) == ("pending", False, None)


def test_a_ledger_never_restored_enqueues_pending(tmp_path: Path) -> None:
    ledger = Ledger(open_store(tmp_path / "dispatcher.db"))
    ledger.enqueue([delivery("a.1")], decision_seq=1)
    row = ledger.get("a.1")
    assert row and (row.status, row.maybe_sent) == ("pending", False)
