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


class WriteLockHolder:
    """Another connection holding the write lock for `seconds`. `committing` is set just before it
    commits: a writer that gets in after it was waiting; one that fails before it failed at once.
    Order, not the clock, so a loaded machine cannot change the answer."""

    def __init__(self, path: Path, seconds: float) -> None:
        self.committing = threading.Event()
        self._connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._connection.execute("BEGIN IMMEDIATE")
        self._thread = threading.Thread(target=self._release, args=(seconds,))
        self._thread.start()

    def _release(self, seconds: float) -> None:
        time.sleep(seconds)
        self.committing.set()
        self._connection.execute("COMMIT")
        self._connection.close()

    def join(self) -> None:
        self._thread.join()


def test_a_write_transaction_waits_for_another_writer(tmp_path: Path) -> None:
    db = _database(tmp_path / "store.db")
    holder = WriteLockHolder(tmp_path / "store.db", 1.0)
    with write_transaction(db):
        assert holder.committing.is_set()  # it got the lock once the other writer let it go
        db.table("rows").insert({"id": 1, "value": "écrit"})
    holder.join()
    assert [r["value"] for r in db.table("rows").rows] == ["écrit"]


def test_a_deferred_transaction_that_reads_first_fails_at_once(tmp_path: Path) -> None:
    """Why `write_transaction` exists: sqlite-utils reads the table's columns before inserting."""
    db = _database(tmp_path / "store.db")
    holder = WriteLockHolder(tmp_path / "store.db", 1.0)
    with pytest.raises(sqlite3.OperationalError, match="locked"), db.atomic():
        db.table("rows").insert({"id": 1, "value": "perdu"})
    assert not holder.committing.is_set()  # it failed while the other writer still held the lock
    holder.join()


def test_a_nested_write_transaction_is_a_savepoint_that_rolls_back_alone(tmp_path: Path) -> None:
    db = _database(tmp_path / "store.db")
    with write_transaction(db):
        db.table("rows").insert({"id": 1, "value": "gardé"})
        with pytest.raises(RuntimeError), write_transaction(db):
            db.table("rows").insert({"id": 2, "value": "annulé"})
            raise RuntimeError("inner failure")
    assert [r["value"] for r in db.table("rows").rows] == ["gardé"]
