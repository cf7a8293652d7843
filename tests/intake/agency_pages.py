"""An agency node's store as the hub's follower leaves it: a page per network (the composer's tests
and its benchmark start from it)."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec
import sqlite_utils

from services.intake.store import upsert_page
from shared.schemas import PageRecord


def add_agency_pages(db: sqlite_utils.Database, agency: str, networks: Iterable[str]) -> None:
    """One page per network for `agency` (Lyon Part-Dieu, Paris time), named `<agency>-<network>`."""
    for network in networks:
        page = f"{agency}-{network}"
        record = PageRecord(
            page=page,
            network=network,
            handle=f"@{page}",
            agency=agency,
            region="auvergne-rhone-alpes",
            department="69",
            timezone="Europe/Paris",
            credentials_ref=f"ref/{page}",
            agency_name="Lyon Part-Dieu",
        )
        upsert_page(db, record, msgspec.json.encode(record))
