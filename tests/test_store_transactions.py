"""The stores' multi-row writes are transactions: a post is stored with all its deliveries or not at
all. sqlite-utils commits each of its own writes unless they run inside `db.atomic()` (a
`with db.conn:` block does not hold them together), so a failure half-way used to leave a post
without its deliveries: relayed, yet never shown as published at the agency. Real SQLite files; the
failure is a real SQLite abort raised by a trigger, as a full disk or a constraint would."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlite_utils

from services.hub.store import open_store as open_hub_store
from services.intake.store import insert_announced, insert_post, open_store
from shared.accounts import open_session
from shared.ids import new_post_id, utc_now
from shared.schemas import PostAnnounced, PostReceived, Target

AGENCY = "lyon-part-dieu"


def _fail_writes_to(db: sqlite_utils.Database, table: str) -> None:
    db.execute(
        f"create trigger fail_{table} before insert on {table}"
        " begin select raise(abort, 'the disk is full'); end"
    )


def _count(db: sqlite_utils.Database, table: str) -> int:
    return int(db.execute(f"select count(*) from {table}").fetchone()[0])


def _post() -> PostReceived:
    return PostReceived(
        post_id=new_post_id(AGENCY),
        agency=AGENCY,
        occurred_at=utc_now(),
        author="claire",
        text="Forum emploi jeudi",
        targets=[Target("mastodon", "lyon-part-dieu-mastodon"), Target("x", "lyon-part-dieu-x")],
    )


def test_a_post_is_stored_with_all_its_deliveries_or_not_at_all(tmp_path: Path) -> None:
    db = open_store(tmp_path / "intake.db")
    _fail_writes_to(db, "deliveries")
    with pytest.raises(sqlite_utils.db.sqlite3.IntegrityError, match="disk is full"):
        insert_post(db, _post())
    db.execute("drop trigger fail_deliveries")
    assert _count(db, "posts") == 0
    # Reopened as after a crash: still nothing half-written, and the next post goes in whole.
    db.close()
    db = open_store(tmp_path / "intake.db")
    assert _count(db, "posts") == 0
    insert_post(db, _post())
    assert (_count(db, "posts"), _count(db, "deliveries")) == (1, 2)


def test_an_announced_campaign_is_stored_whole_or_not_at_all(tmp_path: Path) -> None:
    db = open_store(tmp_path / "intake.db")
    _fail_writes_to(db, "deliveries")
    announced = PostAnnounced(
        post_id="hub-01JCAMPAIGN",
        agency=AGENCY,
        occurred_at=utc_now(),
        origin_agency="hub",
        author="web-social",
        text="Semaine de l'emploi",
        targets=[Target("facebook", "lyon-part-dieu-facebook")],
    )
    with pytest.raises(sqlite_utils.db.sqlite3.IntegrityError):
        insert_announced(db, announced)
    assert _count(db, "posts") == 0


def test_a_dashboard_session_is_opened_whole_or_not_at_all(tmp_path: Path) -> None:
    db = open_hub_store(tmp_path / "hub.db")
    db.execute(
        "insert into sessions (id_hash, username, csrf, created_at, expires_at) values (?, ?, ?, ?, ?)",
        ["old", "claire", "c", "2020-01-01T00:00:00.000Z", "2020-01-01T00:00:00.000Z"],
    )
    db.conn.commit()
    _fail_writes_to(db, "sessions")
    with pytest.raises(sqlite_utils.db.sqlite3.IntegrityError):
        open_session(db, "claire")
    # The expired session's deletion went with the failed insert.
    assert _count(db, "sessions") == 1
