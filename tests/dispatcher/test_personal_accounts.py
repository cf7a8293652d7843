"""Advocates' personal accounts (#16 items 2, 3, 5) as real processes: NATS, the sandbox, the
federation and the dispatcher. The tests play the hub and the nodes on the bus: they seal
credentials with the key the dispatcher published, and publish what the hub's OAuth callback and a
node's app-password form publish. Expected outcomes are the policy written in the brief:

- a connected account on each of X, LinkedIn, Mastodon and Bluesky becomes a page of the registry
  and receives a delivery exactly once, even when the dispatcher is killed during the call;
- `app_password` is taken for Bluesky only; a value sealed for one advocate never opens as another's;
- an expired X token is refreshed by asking the hub, then published; a refused refresh puts that
  advocate's account alone in `needs_reauth` (the others and the agency's pages go on);
- a disconnected account is removed, and a share to it is not sent.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import msgspec
import nats
import nats.errors
import pytest

from shared import bus
from shared.advocacy.accounts import (
    REFRESH_SUBJECT,
    SEALING_BUCKET,
    SEALING_KEY,
    RefreshAnswer,
    RefreshRequest,
    advocacy_subject,
    credentials_purpose,
    new_advocate_id,
    personal_page,
)
from shared.schemas import PAGES_BUCKET, AdvocateConnected, AdvocateDisconnected, Message, page_key
from shared.sealing import Sealer
from tests.dispatcher.conftest import FleetFactory
from tests.dispatcher.fleet import DeliveryFleet, Page, make_pages
from tests.dispatcher.inbox_kit import generate
from tests.harness import eventually

AGENCY = "agence-000"
NETWORKS = ("x", "linkedin", "mastodon", "bluesky")


def _run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def _sealer(fleet: DeliveryFleet) -> Sealer:
    nc = await nats.connect(fleet.nats_url)
    try:
        kv = await nc.jetstream().key_value(SEALING_BUCKET)
        return Sealer((await kv.get(SEALING_KEY)).value.decode())
    finally:
        await nc.close()


def sealer(fleet: DeliveryFleet) -> Sealer:
    return eventually(lambda: _try_sealer(fleet), timeout=30)


def _try_sealer(fleet: DeliveryFleet) -> Sealer | None:
    try:
        return _run(_sealer(fleet))
    except Exception:
        return None


def publish(fleet: DeliveryFleet, subject: str, message: Message, msg_id: str) -> None:
    async def send() -> None:
        nc = await nats.connect(fleet.nats_url)
        try:
            await bus.publish(nc.jetstream(), subject, message, msg_id)
        finally:
            await nc.close()

    _run(send())


def fields_for(network: str, handle: str, token: str | None = None) -> dict[str, str]:
    """What the hub (OAuth) or a node (app password) seals: the sandbox's credentials of `handle`."""
    if network == "bluesky":
        return {"identifier": handle, "password": f"sbx-bluesky-{handle}"}
    return {"token": token or f"sbx-{network}-{handle}"}


def connect(
    fleet: DeliveryFleet,
    advocate: str,
    network: str,
    handle: str,
    *,
    sealed: str | None = None,
    token: str | None = None,
    event: str | None = None,
    expires_at: str | None = None,
) -> None:
    """Publish what the hub's callback (`connected`) or the node (`app_password`, Bluesky) publishes."""
    event = event or ("app_password" if network == "bluesky" else "connected")
    value = json.dumps(fields_for(network, handle, token))
    message = AdvocateConnected(
        post_id="",
        agency=AGENCY,
        occurred_at="2026-12-05T10:00:00Z",
        advocate=advocate,
        network=network,
        account_id=handle,
        handle=handle,
        instance=fleet.sandbox_url if network == "mastodon" else None,
        sealed_credentials=sealed
        or sealer(fleet).seal(value, purpose=credentials_purpose(advocate, network)),
        expires_at=expires_at,
    )
    subject = advocacy_subject(AGENCY, advocate, event)
    publish(fleet, subject, message, f"{subject}.{network}.{handle}.{token}")


def registered(fleet: DeliveryFleet, advocate: str, network: str) -> dict[str, Any] | None:
    async def read() -> dict[str, Any] | None:
        nc = await nats.connect(fleet.nats_url)
        try:
            kv = await nc.jetstream().key_value(PAGES_BUCKET)
            entry = await kv.get(page_key(AGENCY, personal_page(advocate, network)))
            return dict(json.loads(entry.value)) if entry.value else None
        except Exception:
            return None
        finally:
            await nc.close()

    return _run(read())


