"""Each post's current state for the dashboard, folded from its audit events (`post_view`) and kept in
`post_states`/`delivery_states`, so that counts are SQL rather than a replay of the whole audit.

The fold mark (`fold_mark`) is the last audit entry already folded: after a stop between recording
and folding, the hub folds the posts of the entries after it when it starts again.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from services.hub.store import events_for_post
from services.hub.view import post_view
from shared.ids import utc_now
from shared.sqlite_writes import write_transaction

__all__ = ["audit_head", "refresh_post_state", "set_fold_mark", "unfolded_posts"]


def refresh_post_state(db: sqlite_utils.Database, post_id: str) -> dict[str, Any] | None:
    """Fold the post's events again and store its state; return the view when anything changed,
    with `moved`: the deliveries whose state changed in this fold (a campaign's few, not its all)."""
    events = events_for_post(db, post_id)
    view = post_view(post_id, events)
    if view is None:
        return None
    view["agency"] = agency = view["agency"] or events[0]["agency"]
    if view["status"] == "rejected":  # never attempted: count them as the agency shows them
        for delivery in view["deliveries"]:
            delivery["status"] = "rejected" if delivery["status"] == "pending" else delivery["status"]
    old = db.execute("select status, reason from post_states where post_id = ?", [post_id]).fetchone()
    stored = {
        page: (status, until)
        for page, status, until in db.execute(
            "select page, status, throttled_until from delivery_states where post_id = ?", [post_id]
        ).fetchall()
    }
    moved = [d for d in view["deliveries"] if stored.get(d["page"]) != (d["status"], d["throttled_until"])]
    if old == (view["status"], view["reason"]) and not moved:
        return None
    now = utc_now()
    with write_transaction(db):  # also inside the caller's transaction (a pass of `PostChanges`)
        db.table("post_states").upsert(
            {
                "post_id": post_id,
                "agency": agency,
                "status": view["status"],
                "reason": view["reason"],
                "updated_at": now,
            },
            pk="post_id",
        )
        # Only the deliveries that moved: a campaign's thousand pages are not rewritten each time.
        db.table("delivery_states").upsert_all(
            [
                {
                    "post_id": post_id,
                    "page": d["page"],
                    "network": d["network"],
                    "agency": d["agency"] or agency,
                    "status": d["status"],
                    "throttled_until": d["throttled_until"],
                    "updated_at": now,
                }
                for d in moved
            ],
            pk=("post_id", "page"),
        )
    return {**view, "moved": moved}


def audit_head(db: sqlite_utils.Database) -> int:
    return int(db.execute("select coalesce(max(id), 0) from audit").fetchone()[0])


def unfolded_posts(db: sqlite_utils.Database) -> list[str]:
    """Posts with audit entries after the fold mark."""
    mark = db.execute("select audit_id from fold_mark where id = 1").fetchone()[0]
    rows = db.execute("select distinct post_id from audit where id > ? and post_id != ''", [mark])
    return [r[0] for r in rows.fetchall()]


def set_fold_mark(db: sqlite_utils.Database, audit_id: int) -> None:
    db.execute("update fold_mark set audit_id = ? where id = 1", [audit_id])
