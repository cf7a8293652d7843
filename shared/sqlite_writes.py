"""A write transaction that takes SQLite's write lock when it begins (`BEGIN IMMEDIATE`).

sqlite-utils' `atomic()` begins a deferred transaction: its first statement reads (sqlite-utils
looks at the table's columns), so a later write must upgrade a read snapshot to the write lock.
When another connection holds that lock (a `relais` command writing hub.db beside the hub, say),
SQLite refuses such an upgrade at once with "database is locked", whatever the busy timeout, rather
than risk a deadlock. A transaction that asks for the write lock first waits for it instead, up to
the connection's busy timeout.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlite_utils

__all__ = ["write_transaction"]


@contextlib.contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """Like `db.atomic()` (nested in a transaction: a savepoint), but an outer transaction begins
    holding the write lock."""
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.rollback()  # a no-op if the error already ended the transaction
        raise
    try:
        db.conn.execute("COMMIT")
    except BaseException:
        db.rollback()
        raise
