"""The ledger keeps what a reply answers with its delivery (real SQLite file), and a ledger from before
replies gains the column empty: its deliveries read as posts, as they were."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.dispatcher.store import Ledger, open_store

ANSWERED = {
    "conversation": "mastodon:1100",
    "network": "mastodon",
    "page": "lyon-part-dieu-mastodon",
    "item_id": "1101",
    "root_id": "1100",
    "kind": "reply",
}


def delivery(key: str, **fields: Any) -> dict[str, Any]:
    return {
        "key": key,
        "post_id": key.split(".")[0],
        "agency": "lyon-part-dieu",
        "network": "mastodon",
        "page": "lyon-part-dieu-mastodon",
        "parts": ["Bonjour, c'est jeudi à 14 h."],
        "link": None,
        "due_at": 1_800_000_000.0,
        **fields,
    }


def test_a_reply_keeps_what_it_answers(tmp_path: Path) -> None:
    ledger = Ledger(open_store(tmp_path / "dispatcher.db"))
    ledger.enqueue([delivery("reply.1", reply_to=ANSWERED), delivery("post.1")])

    reply, post = ledger.get("reply.1"), ledger.get("post.1")
    assert reply is not None and post is not None
    assert reply.reply_to == ANSWERED
    assert post.reply_to is None
    assert [row.reply_to for row in ledger.due(1_900_000_000.0, 10)] == [ANSWERED, None]


def test_a_ledger_from_before_replies_gains_the_column_empty(tmp_path: Path) -> None:
    path = tmp_path / "dispatcher.db"
    db = open_store(path)
    Ledger(db).enqueue([delivery("old.1")])
    # As the ledger was before the migration: no column, the migration not applied (nor the later
    # engagement trigger that reads the column: SQLite refuses to drop a column a trigger names).
    db.execute("drop trigger engagement_reads_planned")
    db.execute("alter table deliveries drop column reply_to")
    db.execute("delete from _sqlite_migrations where name = 'm012_reply_to'")
    db.conn.commit()
    db.close()

    ledger = Ledger(open_store(path))
    old = ledger.get("old.1")
    assert old is not None and (old.reply_to, old.parts) == (None, ["Bonjour, c'est jeudi à 14 h."])
