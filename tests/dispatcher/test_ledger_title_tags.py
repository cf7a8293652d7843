"""The ledger keeps what a variant is sent besides its text: the title and tags the network's rules
rendered, and a video's caption files with its media (real SQLite file). A ledger from before the
title and tags gains them empty, and its deliveries read as they were."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.dispatcher.store import Ledger, open_store


def delivery(key: str, **fields: Any) -> dict[str, Any]:
    return {
        "key": key,
        "post_id": key.split(".")[0],
        "agency": "lyon-part-dieu",
        "network": "youtube",
        "page": "lyon-part-dieu-youtube",
        "parts": ["Replay du webinaire"],
        "link": None,
        "due_at": 1_800_000_000.0,
        **fields,
    }


def test_title_tags_and_captions_are_kept_with_the_delivery(tmp_path: Path) -> None:
    ledger = Ledger(open_store(tmp_path / "dispatcher.db"))
    captions = [{"lang": "fr", "id": "lyon-part-dieu-vtt", "size": 60, "sha256": "ab" * 32}]
    media = [
        {
            "id": "lyon-part-dieu-mp4",
            "content_type": "video/mp4",
            "size": 4096,
            "sha256": "cd" * 32,
            "alt": "Replay",
            "captions": captions,
            "bucket": "media-lyon-part-dieu",
        }
    ]
    ledger.enqueue(
        [
            delivery("a.1", title="Replay : les métiers", tags=["emploi", "webinaire"], media=media),
            delivery("b.1"),
        ]
    )
    given, plain = ledger.get("a.1"), ledger.get("b.1")
    assert given is not None and plain is not None
    assert (given.title, given.tags, given.media[0]["captions"]) == (
        "Replay : les métiers",
        ["emploi", "webinaire"],
        captions,
    )
    assert (plain.title, plain.tags) == (None, [])


def test_a_ledger_from_before_titles_gains_them_empty(tmp_path: Path) -> None:
    path = tmp_path / "dispatcher.db"
    db = open_store(path)
    Ledger(db).enqueue([delivery("old.1")])
    # As the ledger was before the migration: no columns, the migration not applied.
    db.execute("alter table deliveries drop column title")
    db.execute("alter table deliveries drop column tags")
    db.execute("delete from _sqlite_migrations where name = 'm010_title_and_tags'")
    db.conn.commit()
    db.close()

    ledger = Ledger(open_store(path))
    old = ledger.get("old.1")
    assert old is not None and (old.title, old.tags, old.parts) == (None, [], ["Replay du webinaire"])
