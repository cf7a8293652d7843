"""An attacker guessing a moderator's password from many addresses cannot lock her out: the real
user still signs in from an address that has not failed, while each guessing address is refused
past its own limit (issue 10, finding 9). Real HTTP on loopback, each client from its own 127.0.0.x
address, against the hub's app."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import sqlite_utils
from aiohttp.test_utils import TestServer

from services.hub.app import create_app
from services.hub.keys import LOGIN_THROTTLE
from services.hub.settings import Settings
from services.hub.store import latest_events, open_store
from shared import bus
from shared.accounts import create_user
from tests.hub.dashboard_client import PASSWORD

GUESSING_ADDRESSES = [f"127.0.0.{n}" for n in range(10, 22)]  # 12 addresses × 5 guesses = 60
NEW_ADDRESS = "127.0.0.200"


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[tuple[TestServer, sqlite_utils.Database]]:
    settings = Settings(
        nats_url="nats://127.0.0.1:9",  # never dialled: create_app does not connect
        data_dir=tmp_path,
        token_key_file=tmp_path / "keys" / "hub.pem",
        host="127.0.0.1",
        port=0,
        log_format="console",
    )
    db = open_store(settings.database)
    app = create_app(settings, db, bus.BusLink())
    create_user(db, "nadia", "moderator", None, PASSWORD)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server, db
    finally:
        await server.close()
        db.close()


async def sign_in(server: TestServer, address: str, password: str) -> aiohttp.ClientResponse:
    """A browser at `address`: fetch the form, then post it."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    # unsafe: keep cookies from an IP address (the form's double-submit cookie)
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.CookieJar(unsafe=True)
    ) as browser:
        page = await (await browser.get(server.make_url("/login"))).text()
        token = re.search(r'name="login_token" value="([^"]+)"', page)
        assert token, page
        form = {"login_token": token.group(1), "username": "nadia", "password": password}
        response = await browser.post(server.make_url("/login"), data=form, allow_redirects=False)
        await response.read()
        return response


async def test_guesses_from_many_addresses_do_not_lock_the_real_user_out(
    hub: tuple[TestServer, sqlite_utils.Database],
) -> None:
    server, db = hub

    async def guess_from(address: str) -> list[int]:
        return [(await sign_in(server, address, f"guess {n}")).status for n in range(5)]

    guesses = await asyncio.gather(*(guess_from(address) for address in GUESSING_ADDRESSES))
    assert guesses == [[401] * 5] * len(GUESSING_ADDRESSES)

    # One guessing address is refused, even with the right password, and told when to come back.
    refused = await sign_in(server, GUESSING_ADDRESSES[0], PASSWORD)
    assert refused.status == 429 and 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    # The real user, from an address that has not failed, signs in (slowed down, never refused).
    signed_in = await sign_in(server, NEW_ADDRESS, PASSWORD)
    assert signed_in.status == 303 and signed_in.headers["Location"] == "/dashboard"

    events = [e for e in reversed(latest_events(db, limit=1000)) if e["event"].startswith("login.")]
    assert [e["event"] for e in events].count("login.failed") == 60
    assert [(e["event"], e["detail"]["remote"]) for e in events[-2:]] == [
        ("login.throttled", GUESSING_ADDRESSES[0]),
        ("login.succeeded", NEW_ADDRESS),
    ]


async def test_a_slowed_sign_in_holds_up_no_other_request(
    hub: tuple[TestServer, sqlite_utils.Database],
) -> None:
    server, _ = hub
    throttle = server.app[LOGIN_THROTTLE]
    for n in range(60):
        throttle.failed("nadia", f"10.0.{n}.1")
    assert throttle.delay("nadia") > 0
    finished: list[str] = []

    async def slowed() -> None:
        await sign_in(server, NEW_ADDRESS, PASSWORD)
        finished.append("sign-in")

    async def health() -> None:
        await asyncio.sleep(0.05)  # once the sign-in is under way
        async with aiohttp.ClientSession() as client, client.get(server.make_url("/healthz")) as answer:
            assert answer.status == 200
        finished.append("health")

    await asyncio.gather(slowed(), health())
    assert finished == ["health", "sign-in"]
