"""The dispatcher's side of advocates' accounts, piece by piece, with real SQLite, a real
nats-server and the sandbox's Bluesky: the sealing key, credentials at rest, the ADVOCACY handler's
refusals (written down here by hand: what a node may and may not make the dispatcher take) and the
app-wide rate limit shared by personal accounts."""

from __future__ import annotations

import json
import stat
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import msgspec
import nats
import nats.errors
import pytest
from pytest_aiohttp import AiohttpServer

from services.dispatcher.adapters import adapter_for
from services.dispatcher.advocate_accounts import (
    AdvocateAccounts,
    AdvocateCredentials,
    advocate_of_page,
    publish_sealing_key,
    sealing_unsealer,
)
from services.dispatcher.limits import RateLimiter
from services.dispatcher.shards import Shard
from services.dispatcher.store import open_store
from services.sandbox.app import create_app
from services.sandbox.settings import Settings as SandboxSettings
from shared import bus
from shared.advocacy.accounts import (
    SEALING_BUCKET,
    SEALING_KEY,
    advocacy_subject,
    credentials_purpose,
    credentials_ref,
    new_advocate_id,
    personal_page,
)
from shared.networks.facts import RateLimits
from shared.schemas import AdvocateConnected, AdvocateOptedOut, encode
from shared.sealing import Sealer, SealError
from shared.secrets import SecretBox, load_or_create_key

AGENCY = "agence-lyon"


def test_every_shard_starting_at_once_holds_the_one_key_of_the_deployment(tmp_path: Path) -> None:
    path = tmp_path / "var" / "sealing.key"
    found: list[str] = []
    starts = [
        threading.Thread(target=lambda: found.append(sealing_unsealer(path).public_key)) for _ in range(8)
    ]
    for start in starts:
        start.start()
    for start in starts:
        start.join()

    assert len(set(found)) == 1 and sealing_unsealer(path).public_key == found[0]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["sealing.key"]  # no partial file left
    sealed = Sealer(found[0]).seal("mot de passe", purpose="p")
    assert sealing_unsealer(path).open(sealed, purpose="p") == "mot de passe"


async def test_a_shard_with_a_key_of_its_own_does_not_replace_the_deployments(
    tmp_path: Path, nats_url: str
) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    deployment, stray = (
        sealing_unsealer(tmp_path / "a" / "sealing.key"),
        sealing_unsealer(tmp_path / "b" / "sealing.key"),
    )
    assert await publish_sealing_key(js, deployment, sharded=True)
    assert await publish_sealing_key(js, deployment, sharded=True)
    assert not await publish_sealing_key(js, stray, sharded=True)
    kv = await js.key_value(SEALING_BUCKET)
    assert (await kv.get(SEALING_KEY)).value == deployment.public_key.encode()
    assert await publish_sealing_key(js, stray)  # a single dispatcher's file is the truth
    assert (await kv.get(SEALING_KEY)).value == stray.public_key.encode()
    await nc.close()


def test_a_value_sealed_for_one_advocate_does_not_open_as_anothers(tmp_path: Path) -> None:
    unsealer = sealing_unsealer(tmp_path / "sealing.key")
    alice, bruno = new_advocate_id(), new_advocate_id()
    sealed = Sealer(unsealer.public_key).seal('{"token": "t"}', purpose=credentials_purpose(alice, "x"))
    for purpose in (credentials_purpose(bruno, "x"), credentials_purpose(alice, "mastodon")):
        with pytest.raises(SealError):
            unsealer.open(sealed, purpose=purpose)


def test_credentials_are_encrypted_at_rest_and_forgotten_per_account_or_all(tmp_path: Path) -> None:
    db = open_store(tmp_path / "dispatcher.db")
    store = AdvocateCredentials(db, SecretBox(load_or_create_key({"RELAIS_DATA_DIR": str(tmp_path)})))
    alice = new_advocate_id()
    store.put(AGENCY, alice, "x", {"token": "sbx-x-secret-token"}, None)
    store.put(AGENCY, alice, "bluesky", {"identifier": "a", "password": "app-pass-word"}, None)
    db.conn.commit()

    raw = (tmp_path / "dispatcher.db").read_bytes() + (tmp_path / "dispatcher.db-wal").read_bytes()
    assert b"sbx-x-secret-token" not in raw and b"app-pass-word" not in raw
    fresh = AdvocateCredentials(db, SecretBox(load_or_create_key({"RELAIS_DATA_DIR": str(tmp_path)})))
    assert fresh.get(credentials_ref(alice, "x")) == {"token": "sbx-x-secret-token"}

    assert store.delete("elsewhere", alice, "x") == []  # another agency's word deletes nothing
    assert store.delete(AGENCY, alice, "x") == [personal_page(alice, "x")]
    assert store.get(credentials_ref(alice, "x")) is None
    assert store.get(credentials_ref(alice, "bluesky")) is not None
    assert store.delete(AGENCY, alice) == [personal_page(alice, "bluesky")]
    assert store.get(credentials_ref(alice, "bluesky")) is None


