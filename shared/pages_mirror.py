"""An in-memory copy of the federation's page registry, kept current by watching its bucket.

For services that look pages up by id (the dispatcher's credentials, the hub's regions).
"""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
import nats.errors
import nats.js.errors
from nats.js import JetStreamContext

from shared.schemas import PAGES_BUCKET, PageRecord

__all__ = ["PagesMirror"]


class PagesMirror:
    def __init__(self) -> None:
        self._pages: dict[str, PageRecord] = {}
        self._regions: dict[str, str] = {}
        self.loaded = asyncio.Event()
        # Counts the registry's changes: a reader that filters every page keeps its list until it moves.
        self.revision = 0

    def get(self, page: str) -> PageRecord | None:
        return self._pages.get(page)

    def region_of(self, agency: str) -> str | None:
        return self._regions.get(agency)

    def agencies(self) -> dict[str, str]:
        """Every agency with a page, and its region."""
        return dict(self._regions)

    def records(self) -> list[PageRecord]:
        """Every page known (the hub judges a regional moderator's selectors against them all)."""
        return list(self._pages.values())

    async def follow(self, js: JetStreamContext, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                kv = await js.key_value(PAGES_BUCKET)
                break
            except (nats.js.errors.BucketNotFoundError, nats.errors.TimeoutError, nats.js.errors.APIError):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1.0)
        else:
            return
        watcher = await kv.watchall()
        try:
            while not stop.is_set():
                try:
                    entry = await watcher.updates(timeout=1.0)  # type: ignore[no-untyped-call]
                except (nats.errors.TimeoutError, TimeoutError):
                    continue
                if entry is None:  # the initial values are all in
                    self.loaded.set()
                    continue
                page = entry.key.split(".", 1)[1]
                self.revision += 1
                if entry.operation in ("DEL", "PURGE") or not entry.value:
                    self._pages.pop(page, None)
                    continue
                record = msgspec.json.decode(entry.value, type=PageRecord)
                self._pages[page] = record
                self._regions[record.agency] = record.region
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()  # type: ignore[no-untyped-call]
