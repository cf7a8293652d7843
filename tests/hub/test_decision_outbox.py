"""A decision committed to the hub's SQLite but not yet acknowledged by the bus when the hub
stops: the next start publishes it from the outbox, once, even past the stream's de-duplication
window, and no other decision can be committed meanwhile. Posts decided before the decisions table
existed keep their first decision."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from nats.js.api import StorageType, StreamConfig

from services.hub.outbox import Outbox
from services.hub.store import (
    Decision,
    Outgoing,
    append_event,
    commit_decision,
    decision_of,
    open_store,
    release_edit,
)
from shared.ids import utc_now
from shared.schemas import STREAMS, PostRejected, decisions_subject, encode
from tests.hub.hub_app import LYON, Hub, queue_a_post


async def test_a_decision_committed_before_a_restart_goes_out_once(live_hub: Hub) -> None:
    """The hub stops after committing a decision, before (or after) the bus acknowledged it: the
    next start publishes it from the outbox, once, even past the de-duplication window."""
    post_id = f"{LYON}-restart"
    await queue_a_post(live_hub, post_id)
    now = utc_now()
    rejected = PostRejected(post_id=post_id, agency=LYON, occurred_at=now, rejected_by="nadia", reason="non")
    subject = decisions_subject(LYON, post_id, "rejected")
    decision = Decision(post_id, LYON, "rejected", "nadia", now, reason="non")
    outgoing = [Outgoing(subject, f"{post_id}.rejected", encode(rejected), 0)]
    by_policy = Decision(post_id, LYON, "approved", "policy:auto-approve", now)
    assert not commit_decision(live_hub.db, by_policy, [], from_queue=False)  # it waits for a person
    assert commit_decision(live_hub.db, decision, outgoing, from_queue=True)  # …then the hub stops
    assert await live_hub.subjects("DECISIONS", post_id) == {}
    # No other decision can be committed meanwhile, by a moderator or the policy.
    approved = Decision(post_id, LYON, "approved", "yann", utc_now())
    assert not commit_decision(live_hub.db, approved, [], from_queue=True)
    assert not commit_decision(live_hub.db, approved, [], from_queue=False)

    pending = list(live_hub.db.query("select * from outbox where post_id = ?", [post_id]))
    assert len(pending) == 1
    assert await Outbox(live_hub.link, live_hub.db).flush()  # the next start
    assert await live_hub.subjects("DECISIONS", post_id) == {"rejected": 1}
    assert live_hub.db.execute("select count(*) from outbox").fetchone()[0] == 0

    # Stopped after the acknowledgement but before noting it, and back after the stream's
    # de-duplication window (shortened here): the expected subject sequence still stops a copy.
    await live_hub.js.update_stream(
        StreamConfig(
            name="DECISIONS",
            subjects=STREAMS["DECISIONS"],
            storage=StorageType.FILE,
            duplicate_window=0.2,
            deny_delete=True,
        )
    )
    await asyncio.sleep(0.5)
    with live_hub.db.conn:
        live_hub.db.table("outbox").insert_all(pending)
    assert await Outbox(live_hub.link, live_hub.db).flush()
    assert await live_hub.subjects("DECISIONS", post_id) == {"rejected": 1}
    stored = decision_of(live_hub.db, post_id)
    assert stored is not None and (stored.decision, stored.by) == ("rejected", "nadia")


def test_posts_decided_before_the_upgrade_keep_their_first_decision(tmp_path: Path) -> None:
    """A hub upgraded with posts already decided (told by its audit): a later attempt is refused
    with that decision, and an edit in flight is still released for its revision."""
    db = open_store(tmp_path / "hub.db")
    db["decisions"].drop()
    db["outbox"].drop()
    with db.conn:
        db.execute("delete from _sqlite_migrations where name = 'm009_decisions'")
    history: list[tuple[str, str, str, dict[str, Any]]] = [
        ("p1", "approved", "policy:auto-approve", {}),
        ("p2", "rejected", "yann", {"reason": "non"}),
        ("p2", "approved", "plus-tard", {}),  # the race this fixes: the first one stands
        ("p3", "edited", "zoe", {"revision": 2, "diff": "…"}),
        ("p4", "scheduled", "nadia", {"publish_at": "2026-01-01T09:00:00+00:00"}),
    ]
    for n, (post_id, event, actor, detail) in enumerate(history):
        append_event(
            db,
            source=f"DECISIONS:{n}",
            occurred_at=f"2026-01-01T00:00:0{n}Z",
            post_id=post_id,
            agency=LYON,
            event=event,
            actor=actor,
            detail=detail,
        )
    db.close()
    db = open_store(tmp_path / "hub.db")
    try:
        decided = {p: decision_of(db, p) for p in ("p1", "p2", "p3", "p4", "p5")}
        assert {p: d and (d.decision, d.by, d.reason, d.revision) for p, d in decided.items()} == {
            "p1": ("approved", "policy:auto-approve", None, 0),
            "p2": ("rejected", "yann", "non", 0),
            "p3": ("edited_and_approved", "zoe", None, 2),
            "p4": ("approved", "nadia", None, 0),
            "p5": None,
        }
        assert release_edit(db, "p3", 2, [])
        assert not release_edit(db, "p3", 2, [])
    finally:
        db.close()