def statuses(fleet: DeliveryFleet) -> list[tuple[str, str, str]]:
    """Every `AdvocateAccountStatus` on the bus: (advocate, network, status)."""

    async def read() -> list[tuple[str, str, str]]:
        nc = await nats.connect(fleet.nats_url)
        found = []
        try:
            sub = await nc.jetstream().subscribe("advocacy.*.*.status", ordered_consumer=True)
            while True:
                try:
                    msg = await sub.next_msg(timeout=1)
                except nats.errors.TimeoutError:
                    break
                body = json.loads(msg.data)
                found.append((body["advocate"], body["network"], body["status"]))
        finally:
            await nc.close()
        return found

    return _run(read())


def personal(advocate: str, network: str, handle: str) -> Page:
    return Page(AGENCY, network, personal_page(advocate, network), handle)


def texts(pages: list[Page], post: str) -> dict[str, list[str]]:
    return {p.page: [f"{post} : le forum de l'emploi de Lyon, partagé par {p.handle}"] for p in pages}


def stored_refs(fleet: DeliveryFleet) -> set[str]:
    with sqlite3.connect(f"file:{fleet.data_dir / 'dispatcher.db'}?mode=ro", uri=True, timeout=10) as db:
        return {row[0] for row in db.execute("select ref from advocate_credentials")}


