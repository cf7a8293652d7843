"""`relais audit verify` and `relais audit export`: prove the hub's audit trail is whole, and hand it on.

Both open the database read-only, so they can run against a live hub or a copy.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

import sqlite_utils

from services.hub.chain import HASHED_FIELDS, verify_chain
from services.hub.store import chain_entries, entries_since

EXPORT_FIELDS = (*HASHED_FIELDS, "prev_hash", "hash")


def _open(database: Path) -> sqlite_utils.Database | None:
    if not database.exists():
        print(f"relais: {database}: no such audit database", file=sys.stderr)
        return None
    return sqlite_utils.Database(sqlite3.connect(f"file:{database}?mode=ro", uri=True))


def verify(database: Path) -> int:
    db = _open(database)
    if db is None:
        return 2
    count, broken = verify_chain(chain_entries(db))
    if broken is not None:
        before = f"{count} entries before it verify"
        print(f"audit chain BROKEN at entry {broken.entry_id}: {broken.reason} ({before})")
        return 1
    print(f"audit chain intact: {count} entries verified")
    return 0


def export(database: Path, since: str | None, fmt: str) -> int:
    db = _open(database)
    if db is None:
        return 2
    rows = entries_since(db, since)
    if fmt == "jsonl":
        for row in rows:
            print(json.dumps({k: row.get(k) for k in EXPORT_FIELDS}, ensure_ascii=False))
        return 0
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(EXPORT_FIELDS)
    for row in rows:
        writer.writerow([_cell(row.get(k)) for k in EXPORT_FIELDS])
    return 0


def _cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if isinstance(value, dict) else value
