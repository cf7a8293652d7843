"""`write_transaction` takes the write lock when it begins, so a writer beside it (a `relais`
command beside the hub) only delays it; sqlite-utils' deferred `atomic()` fails at once instead."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlite_utils

from shared.sqlite_writes import write_transaction


def _database(path: Path) -> sqlite_utils.Database:
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA busy_timeout = 10000")
    db.execute("PRAGMA journal_mode=WAL")
    db.table("rows").create({"id": int, "value": str}, pk="id", if_not_exists=True)
    return db


def _hold_the_write_lock(path: Path, seconds: float) -> threading.Thread:
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")

    def release() -> None:
        time.sleep(seconds)
        other.execute("COMMIT")
        other.close()

    thread = threading.Thread(target=release)
    thread.start()
    return thread


def test_a_write_transaction_waits_for_another_writer(tmp_path: Path) -> None:
    db = _database(tmp_path / "store.db")
    holder = _hold_the_write_lock(tmp_path / "store.db", 1.0)
    started = time.monotonic()
    with write_transaction(db):
        db.table("rows").insert({"id": 1, "value": "écrit"})
    holder.join()
    assert time.monotonic() - started >= 0.9  # it waited for the other writer's commit
    assert [r["value"] for r in db.table("rows").rows] == ["écrit"]


def test_a_deferred_transaction_that_reads_first_fails_at_once(tmp_path: Path) -> None:
    """Why `write_transaction` exists: sqlite-utils reads the table's columns before inserting."""
    db = _database(tmp_path / "store.db")
    holder = _hold_the_write_lock(tmp_path / "store.db", 1.0)
    started = time.monotonic()
    with pytest.raises(sqlite3.OperationalError, match="locked"), db.atomic():
        db.table("rows").insert({"id": 1, "value": "perdu"})
    assert time.monotonic() - started < 0.9
    holder.join()


def test_a_nested_write_transaction_is_a_savepoint_that_rolls_back_alone(tmp_path: Path) -> None:
    db = _database(tmp_path / "store.db")
    with write_transaction(db):
        db.table("rows").insert({"id": 1, "value": "gardé"})
        with pytest.raises(RuntimeError), write_transaction(db):
            db.table("rows").insert({"id": 2, "value": "annulé"})
            raise RuntimeError("inner failure")
    assert [r["value"] for r in db.table("rows").rows] == ["gardé"]
