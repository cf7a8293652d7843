"""The federation registry on disk: regions, agencies and pages (sqlite-utils)."""

from __future__ import annotations

from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

from services.federation.registry import PageRow
from shared.business_hours import REGION_CALENDARS
from shared.schemas import DEFAULT_PAGE_CALENDAR, PageRecord

migrations = Migrations("relais.federation")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.table("pages").create(
        {c: str for c in PageRow.__dataclass_fields__} | {"status": str},
        pk="page",
        defaults={"status": "active"},
    )


@migrations()
def m002_page_calendars(db: sqlite_utils.Database) -> None:
    """Each page's calendar id. Pages imported before keep running until the next import (which
    applies the configuration): they get their region's built-in calendar, or the default one."""
    table = db.table("pages")
    if "calendar" not in table.columns_dict:  # m001 creates it on a new file (PageRow has it)
        table.add_column("calendar", str)
    for region in {row["region"] for row in table.rows_where("calendar is null", select="region")}:
        calendar = REGION_CALENDARS.get(region, DEFAULT_PAGE_CALENDAR)
        db.execute("update pages set calendar = ? where region = ? and calendar is null", [calendar, region])


@migrations()
def m003_personal_pages(db: sqlite_utils.Database) -> None:
    """Advocates' personal accounts (#16): a page's owner, her pseudonym ("" for the agency's own)."""
    db.table("pages").add_column("owner", str, not_null_default="")


def open_store(path: Path) -> sqlite_utils.Database:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    db.execute("PRAGMA journal_mode=WAL")
    migrations.apply(db)
    return db


def import_pages(db: sqlite_utils.Database, rows: list[PageRow]) -> int:
    """Insert or update every row; re-importing the same file changes nothing.

    Upserts keep a page's `status` (a page needing re-authentication stays so after a re-import).
    """
    db.table("pages").upsert_all((row.as_dict() for row in rows), pk="page")
    return len(rows)


def data_version(db: sqlite_utils.Database) -> int:
    """Changes whenever another connection (e.g. `relais pages import`) commits to the file."""
    return int(db.execute("PRAGMA data_version").fetchone()[0])


def page_records(db: sqlite_utils.Database) -> dict[str, PageRecord]:
    return {
        row["page"]: PageRecord(
            page=row["page"],
            network=row["network"],
            handle=row["handle"],
            agency=row["agency"],
            region=row["region"],
            department=row["department"],
            timezone=row["timezone"],
            credentials_ref=row["credentials_ref"],
            status=row["status"] or "active",
            agency_name=row["agency_name"],
            city=row["city"],
            region_name=row["region_name"],
            local_url=row["local_url"] or "",
            calendar=row["calendar"],
            owner=row["owner"] or "",
        )
        for row in db.table("pages").rows_where(order_by="page")
    }
