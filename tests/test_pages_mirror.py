"""The page registry's mirror (`shared.pages_mirror`) against a real nats-server: `loaded` means
every page of the bucket is in, never a part of them (services act on it: the hub withdraws the
stories of agencies it does not know, the dispatcher counts a page it does not find as gone)."""

from __future__ import annotations

import asyncio

import msgspec
import nats
from nats.js import JetStreamContext

from shared import bus
from shared.pages_mirror import PagesMirror
from shared.schemas import PAGES_BUCKET, PageRecord, page_key


def record(number: int) -> PageRecord:
    return PageRecord(
        page=f"page-{number:03d}",
        network="facebook",
        handle=f"page-{number:03d}",
        agency=f"agence-{number:03d}",
        region="occitanie",
        department="31",
        timezone="Europe/Paris",
        credentials_ref=f"sandbox/page-{number:03d}",
    )


async def started(js: JetStreamContext) -> tuple[PagesMirror, asyncio.Event, asyncio.Task[None]]:
    mirror, stop = PagesMirror(), asyncio.Event()
    return mirror, stop, asyncio.create_task(mirror.follow(js, stop))


async def test_loaded_means_every_page_of_the_registry_is_in(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        kv = await bus.ensure_key_value(js, PAGES_BUCKET)
        for number in range(200):
            page = record(number)
            await kv.put(page_key(page.agency, page.page), msgspec.json.encode(page))
        await kv.delete(page_key("agence-007", "page-007"))
        seen = []
        # nats-py's own marker came before the values in 5 of 40 starts like these.
        for _start in range(40):
            mirror, stop, following = await started(js)
            await asyncio.wait_for(mirror.loaded.wait(), 10)
            seen.append(len(mirror.records()))  # at once: no await between `loaded` and the count
            stop.set()
            await following
    finally:
        await nc.close()

    assert seen == [199] * 40
    assert mirror.get("page-007") is None and mirror.region_of("agence-199") == "occitanie"


async def test_an_empty_registry_is_loaded_and_pages_added_later_are_followed(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        kv = await bus.ensure_key_value(js, PAGES_BUCKET)
        mirror, stop, following = await started(js)
        await asyncio.wait_for(mirror.loaded.wait(), 10)
        assert mirror.records() == []

        page = record(1)
        await kv.put(page_key(page.agency, page.page), msgspec.json.encode(page))
        for _ in range(100):
            if mirror.get(page.page) is not None:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await following
    finally:
        await nc.close()

    assert mirror.get(page.page) == page and mirror.agencies() == {page.agency: "occitanie"}
