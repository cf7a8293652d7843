"""Advocates' personal accounts as pages of the registry (#16 item 3).

A connected account (`connected` from the hub's OAuth callback, or `app_password` from the node, for
Bluesky only) becomes the page `personal_page(advocate, network)`, owned by the advocate (`owner`),
in her agency with its region, department, timezone and calendar (taken from the agency's own pages:
an agency without a page of its own is refused, and logged), its handle as the adapter posts with it
(LinkedIn: the member's URN `urn:li:person:<id>`) and the credentials reference the dispatcher stores
her credentials under. The `pages` bucket carries it to the dispatcher and to her agency's node.

A disconnected account (`disconnected`), or every account of an advocate who opted out or was
forgotten, is removed from the registry and its key deleted from the bucket, not kept as `retired`:
its handle is personal data, and a removed page is one the dispatcher sends nothing to (a share
already approved for it fails at once there: services/dispatcher/advocate_accounts.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import msgspec
import sqlite_utils
import structlog
from nats.js.kv import KeyValue

from shared import bus
from shared.advocacy.accounts import credentials_ref, personal_page
from shared.advocacy.events import RefusedEvent, account_event
from shared.schemas import (
    AdvocateConnected,
    PageRecord,
    page_key,
)

__all__ = ["ADVOCACY", "PersonalPages"]

log = structlog.get_logger("relais.federation.advocates")

ADVOCACY = bus.ConsumerSpec(stream="ADVOCACY", durable="federation-advocacy", filter_subject="advocacy.*.*.*")
# What a personal page takes from its agency's pages: where it is and how its inbox's clock runs.
_FROM_AGENCY = ("region", "region_name", "department", "agency_name", "city", "timezone", "calendar")


class PersonalPages:
    """The ADVOCACY consumer's handler: writes the registry and its bucket together, under `lock`
    (the registry's publisher takes it too, so it never puts back a page removed meanwhile)."""

    def __init__(
        self, db: sqlite_utils.Database, kv: KeyValue, lock: asyncio.Lock, changed: Callable[[], None]
    ) -> None:
        self._db = db
        self._kv = kv
        self._lock = lock
        self._changed = changed  # the registry in memory reads the file again (targeting sees it)

    async def on_event(self, message: bus.Incoming) -> None:
        try:
            found = account_event(message.subject, message.data)
        except RefusedEvent as refused:
            log.error("advocate.page_refused", subject=message.subject, reason=str(refused))
            return
        if found is None:
            return
        where = {
            "post_id": "",
            "agency": found.agency,
            "advocate": found.advocate,
            "advocacy_event": found.event,
            "network": found.network or "all",
        }
        if isinstance(found.message, AdvocateConnected):
            await self._register(found.message, where)
        else:
            await self._remove(found.agency, found.advocate, found.network, where)

    async def _register(self, connected: AdvocateConnected, where: dict[str, str]) -> None:
        network = connected.network
        handle = connected.handle
        if network == "linkedin":  # the LinkedIn adapter posts as the member its handle names
            handle = f"urn:li:person:{connected.account_id}" if connected.account_id else ""
        if not handle:
            log.error("advocate.page_refused", **where, reason="the account has no handle or id")
            return
        home = self._db.execute(
            f"select {', '.join(_FROM_AGENCY)} from pages where agency = ? and coalesce(owner, '') = '' "
            "order by page limit 1",
            [connected.agency],
        ).fetchone()
        if home is None:
            log.error("advocate.page_refused", **where, reason="the agency has no page in the registry")
            return
        page = personal_page(connected.advocate, network)
        elsewhere = self._db.execute(
            "select 1 from pages where owner = ? and agency != ? limit 1",
            [connected.advocate, connected.agency],
        ).fetchone()
        if elsewhere is not None:  # another agency's node must not move her accounts into its agency
            log.error("advocate.page_refused", **where, reason="the advocate is another agency's")
            return
        row = dict(zip(_FROM_AGENCY, home, strict=True)) | {
            "page": page,
            "network": network,
            "handle": handle,
            "agency": connected.agency,
            "credentials_ref": credentials_ref(connected.advocate, network),
            "local_url": "",
            "status": "active",
            "owner": connected.advocate,
        }
        record = PageRecord(**{name: row[name] for name in PageRecord.__struct_fields__})
        async with self._lock:
            with self._db.conn:
                self._db.table("pages").upsert(row, pk="page")
            await self._kv.put(page_key(connected.agency, page), msgspec.json.encode(record))
            self._changed()
        log.info("advocate.page_registered", **where, page=page)

    async def _remove(self, agency: str, advocate: str, network: str | None, where: dict[str, str]) -> None:
        # Only her pages in this agency: another agency's node cannot remove them.
        where_sql, args = "agency = ? and owner = ?", [agency, advocate]
        if network is not None:
            where_sql, args = "agency = ? and owner = ? and network = ?", [agency, advocate, network]
        async with self._lock:
            pages = [row[0] for row in self._db.execute(f"select page from pages where {where_sql}", args)]
            if network is not None:  # a redelivered event finds no row: its bucket key still goes
                pages = sorted({*pages, personal_page(advocate, network)})
            with self._db.conn:
                self._db.execute(f"delete from pages where {where_sql}", args)
            for page in pages:
                await self._kv.delete(page_key(agency, page))
            self._changed()
        log.info("advocate.pages_removed", **where, pages=len(pages))
