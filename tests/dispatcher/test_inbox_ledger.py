"""The ledger's inbox queries on a real SQLite file: what the reader asks of it, by hand-written rules.

- `recent_posts`: the page's published deliveries on that network, newest first, nothing else;
- `post_answered`: the post whose delivery is, or whose thread holds, a network id, on that page;
- `store_inbox`: an item kept once with its announcement, and the cursor moved, in one transaction.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.dispatcher.store import Change, InboxRow, Ledger, open_store


def delivery(post_id: str, page: str, network: str = "linkedin", due_at: float = 1000.0) -> dict[str, Any]:
    return {
        "key": f"{post_id}.{network}.{page}",
        "post_id": post_id,
        "agency": "lyon",
        "network": network,
        "page": page,
        "parts": ["texte"],
        "link": None,
        "due_at": due_at,
    }


def published(
    ledger: Ledger, post_id: str, page: str, remote_id: str, part_ids: list[str], network: str = "linkedin"
) -> None:
    ledger.apply(
        [
            Change(
                f"{post_id}.{network}.{page}",
                {"status": "published", "remote_id": remote_id, "part_ids": part_ids},
            )
        ]
    )


def row(item_id: str) -> InboxRow:
    return InboxRow(
        network="mastodon",
        item_id=item_id,
        page="p1",
        agency="lyon",
        post_id="",
        conversation="c",
        root_id=item_id,
        parent_id=None,
        kind="mention",
        author_name="ana",
        author_id="1",
        text="Bonjour",
        masked=[],
        created_at="2026-12-05T10:00:00.000Z",
        remote_post_id=None,
        url=None,
        announce=("inbox.lyon.c.received", f"inbox:mastodon:{item_id}", b"{}"),
    )


def test_recent_posts_are_the_pages_published_deliveries_newest_first(tmp_path: Path) -> None:
    ledger = Ledger(open_store(tmp_path / "dispatcher.db"))
    ledger.enqueue(
        [
            delivery("old", "p1", due_at=1000.0),
            delivery("new", "p1", due_at=3000.0),
            delivery("middle", "p1", due_at=2000.0),
            delivery("waiting", "p1", due_at=4000.0),
            delivery("elsewhere", "p2", due_at=5000.0),
            delivery("other-network", "p1", network="x", due_at=6000.0),
        ]
    )
    for post_id, page, network in (
        ("old", "p1", "linkedin"),
        ("new", "p1", "linkedin"),
        ("middle", "p1", "linkedin"),
        ("elsewhere", "p2", "linkedin"),
        ("other-network", "p1", "x"),
    ):
        published(ledger, post_id, page, f"urn:{post_id}", [f"urn:{post_id}"], network)

    assert ledger.recent_posts("linkedin", "p1") == ["urn:new", "urn:middle", "urn:old"]
    assert ledger.recent_posts("linkedin", "p1", limit=1) == ["urn:new"]


def test_a_later_part_of_a_thread_answers_for_its_post_on_its_page_only(tmp_path: Path) -> None:
    ledger = Ledger(open_store(tmp_path / "dispatcher.db"))
    ledger.enqueue([delivery("post-1", "p1", network="x"), delivery("post-2", "p2", network="x")])
    published(ledger, "post-1", "p1", "100", ["100", "101", "102"], "x")
    published(ledger, "post-2", "p2", "200", ["200", "2101"], "x")

    assert ledger.post_answered("x", "p1", "100") == "post-1"
    assert ledger.post_answered("x", "p1", "102") == "post-1"
    assert ledger.post_answered("x", "p1", "10") is None  # a prefix of a part is no part
    assert ledger.post_answered("x", "p1", "200") is None  # another page's delivery
    assert ledger.post_answered("mastodon", "p1", "100") is None


def test_an_item_is_kept_and_announced_once_and_the_cursor_moves_with_it(tmp_path: Path) -> None:
    ledger = Ledger(open_store(tmp_path / "dispatcher.db"))

    first = ledger.store_inbox("p1", "mastodon", "5", [row("a"), row("b"), row("a")])
    again = ledger.store_inbox("p1", "mastodon", "7", [row("b"), row("c")])

    assert [r.item_id for r in first] == ["a", "b"] and [r.item_id for r in again] == ["c"]
    assert [msg_id for _, _, msg_id, _ in ledger.outbox(10)] == [
        "inbox:mastodon:a",
        "inbox:mastodon:b",
        "inbox:mastodon:c",
    ]
    assert ledger.inbox_cursor("p1") == "7" and ledger.inbox_cursor("p2") is None
