"""The hub's advocates side, for tests: the real hub app on a real port, the real sandbox (its
authorisation servers and APIs) on another, a real nats-server, the hub's ADVOCACY readers (the link
table's consumer, the audit's reader) and its `advocacy_connect` / `advocacy_refresh` responders running,
and a dispatcher's sealing key pair whose public half is in the `sealing` bucket as the dispatcher
puts it. A node is a plain NATS client that publishes enrolments and asks for connections."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
import nats
import sqlite_utils
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer, unused_port
from nacl.public import PrivateKey
from nats.aio.client import Client as NATS

from services.hub import advocates, advocates_oauth
from services.hub.app import create_app
from services.hub.keys import LINK
from services.hub.oauth_apps import OAuthApp, OAuthApps
from services.hub.oauth_callback import CONNECTIONS
from services.hub.service import AUDITS, record
from services.hub.settings import Settings
from services.hub.store import open_store
from services.sandbox.app import create_app as create_sandbox
from services.sandbox.settings import Settings as SandboxSettings
from shared import bus
from shared.advocacy.accounts import (
    CONSENT_VERSION,
    SEALING_BUCKET,
    SEALING_KEY,
    ConnectAnswer,
    ConnectRequest,
    advocacy_subject,
    connect_subject,
)
from shared.advocacy.oauth import OAUTH_NETWORKS, AppCredentials
from shared.ids import utc_now
from shared.schemas import AdvocateEnrolled, AdvocateOptedOut
from shared.sealing import Unsealer

Client = TestClient[web.Request, web.Application]
LYON, RENNES = "lyon-part-dieu", "rennes-sud"
RETURN_TO = "https://lyon.example/advocacy"
INSTANCE = "https://mastodon.example"
CLIENT_SECRETS = tuple(f"sbx-{n}-secret" for n in OAUTH_NETWORKS)


class TokenGate:
    """The sandbox's authorisation servers as the hub reaches them: every request passed through as
    is, except that after `hold(n)` the next token requests are let through only once `n` of them
    are waiting together (proof that the hub has them in flight at once)."""

    def __init__(self, sandbox: Client) -> None:
        self._sandbox = sandbox
        self._barrier: asyncio.Barrier | None = None

    def hold(self, parties: int) -> None:
        self._barrier = asyncio.Barrier(parties)

    async def forward(self, request: web.Request) -> web.Response:
        if self._barrier is not None and request.path.endswith("/token"):
            await self._barrier.wait()
        answer = await self._sandbox.request(
            request.method, request.path_qs, data=await request.read(), headers=_forwarded(request.headers)
        )
        body = await answer.read()
        return web.Response(status=answer.status, body=body, content_type=answer.content_type)


def _forwarded(headers: Any) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")}


@dataclass
class AdvocacyHub:
    hub: Client
    sandbox: Client
    gate: TokenGate
    db: sqlite_utils.Database
    nc: NATS  # the hub's
    node: NATS  # an agency node's (no NATS permissions on this test server: see test_bus_security)
    unsealer: Unsealer
    hub_url: str
    networks_url: str  # where the hub reaches the networks' authorisation servers: the gate

    async def enrol(
        self, advocate: str, user: str = "claire", agency: str = LYON, *, body_agency: str | None = None
    ) -> None:
        enrolled = AdvocateEnrolled(
            post_id="",
            agency=body_agency or agency,
            occurred_at=utc_now(),
            advocate=advocate,
            user=user,
            consented_at=utc_now(),
            consent_version=CONSENT_VERSION,
            consent_language="ar",
            consent_text="J'accepte de partager les actualités de France Travail depuis mes comptes.",
        )
        js = self.node.jetstream()
        await bus.publish(
            js, advocacy_subject(agency, advocate, "enrolled"), enrolled, f"{advocate}.{user}.e"
        )

    async def opt_out(self, advocate: str, agency: str = LYON) -> None:
        message = AdvocateOptedOut(post_id="", agency=agency, occurred_at=utc_now(), advocate=advocate)
        await bus.publish(
            self.node.jetstream(), advocacy_subject(agency, advocate, "opted_out"), message, f"{advocate}.o"
        )

    async def ask(
        self,
        advocate: str,
        network: str,
        agency: str = LYON,
        instance: str | None = None,
        return_to: str = RETURN_TO,
    ) -> ConnectAnswer:
        asked = ConnectRequest(advocate=advocate, network=network, instance=instance, return_to=return_to)
        reply = await self.node.request(connect_subject(agency), msgspec.json.encode(asked), timeout=5)
        return msgspec.json.decode(reply.data, type=ConnectAnswer)

    async def consent(self, network: str, url: str, decision: str = "allow", account: str = "claire") -> str:
        """The advisor's browser on the network's consent page: the callback address it is sent to."""
        answer = await self.sandbox.post(
            "/_sandbox/oauth/consent",
            json={"network": network, "url": url, "account": account, "decision": decision},
        )
        assert answer.status == 200, await answer.text()
        location: str = (await answer.json())["location"]
        assert location.startswith(f"{self.hub_url}/oauth/{network}/callback?")
        return location

    async def callback(self, location: str, **headers: str) -> tuple[int, str]:
        parts = urlsplit(location)
        answer = await self.hub.get(f"{parts.path}?{parts.query}", headers=headers)
        return answer.status, await answer.text()

    async def connect(self, advocate: str, network: str) -> tuple[int, str]:
        instance = INSTANCE if network == "mastodon" else None
        answer = await self.ask(advocate, network, instance=instance)
        assert answer.error is None, answer
        assert answer.authorization_url is not None
        return await self.callback(await self.consent(network, answer.authorization_url))

    def link_row(self, advocate: str) -> dict[str, Any] | None:
        rows = self.db.execute_returning_dicts("select * from advocates where advocate = ?", [advocate])
        return rows[0] if rows else None


def state_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["state"][0]


@contextlib.asynccontextmanager
async def advocacy_hub(
    tmp_path: Path, nats_url: str, *, sealing_key: bool = True
) -> AsyncIterator[AdvocacyHub]:
    hub_port = unused_port()
    hub_url = f"http://127.0.0.1:{hub_port}"
    sandbox = TestClient(
        TestServer(create_sandbox(SandboxSettings(data_dir=tmp_path / "sandbox", webhook_url=hub_url)))
    )
    await sandbox.start_server()
    gate = TokenGate(sandbox)
    gate_app = web.Application()
    gate_app.router.add_route("*", "/{tail:.*}", gate.forward)
    gateway = TestServer(gate_app)
    await gateway.start_server()
    networks_url = str(gateway.make_url("")).rstrip("/")
    apps = OAuthApps(
        {
            network: OAuthApp(
                AppCredentials(
                    f"sbx-{network}-client", f"sbx-{network}-secret", f"{hub_url}/oauth/{network}/callback"
                ),
                networks_url,
            )
            for network in OAUTH_NETWORKS
        }
    )
    settings = dataclasses.replace(
        Settings.from_env({"RELAIS_DATA_DIR": str(tmp_path / "hub"), "RELAIS_NATS_URL": nats_url}),
        oauth_apps=apps,
    )
    db = open_store(settings.database)
    link = bus.BusLink()
    link.nc = await nats.connect(nats_url)
    js = link.nc.jetstream()
    await bus.ensure_streams(js)
    unsealer = Unsealer(PrivateKey.generate())
    if sealing_key:
        kv = await bus.ensure_key_value(js, SEALING_BUCKET)
        await kv.put(SEALING_KEY, unsealer.public_key.encode())
    app = create_app(settings, db, link)
    hub = TestClient(TestServer(app, port=hub_port))
    await hub.start_server()
    node = await nats.connect(nats_url)
    stop = asyncio.Event()
    audit = next(spec for spec in AUDITS if spec.stream == "ADVOCACY")

    async def on_events(messages: list[bus.Incoming]) -> None:
        record(db, messages)

    tasks = [
        asyncio.create_task(advocates.follow(js, db, stop)),
        asyncio.create_task(advocates_oauth.serve(link.nc, app[CONNECTIONS], stop)),
        asyncio.create_task(bus.consume_batches(js, audit, on_events, stop)),
    ]
    await asyncio.sleep(0.2)  # the responders' subscriptions reach the server
    try:
        hub_nc = app[LINK].nc or link.nc
        yield AdvocacyHub(hub, sandbox, gate, db, hub_nc, node, unsealer, hub_url, networks_url)
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await node.close()
        await hub.close()
        await gateway.close()
        await sandbox.close()
        await link.nc.close()
        db.close()