def test_a_personal_page_names_its_advocate_and_an_agency_page_none() -> None:
    alice = new_advocate_id()
    assert advocate_of_page(personal_page(alice, "linkedin")) == alice
    assert advocate_of_page("lyon-part-dieu-x") is None
    assert advocate_of_page("adv-short-x") is None


def test_personal_accounts_share_the_apps_limit_and_keep_their_own() -> None:
    limiter = RateLimiter({"x": RateLimits((1, 900.0), (3, 86_400.0))}, clock=lambda: 1_000.0)
    advocates = [personal_page(new_advocate_id(), "x") for _ in range(4)]
    assert [limiter.reserve("x", page) for page in advocates[:3]] == [0.0, 0.0, 0.0]
    assert limiter.reserve("x", advocates[3]) > 0  # the app's 24 h budget is everyone's
    assert limiter.reserve("x", advocates[0]) > 0  # and each account has its own window too


# --- the ADVOCACY handler, against a real bus and the sandbox's Bluesky -----------------------------


class Handler:
    def __init__(self, accounts: AdvocateAccounts, sealer: Sealer, nc: nats.NATS) -> None:
        self.accounts, self.sealer, self.nc = accounts, sealer, nc
        self.sequence = 0

    async def deliver(
        self, event: str, message: AdvocateConnected | AdvocateOptedOut, advocate: str, agency: str = AGENCY
    ) -> None:
        self.sequence += 1
        subject = advocacy_subject(agency, advocate, event)
        await self.accounts.on_event(bus.Incoming(subject, encode(message), 1, "ADVOCACY", self.sequence))

    def connected(
        self,
        advocate: str,
        network: str,
        fields: dict[str, str],
        *,
        sealed_for: str = "",
        agency: str = AGENCY,
    ) -> AdvocateConnected:
        purpose = credentials_purpose(sealed_for or advocate, network)
        return AdvocateConnected(
            post_id="",
            agency=agency,
            occurred_at="2026-12-05T10:00:00Z",
            advocate=advocate,
            network=network,
            account_id="1",
            handle=fields.get("identifier", "someone"),
            sealed_credentials=self.sealer.seal(json.dumps(fields), purpose=purpose),
        )

    async def statuses(self) -> list[tuple[str, str, str, str]]:
        sub = await self.nc.jetstream().subscribe("advocacy.*.*.status", ordered_consumer=True)
        found = []
        while True:
            try:
                msg = await sub.next_msg(timeout=1)
            except nats.errors.TimeoutError:
                break
            body = json.loads(msg.data)
            found.append(
                (body["advocate"], body["network"], body["status"], (body["error"] or {}).get("message", ""))
            )
        await sub.unsubscribe()
        return found


@pytest.fixture
async def handler(tmp_path: Path, nats_url: str, aiohttp_server: AiohttpServer) -> AsyncIterator[Handler]:
    sandbox = await aiohttp_server(create_app(SandboxSettings(data_dir=tmp_path / "sandbox")))
    db = open_store(tmp_path / "dispatcher.db")
    unsealer = sealing_unsealer(tmp_path / "sealing.key")
    box = SecretBox(load_or_create_key({"RELAIS_DATA_DIR": str(tmp_path)}))
    accounts = AdvocateAccounts(
        AdvocateCredentials(db, box),
        unsealer,
        Shard(),
        api_urls={"bluesky": str(sandbox.make_url("")).rstrip("/")},
        reconnected=lambda page: None,
    )
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await bus.ensure_streams(js)
    async with aiohttp.ClientSession() as session:
        adapters = {"bluesky": adapter_for("bluesky", session)}
        accounts.wire(adapters.__getitem__, js, nc)
        yield Handler(accounts, Sealer(unsealer.public_key), nc)
    await nc.close()
    db.close()


