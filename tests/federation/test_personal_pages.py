"""Advocates' personal accounts as pages of the registry (#16 item 3), with a real nats-server (the
`pages` bucket) and the registry's SQLite file. The policy, written by hand: a connected account is
its advocate's page in her agency (placed as the agency's own pages are), LinkedIn posts as the
member; a node connects Bluesky alone; a body naming another advocate or agency, or an agency
without a page, registers nothing; a disconnected account leaves the registry and the bucket, an
advocate who opts out or is forgotten takes all of hers with her."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import nats
import nats.js.errors
import pytest
import sqlite_utils
from nats.js.kv import KeyValue

from relais.system import DEMO_CSV
from services.federation.personal_pages import PersonalPages
from services.federation.registry import parse_pages_csv
from services.federation.store import import_pages, open_store, page_records
from shared import bus
from shared.advocacy.accounts import advocacy_subject, new_advocate_id, personal_page
from shared.schemas import (
    PAGES_BUCKET,
    AdvocateConnected,
    AdvocateDisconnected,
    AdvocateForgotten,
    Message,
    encode,
    page_key,
)

AGENCY = "lyon-part-dieu"


class Registry:
    def __init__(self, db: sqlite_utils.Database, kv: KeyValue) -> None:
        self.db, self.kv = db, kv
        self.changes = 0
        self.pages = PersonalPages(db, kv, asyncio.Lock(), self._changed)
        self._sequence = 0

    def _changed(self) -> None:
        self.changes += 1

    async def deliver(self, subject_agency: str, advocate: str, event: str, message: Message) -> None:
        self._sequence += 1
        subject = advocacy_subject(subject_agency, advocate, event)
        await self.pages.on_event(bus.Incoming(subject, encode(message), 1, "ADVOCACY", self._sequence))

    async def published(self, agency: str, page: str) -> dict[str, object] | None:
        try:
            entry = await self.kv.get(page_key(agency, page))
        except nats.js.errors.KeyNotFoundError:
            return None
        return dict(json.loads(entry.value)) if entry.value else None


def connected(
    advocate: str, network: str, *, agency: str = AGENCY, account_id: str = "4242"
) -> AdvocateConnected:
    return AdvocateConnected(
        post_id="",
        agency=agency,
        occurred_at="2026-12-05T10:00:00Z",
        advocate=advocate,
        network=network,
        account_id=account_id,
        handle=f"amina_{network}",
        sealed_credentials="sealed:v1:opaque-to-the-federation",
    )


@pytest.fixture
async def registry(tmp_path: Path, nats_url: str) -> AsyncIterator[Registry]:
    db = open_store(tmp_path / "federation.db")
    import_pages(db, parse_pages_csv(DEMO_CSV.read_text(encoding="utf-8")))
    nc = await nats.connect(nats_url)
    kv = await bus.ensure_key_value(nc.jetstream(), PAGES_BUCKET)
    yield Registry(db, kv)
    await nc.close()
    db.close()


async def test_a_connected_account_becomes_its_advocates_page_in_her_agency(registry: Registry) -> None:
    amina = new_advocate_id()
    await registry.deliver(AGENCY, amina, "connected", connected(amina, "linkedin"))
    await registry.deliver(AGENCY, amina, "connected", connected(amina, "mastodon"))
    await registry.deliver(AGENCY, amina, "app_password", connected(amina, "bluesky"))

    pages = page_records(registry.db)
    agency_page = next(p for p in pages.values() if p.agency == AGENCY and not p.owner)
    linkedin = pages[personal_page(amina, "linkedin")]
    assert linkedin.handle == "urn:li:person:4242"  # the adapter posts as the member
    assert (linkedin.owner, linkedin.agency, linkedin.credentials_ref) == (
        AGENCY and amina,
        AGENCY,
        f"advocate:{amina}:linkedin",
    )
    for field in ("region", "region_name", "department", "timezone", "calendar", "agency_name", "city"):
        assert getattr(linkedin, field) == getattr(agency_page, field), field
    assert pages[personal_page(amina, "mastodon")].handle == "amina_mastodon"
    assert pages[personal_page(amina, "bluesky")].handle == "amina_bluesky"
    published = await registry.published(AGENCY, personal_page(amina, "linkedin"))
    assert published is not None and published["owner"] == amina and published["status"] == "active"
    assert registry.changes == 3  # targeting reads the registry again each time


async def test_what_a_node_or_a_forged_body_cannot_register(registry: Registry) -> None:
    amina, bruno = new_advocate_id(), new_advocate_id()
    for network in ("x", "linkedin", "mastodon"):  # a node connects Bluesky alone
        await registry.deliver(AGENCY, amina, "app_password", connected(amina, network))
    await registry.deliver(AGENCY, amina, "connected", connected(bruno, "x"))  # body: another advocate
    await registry.deliver(AGENCY, amina, "connected", connected(amina, "x", agency="villeurbanne"))
    await registry.deliver("nowhere", amina, "connected", connected(amina, "x", agency="nowhere"))  # no page
    await registry.deliver(AGENCY, amina, "connected", connected(amina, "linkedin", account_id=""))
    await registry.deliver(AGENCY, "adv-not-an-id", "connected", connected("adv-not-an-id", "x"))

    assert {p.page for p in page_records(registry.db).values() if p.owner} == set()
    assert registry.changes == 0


async def test_a_disconnected_account_leaves_and_a_forgotten_advocate_takes_all_hers(
    registry: Registry,
) -> None:
    amina, bruno = new_advocate_id(), new_advocate_id()
    for advocate in (amina, bruno):
        await registry.deliver(AGENCY, advocate, "connected", connected(advocate, "x"))
        await registry.deliver(AGENCY, advocate, "connected", connected(advocate, "mastodon"))

    gone = AdvocateDisconnected(
        post_id="", agency=AGENCY, occurred_at="2026-12-05T11:00:00Z", advocate=amina, network="x"
    )
    await registry.deliver(AGENCY, amina, "disconnected", gone)
    assert await registry.published(AGENCY, personal_page(amina, "x")) is None
    assert await registry.published(AGENCY, personal_page(amina, "mastodon")) is not None

    forgotten = AdvocateForgotten(
        post_id="", agency=AGENCY, occurred_at="2026-12-05T12:00:00Z", advocate=amina, by="dpo"
    )
    await registry.deliver(AGENCY, amina, "forgotten", forgotten)
    owned = {p.page for p in page_records(registry.db).values() if p.owner}
    assert owned == {personal_page(bruno, "x"), personal_page(bruno, "mastodon")}
    assert await registry.published(AGENCY, personal_page(amina, "mastodon")) is None
    assert await registry.published(AGENCY, personal_page(bruno, "x")) is not None


async def test_another_agencys_node_cannot_move_or_remove_an_advocates_pages(registry: Registry) -> None:
    amina = new_advocate_id()
    await registry.deliver(AGENCY, amina, "connected", connected(amina, "x"))
    other = next(p.agency for p in page_records(registry.db).values() if p.agency != AGENCY and not p.owner)
    await registry.deliver(other, amina, "app_password", connected(amina, "bluesky", agency=other))
    gone = AdvocateDisconnected(
        post_id="", agency=other, occurred_at="2026-12-05T11:00:00Z", advocate=amina, network="x"
    )
    await registry.deliver(other, amina, "disconnected", gone)

    owned = {(p.page, p.agency) for p in page_records(registry.db).values() if p.owner}
    assert owned == {(personal_page(amina, "x"), AGENCY)}
    assert await registry.published(AGENCY, personal_page(amina, "x")) is not None
