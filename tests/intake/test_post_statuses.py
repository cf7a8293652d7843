"""The statuses an advisor sees at the agency, step by step, from the hub's news.

Policy, by hand: once relayed, a post is `received` (the hub has it, its policy has not decided);
`awaiting_approval` only when the hub says a moderator must decide (PostQueued). An auto-approved
post goes received → publishing → published and is never shown awaiting an approval it never
needed. The hub's own view, folded from its audit, says the same.

A delivery result comes through another consumer than the decisions: for a post written here, it
waits (redelivered, never acked unapplied) until the post's approval is applied, so a moderator's
edit, which comes before the approval, is never shown after « Publiée »; after
`DECISION_WAIT_ATTEMPTS` deliveries it is applied anyway.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlite_utils

from services.hub.view import post_view
from services.intake.follower import apply_event
from services.intake.store import get_post, insert_post, mark_relayed, open_store
from shared import bus
from shared.schemas import (
    DeliveryUpdated,
    PostApproved,
    PostEdited,
    PostQueued,
    PostReceived,
    Target,
    Variant,
    encode,
)

AGENCY = "lyon-part-dieu"
POST = f"{AGENCY}-01KSTATUSES"
PAGE = f"{AGENCY}-mastodon"
AT = "2026-12-04T09:00:00Z"


def _status(db: sqlite_utils.Database) -> str:
    post = get_post(db, POST)
    assert post is not None
    return str(post["status"])


def _relayed_post(tmp_path: Path) -> sqlite_utils.Database:
    db = open_store(tmp_path / "intake.db")
    received = PostReceived(
        post_id=POST,
        agency=AGENCY,
        occurred_at=AT,
        author="claire",
        text="Forum",
        targets=[Target("mastodon", PAGE)],
    )
    insert_post(db, received)
    mark_relayed(db, [POST])
    return db


def _approved(text: str = "Forum") -> bytes:
    variant = Variant("mastodon", PAGE, [text], agency=AGENCY)
    return encode(
        PostApproved(post_id=POST, agency=AGENCY, occurred_at=AT, approved_by="policy", variants=[variant])
    )


def _published() -> bytes:
    update = DeliveryUpdated(
        post_id=POST,
        agency=AGENCY,
        occurred_at=AT,
        network="mastodon",
        page=PAGE,
        status="published",
        remote_id="1",
        url="https://mastodon.example/@lyon/1",
    )
    return encode(update)


def test_an_auto_approved_post_never_shows_awaiting_approval(tmp_path: Path) -> None:
    db = _relayed_post(tmp_path)
    seen = [_status(db)]
    apply_event(db, f"decisions.{AGENCY}.{POST}.approved", _approved())
    seen.append(_status(db))
    apply_event(db, f"deliveries.{AGENCY}.{POST}.published", _published())
    seen.append(_status(db))

    assert seen == ["received", "publishing", "published"]


def test_a_moderated_post_awaits_approval_once_the_hub_says_so(tmp_path: Path) -> None:
    db = _relayed_post(tmp_path)
    assert _status(db) == "received"

    queued = PostQueued(post_id=POST, agency=AGENCY, occurred_at=AT, pages=[PAGE])
    apply_event(db, f"decisions.{AGENCY}.{POST}.queued", encode(queued))
    assert _status(db) == "awaiting_approval"
    apply_event(db, f"decisions.{AGENCY}.{POST}.approved", _approved())
    assert _status(db) == "publishing"


def _text(db: sqlite_utils.Database) -> str:
    post = get_post(db, POST)
    assert post is not None
    return str(post["text"])


def test_a_result_that_outruns_an_edit_and_its_approval_waits_for_them(tmp_path: Path) -> None:
    db = _relayed_post(tmp_path)
    queued = PostQueued(post_id=POST, agency=AGENCY, occurred_at=AT, pages=[PAGE])
    apply_event(db, f"decisions.{AGENCY}.{POST}.queued", encode(queued))
    with pytest.raises(bus.Retry):  # applied now, « Publiée » would show the words about to be replaced
        apply_event(db, f"deliveries.{AGENCY}.{POST}.published", _published())
    assert (_status(db), _text(db)) == ("awaiting_approval", "Forum")

    edit = PostEdited(
        post_id=POST, agency=AGENCY, occurred_at=AT, edited_by="modo", revision=2, text="Forum jeudi", diff=""
    )
    apply_event(db, f"decisions.{AGENCY}.{POST}.edited", encode(edit))
    apply_event(db, f"decisions.{AGENCY}.{POST}.approved", _approved("Forum jeudi"))
    apply_event(db, f"deliveries.{AGENCY}.{POST}.published", _published())  # the redelivery

    assert (_status(db), _text(db)) == ("published", "Forum jeudi")


def test_a_result_whose_approval_never_comes_is_applied_after_its_last_wait(tmp_path: Path) -> None:
    db = _relayed_post(tmp_path)

    apply_event(db, f"deliveries.{AGENCY}.{POST}.published", _published(), wait_for_decision=False)

    assert _status(db) == "published"


def test_the_hubs_view_folds_the_same_statuses() -> None:
    def event(name: str) -> dict[str, object]:
        return {"event": name, "detail": {}, "agency": AGENCY, "network": None, "page": None}

    auto = ["received", "targeted", "rendered", "approved"]
    steps = [post_view(POST, [event(e) for e in auto[: n + 1] if e != "targeted"]) for n in range(len(auto))]
    assert [view and view["status"] for view in steps] == ["received", "received", "received", "publishing"]
    moderated = [event(e) for e in ("received", "rendered", "queued")]
    view = post_view(POST, moderated)
    assert view is not None and view["status"] == "awaiting_approval"