async def test_a_node_cannot_make_the_dispatcher_take_anything_but_a_bluesky_app_password(
    handler: Handler,
) -> None:
    alice = new_advocate_id()
    for network in ("x", "mastodon", "linkedin", "facebook"):
        await handler.deliver(
            "app_password", handler.connected(alice, network, {"token": f"sbx-{network}-a"}), alice
        )
    # The subject names Alice; a body naming Bruno (or another agency) is not Alice's.
    bruno = new_advocate_id()
    await handler.deliver("connected", handler.connected(bruno, "x", {"token": "sbx-x-b"}), alice)

    for network in ("x", "mastodon", "linkedin", "facebook"):
        assert handler.accounts.credentials.get(credentials_ref(alice, network)) is None
    assert handler.accounts.credentials.get(credentials_ref(bruno, "x")) is None
    assert await handler.statuses() == []


async def test_a_bluesky_app_password_is_tried_before_it_is_taken(handler: Handler) -> None:
    alice, bruno, chloe = new_advocate_id(), new_advocate_id(), new_advocate_id()
    good = {"identifier": "alice", "password": "sbx-bluesky-alice"}
    await handler.deliver("app_password", handler.connected(alice, "bluesky", good), alice)
    wrong = {"identifier": "bruno", "password": "not-his-password"}
    await handler.deliver("app_password", handler.connected(bruno, "bluesky", wrong), bruno)
    await handler.deliver("app_password", handler.connected(chloe, "bluesky", good, sealed_for=alice), chloe)

    assert handler.accounts.credentials.get(credentials_ref(alice, "bluesky")) == good
    assert handler.accounts.credentials.get(credentials_ref(bruno, "bluesky")) is None
    assert handler.accounts.credentials.get(credentials_ref(chloe, "bluesky")) is None
    found = {(a, s): words for a, _, s, words in await handler.statuses()}
    assert set(found) == {(alice, "connected"), (bruno, "needs_reauth"), (chloe, "needs_reauth")}
    assert "Bluesky refused" in found[(bruno, "needs_reauth")]
    assert "not-his-password" not in found[(bruno, "needs_reauth")]
    assert "did not open" in found[(chloe, "needs_reauth")]

    gone = AdvocateOptedOut(post_id="", agency=AGENCY, occurred_at="2026-12-05T11:00:00Z", advocate=alice)
    await handler.deliver("opted_out", gone, alice)
    assert handler.accounts.credentials.get(credentials_ref(alice, "bluesky")) is None


async def test_another_agencys_node_cannot_replace_or_remove_an_advocates_account(handler: Handler) -> None:
    """Anyone may seal with the public key: a node of another agency that learnt Alice's pseudonym
    seals its own Bluesky account for her, then says she opted out, under its own agency's subjects."""
    alice = new_advocate_id()
    hers = {"identifier": "alice", "password": "sbx-bluesky-alice"}
    await handler.deliver("app_password", handler.connected(alice, "bluesky", hers), alice)
    theirs = {"identifier": "mallory", "password": "sbx-bluesky-mallory"}
    forged = handler.connected(alice, "bluesky", theirs, agency="villeurbanne")
    await handler.deliver("app_password", forged, alice, agency="villeurbanne")
    out = AdvocateOptedOut(
        post_id="", agency="villeurbanne", occurred_at="2026-12-05T11:00:00Z", advocate=alice
    )
    await handler.deliver("opted_out", out, alice, agency="villeurbanne")

    assert handler.accounts.credentials.get(credentials_ref(alice, "bluesky")) == hers
    assert [status for _, _, status, _ in await handler.statuses()] == ["connected"]


async def test_a_bluesky_account_is_reached_on_the_configured_pds_whatever_the_node_says(
    handler: Handler,
) -> None:
    """A node chooses what it seals: an address in it must not make the dispatcher call there (the
    app password would go to that server, and the dispatcher would call inside the hub's network)."""
    alice = new_advocate_id()
    fields = {"identifier": "alice", "password": "sbx-bluesky-alice", "instance": "http://169.254.169.254"}
    message = handler.connected(alice, "bluesky", fields)
    await handler.deliver("app_password", msgspec.structs.replace(message, instance="http://10.0.0.1"), alice)

    stored = handler.accounts.credentials.get(credentials_ref(alice, "bluesky"))
    assert stored is not None
    assert handler.accounts.base_url("bluesky", stored) == handler.accounts.base_url("bluesky", {})
    assert "169.254" not in handler.accounts.base_url("bluesky", stored)
    # Mastodon's instance is the hub's word (its OAuth callback), the advocate's own server.
    assert handler.accounts.base_url("mastodon", {"instance": "https://mastodon.example"}) == (
        "https://mastodon.example"
    )
