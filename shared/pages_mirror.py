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
from nats.js.kv import KeyValue

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

    def _apply(self, entry: KeyValue.Entry) -> None:
        page = entry.key.split(".", 1)[1]
        self.revision += 1
        if entry.operation in ("DEL", "PURGE") or not entry.value:
            self._pages.pop(page, None)
            return
        record = msgspec.json.decode(entry.value, type=PageRecord)
        self._pages[page] = record
        self._regions[record.agency] = record.region

    @staticmethod
    async def _empty(kv: KeyValue) -> bool:
        """Whether the bucket holds nothing (as nats-py's marker says, when it cannot be asked)."""
        try:
            return (await kv.status()).values == 0
        except (nats.errors.Error, TimeoutError):
            return True

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
                if entry is None:
                    # nats-py's "initial values are in" marker. It can come before them: it is sent
                    # when the server has nothing left to deliver and the callback has seen nothing
                    # yet, which is also the case while they are still in the socket's buffer (5 in
                    # 40 starts with 200 pages). It stands only for an empty bucket; otherwise the
                    # last initial value (nothing pending after it) says so.
                    if await self._empty(kv):
                        self.loaded.set()
                    continue
                self._apply(entry)
                if entry.delta == 0:  # nothing pending after it: the initial values are all in
                    self.loaded.set()
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()  # type: ignore[no-untyped-call]
