"""The federation registry on disk: regions, agencies and pages (sqlite-utils)."""

from __future__ import annotations

from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

from services.federation.registry import PageRow

migrations = Migrations("relais.federation")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.table("pages").create(
        {c: str for c in PageRow.__dataclass_fields__} | {"status": str},
        pk="page",
        defaults={"status": "active"},
    )


def open_store(path: Path) -> sqlite_utils.Database:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA journal_mode=WAL")
    migrations.apply(db)
    return db


def import_pages(db: sqlite_utils.Database, rows: list[PageRow]) -> int:
    """Insert or update every row; re-importing the same file changes nothing."""
    with db.conn:
        db.table("pages").upsert_all((row.as_dict() for row in rows), pk="page")
    return len(rows)


def all_pages(db: sqlite_utils.Database) -> list[dict[str, str]]:
    return list(db.table("pages").rows_where(order_by="page"))