class RefreshResponder:
    """The hub's side of `advocacy_refresh`, tiny: answers each advocate's request with new
    credentials sealed for the dispatcher (`fresh`), or refuses."""

    def __init__(self, fleet: DeliveryFleet, fresh: dict[str, str], delay: float = 0.0) -> None:
        self._fleet = fleet
        self._delay = delay  # the hub's call to the network's token endpoint
        self._fresh = fresh  # advocate -> the new token (absent: refused)
        self.asked: list[tuple[str, str]] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(
            target=self._loop.run_until_complete, args=(self._serve(),), daemon=True
        )

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        seal = (await _sealer(self._fleet)).seal
        nc = await nats.connect(self._fleet.nats_url)

        async def answer(msg: Any) -> None:
            request = msgspec.json.decode(msg.data, type=RefreshRequest)
            self.asked.append((request.advocate, request.network))
            await asyncio.sleep(self._delay)
            token = self._fresh.get(request.advocate)
            if token is None:
                reply = RefreshAnswer(error="invalid_grant")
            else:
                value = json.dumps({"token": token})
                purpose = credentials_purpose(request.advocate, request.network)
                reply = RefreshAnswer(sealed_credentials=seal(value, purpose=purpose))
            await msg.respond(msgspec.json.encode(reply))

        await nc.subscribe(REFRESH_SUBJECT, cb=answer)
        await nc.flush()
        self._ready.set()
        await self._stop.wait()
        await nc.close()

    def __enter__(self) -> RefreshResponder:
        self._thread.start()
        assert self._ready.wait(30)
        return self

    def __exit__(self, *_: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture
def advocates() -> Iterator[list[str]]:
    yield [new_advocate_id() for _ in range(4)]


def test_each_networks_personal_account_gets_its_share_once_through_a_kill(
    fleet_factory: FleetFactory, advocates: list[str]
) -> None:
    alice, bruno, chloe, _ = advocates
    fleet = fleet_factory(make_pages(1, ("x",)))
    handles = {network: f"alice_{network}" for network in NETWORKS}
    for network in NETWORKS:
        connect(fleet, alice, network, handles[network])
    # A node may publish `app_password`, for Bluesky only: an X token planted that way is refused.
    connect(fleet, bruno, "x", "bruno_x", event="app_password")
    # Alice's sealed X token replayed as Chloe's does not open (its purpose names Alice).
    alices = sealer(fleet).seal(
        json.dumps({"token": "sbx-x-alice_x"}), purpose=credentials_purpose(alice, "x")
    )
    connect(fleet, chloe, "x", "alice_x", sealed=alices)

    for network in NETWORKS:
        page = eventually(lambda n=network: registered(fleet, alice, n), timeout=30)
        assert page["owner"] == alice and page["agency"] == AGENCY
        assert page["credentials_ref"] == f"advocate:{alice}:{network}"
    assert registered(fleet, alice, "linkedin")["handle"] == "urn:li:person:alice_linkedin"
    found = eventually(lambda: (s := statuses(fleet)) and len(s) >= 5 and s, timeout=30)
    assert sorted((a, n, s) for a, n, s in found if a == alice) == sorted(
        (alice, network, "connected") for network in NETWORKS
    )
    assert (chloe, "x", "needs_reauth") in found
    assert not any(a == bruno for a, _, _ in found)  # refused before anything was opened
    assert stored_refs(fleet) == {f"advocate:{alice}:{network}" for network in NETWORKS}
    assert registered(fleet, bruno, "x") is None

    pages = [personal(alice, network, handles[network]) for network in NETWORKS]
    for page in pages:
        fleet.arm(page.network, page.handle, "slow", seconds=1.5)
    fleet.approve("share-1", AGENCY, pages, texts(pages, "Partage"))
    eventually(lambda: sum(r["status"] == "publishing" for r in fleet.deliveries().values()) == len(pages))
    fleet.kill("dispatcher")  # SIGKILL, mid-call: the sandbox still creates the posts
    fleet.start("dispatcher")
    rows = fleet.wait_settled(len(pages))

    assert {r["status"] for r in rows.values()} == {"published"}, rows
    received = Counter((p["network"], p["account"]) for p in fleet.received())
    assert received == Counter(
        {
            ("x", "alice_x"): 1,
            ("linkedin", "alice_linkedin"): 1,
            ("mastodon", "alice_mastodon"): 1,
            ("bluesky", "alice_bluesky"): 1,
        }
    )
    assert "sbx-x-alice_x" not in fleet.logs()

    # Alice disconnects X: her page leaves the registry and a later share to it is not sent.
    subject = advocacy_subject(AGENCY, alice, "disconnected")
    gone = AdvocateDisconnected(
        post_id="", agency=AGENCY, occurred_at="2026-12-05T11:00:00Z", advocate=alice, network="x"
    )
    publish(fleet, subject, gone, f"{subject}.x")
    eventually(
        lambda: registered(fleet, alice, "x") is None and f"advocate:{alice}:x" not in stored_refs(fleet)
    )
    fleet.approve("share-2", AGENCY, pages[:1], texts(pages[:1], "Après"))
    row = fleet.wait_settled(len(pages) + 1)[f"share-2.x.{pages[0].page}"]
    assert row["status"] == "failed" and "not connected" in row["error"]
    assert len(fleet.received()) == len(pages)
    assert "bus.handler_failed" not in fleet.logs()  # every event taken or refused, none in a loop


def test_an_expired_x_token_is_refreshed_and_a_refused_refresh_stops_that_advocate_alone(
    fleet_factory: FleetFactory, advocates: list[str]
) -> None:
    alice, bruno, chloe, dave = advocates
    [agency_page] = make_pages(1, ("x",))
    fleet = fleet_factory([agency_page])
    connect(fleet, alice, "x", "alice_x", token="sbx-expired-alice")  # expired: the hub refreshes it
    connect(fleet, bruno, "x", "bruno_x", token="sbx-expired-bruno")  # expired: the hub refuses
    connect(fleet, chloe, "x", "chloe_x")
    # Dave's token says it expired: refreshed before the call (the hub refuses: his token still works).
    connect(fleet, dave, "x", "dave_x", expires_at="2026-01-01T00:00:00Z")
    for advocate in (alice, bruno, chloe, dave):
        eventually(lambda a=advocate: registered(fleet, a, "x"), timeout=30)
    eventually(lambda: len(statuses(fleet)) >= 4, timeout=30)

    names = ((alice, "alice"), (bruno, "bruno"), (chloe, "chloe"), (dave, "dave"))
    pages = [personal(a, "x", f"{name}_x") for a, name in names]
    with RefreshResponder(fleet, {alice: "sbx-x-alice_x"}, delay=0.5) as hub:
        fleet.approve("share-r", AGENCY, [*pages, agency_page], texts([*pages, agency_page], "Partage"))
        fleet.approve("share-r2", AGENCY, pages[:1], texts(pages[:1], "Autre partage"))
        rows = fleet.wait_settled(6)
    # Alice's two deliveries, refused together, ask once: X rotates the refresh token at each use.
    assert sorted(hub.asked) == sorted([(alice, "x"), (bruno, "x"), (dave, "x")])
    assert rows[f"share-r2.x.{pages[0].page}"]["status"] == "published"

    status = {page: rows[f"share-r.x.{page}"]["status"] for page in (p.page for p in [*pages, agency_page])}
    assert status == {
        pages[0].page: "published",
        pages[1].page: "failed",
        pages[2].page: "published",
        pages[3].page: "published",
        agency_page.page: "published",
    }
    assert fleet.page_states() == {pages[1].page: "needs_reauth"}
    assert Counter(p["account"] for p in fleet.received()) == Counter(
        ["alice_x", "alice_x", "chloe_x", "dave_x", agency_page.handle]
    )
    eventually(lambda: (bruno, "x", "needs_reauth") in statuses(fleet), timeout=30)
    assert (alice, "x", "needs_reauth") not in statuses(fleet)
    assert (dave, "x", "needs_reauth") not in statuses(fleet)
    assert "bus.handler_failed" not in fleet.logs()


def test_an_advocates_own_account_is_never_read_for_the_inbox(
    fleet_factory: FleetFactory, advocates: list[str]
) -> None:
    """The service sees her shares' figures, not her other activity (#16 item 5): people writing to
    her account are not read, while the agency's page beside it is."""
    alice = advocates[0]
    [agency_page] = make_pages(1, ("mastodon",))
    fleet = fleet_factory([agency_page], RELAIS_INBOX_POLL_SECONDS="0.3")
    connect(fleet, alice, "mastodon", "alice_mastodon")
    eventually(lambda: registered(fleet, alice, "mastodon") and statuses(fleet), timeout=30)
    generate(fleet, "alice_mastodon", texts=["@alice_mastodon on se voit samedi ?"])
    generate(fleet, agency_page.handle, texts=["Bonjour, le forum est-il ouvert ?"])

    def received_on() -> set[str]:
        lines = [json.loads(line) for line in fleet.logs().splitlines() if line.startswith("{")]
        return {line["page"] for line in lines if line.get("event") == "inbox.item_received"}

    eventually(lambda: agency_page.page in received_on(), timeout=30)
    time.sleep(1.5)  # several polls more: time for a read of hers to show, were there one
    assert received_on() == {agency_page.page}


def test_shards_share_one_sealing_key_and_each_keeps_every_advocates_account(
    fleet_factory: FleetFactory,
) -> None:
    fleet = fleet_factory(make_pages(1, ("x",)), shards=2)
    names = [f"adv{number}" for number in range(6)]
    advocates = {name: new_advocate_id() for name in names}
    for name, advocate in advocates.items():
        connect(fleet, advocate, "x", f"{name}_x")
    for advocate in advocates.values():
        eventually(lambda a=advocate: registered(fleet, a, "x"), timeout=30)
    eventually(lambda: len(statuses(fleet)) >= len(names), timeout=30)
    assert {status for _, _, status in statuses(fleet)} == {"connected"}  # whichever shard opened it

    def refs(ledger: str) -> set[str]:
        with sqlite3.connect(f"file:{fleet.data_dir / ledger}?mode=ro", uri=True, timeout=10) as db:
            return {row[0] for row in db.execute("select ref from advocate_credentials")}

    every = {f"advocate:{advocate}:x" for advocate in advocates.values()}
    eventually(lambda: refs("dispatcher.db") == refs("dispatcher-shard-2.db") == every, timeout=30)

    pages = [personal(advocate, "x", f"{name}_x") for name, advocate in advocates.items()]
    fleet.approve("share-s", AGENCY, pages, texts(pages, "Partage"))
    rows = fleet.wait_settled(len(pages))
    assert {r["status"] for r in rows.values()} == {"published"}
    assert Counter(p["account"] for p in fleet.received()) == Counter(f"{name}_x" for name in names)

    # Back to one dispatcher: the second shard's accounts are the first's now, credentials included.
    fleet.start(*fleet.reshard(1))
    fleet.approve("share-t", AGENCY, pages, texts(pages, "Encore"))
    rows = fleet.wait_settled(2 * len(pages))
    assert {r["status"] for r in rows.values()} == {"published"}, rows
    assert Counter(p["account"] for p in fleet.received()) == Counter(2 * [f"{name}_x" for name in names])
