"""Signing in to the hub's dashboard, against the real hub app (real HTTP on loopback, real SQLite):
argon2 passwords, a strict session cookie, CSRF on every form, ops read-only, the audited trail of
sign-ins and refusals, the live feed's door, and `relais users create`."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
import sqlite_utils
from aiohttp import web
from aiohttp.test_utils import TestClient

from services.hub.app import create_app
from services.hub.events import CHANGES
from services.hub.settings import Settings
from services.hub.store import append_event, enqueue, latest_events, open_store
from shared import bus
from shared.accounts import AccountError, check_password, create_user, user
from shared.ids import utc_now
from shared.login_throttle import LoginThrottle
from shared.schemas import PostRendered, Variant, encode
from tests.hub.dashboard_client import PASSWORD
from tests.hub.dashboard_client import create_user as cli_create_user

Client = TestClient[web.Request, web.Application]
LYON = "lyon-part-dieu"


@pytest.fixture
async def hub(
    tmp_path: Path, aiohttp_client: Callable[[web.Application], Awaitable[Client]]
) -> AsyncIterator[tuple[Client, sqlite_utils.Database]]:
    settings = Settings(
        nats_url="nats://127.0.0.1:9",  # never dialled: create_app does not connect
        data_dir=tmp_path,
        token_key_file=tmp_path / "keys" / "hub.pem",
        host="127.0.0.1",
        port=0,
        log_format="console",
    )
    db = open_store(settings.database)
    try:
        yield await aiohttp_client(create_app(settings, db, bus.BusLink())), db
    finally:
        db.close()


async def login(client: Client, username: str, password: str = PASSWORD) -> aiohttp.ClientResponse:
    page = await (await client.get("/login")).text()
    token = re.search(r'name="login_token" value="([^"]+)"', page)
    assert token, page
    form = {"login_token": token.group(1), "username": username, "password": password}
    return await client.post("/login", data=form, allow_redirects=False)


async def csrf_of(client: Client) -> str:
    page = await (await client.get("/dashboard")).text()
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert found, page
    return found.group(1)


def audit(db: sqlite_utils.Database, *names: str) -> list[dict[str, Any]]:
    return [e for e in reversed(latest_events(db, limit=1000)) if e["event"] in names]


def queue_a_post(db: sqlite_utils.Database, post_id: str) -> None:
    rendered = PostRendered(
        post_id=post_id,
        agency=LYON,
        occurred_at=utc_now(),
        author=f"advisor@{LYON}",
        variants=[Variant("mastodon", f"{LYON}-mastodon", ["Offre : cariste H/F <b>Lyon</b>"])],
    )
    enqueue(db, post_id, LYON, rendered.author, encode(rendered))


async def test_a_moderator_signs_in_with_a_strict_cookie_and_the_audit_never_holds_a_password(
    hub: tuple[Client, sqlite_utils.Database],
) -> None:
    client, db = hub
    create_user(db, "nadia", "moderator", None, PASSWORD)
    assert (await client.get("/dashboard", allow_redirects=False)).headers["Location"] == "/login"
    assert (await login(client, "nadia", "not the password at all")).status == 401
    assert (await login(client, "nobody", PASSWORD)).status == 401
    response = await login(client, "nadia")
    assert response.status == 303 and response.headers["Location"] == "/dashboard"
    cookie = response.cookies["relais_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    page = await client.get("/dashboard")
    assert "nadia · modération" in await page.text()  # French unless the person chooses
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]

    trail = [
        (e["event"], e["actor"], e["detail"].get("reason"))
        for e in audit(db, "login.failed", "login.succeeded")
    ]
    assert trail == [
        ("login.failed", "nadia", "wrong password"),
        ("login.failed", "nobody", "unknown user"),
        ("login.succeeded", "nadia", None),
    ]
    everything = json.dumps(latest_events(db, limit=1000)) + json.dumps(list(db["sessions"].rows))
    assert PASSWORD not in everything and "not the password" not in everything
    assert cookie.value not in everything  # sessions are stored by the cookie's hash

    status = (
        await client.post("/logout", data={"csrf": await csrf_of(client)}, allow_redirects=False)
    ).status
    assert status == 303
    client.session.cookie_jar.clear()
    replay = await client.get(
        "/dashboard", headers={"Cookie": f"relais_session={cookie.value}"}, allow_redirects=False
    )
    assert replay.status == 303 and replay.headers["Location"] == "/login"


async def test_password_guessing_is_stopped_per_name_and_audited(
    hub: tuple[Client, sqlite_utils.Database],
) -> None:
    client, db = hub
    create_user(db, "nadia", "moderator", None, PASSWORD)
    create_user(db, "karim", "moderator", None, PASSWORD)

    statuses = [(await login(client, "nadia", f"guess {n}")).status for n in range(5)]
    refused = await login(client, "nadia")  # even the right password waits now

    assert statuses == [401] * 5
    assert refused.status == 429 and 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert "Trop d’échecs de connexion ; réessayez dans" in await refused.text()
    assert (await login(client, "karim")).status == 303  # another name is not held up
    [throttled] = audit(db, "login.throttled")
    assert throttled["actor"] == "nadia"


def test_the_throttle_refuses_a_name_per_address_and_only_slows_it_everywhere() -> None:
    now = [0.0]
    throttle = LoginThrottle(per_address=2, free_per_user=3, max_delay=2.0, window=60, clock=lambda: now[0])

    throttle.failed("nadia", "10.0.0.1")
    throttle.failed("nadia", "10.0.0.1")
    assert throttle.wait("nadia", "10.0.0.1") == 60
    assert throttle.wait("karim", "10.0.0.1") == 0  # others behind the same address go on
    assert throttle.wait("nadia", "10.0.0.2") == 0
    now[0] = 10.0
    throttle.failed("nadia", "10.0.0.3")  # guesses spread over addresses add up to a delay…
    assert throttle.delay("nadia") == 0.25
    for n in range(40):
        throttle.failed("nadia", f"10.1.0.{n}")
    assert throttle.delay("nadia") == 2.0  # …that grows, up to its cap…
    assert throttle.wait("nadia", "10.0.0.4") == 0  # …and never refuses an address that has not failed
    assert throttle.delay("karim") == 0
    now[0] = 61.0
    assert throttle.wait("nadia", "10.0.0.1") == 0
    throttle.failed("nadia", "10.0.0.1")
    throttle.succeeded("nadia", "10.0.0.1")
    assert throttle.wait("nadia", "10.0.0.1") == 0
    now[0] = 200.0
    assert throttle.delay("nadia") == 0  # the window has passed


async def test_forms_without_the_sessions_csrf_token_are_refused_and_audited(
    hub: tuple[Client, sqlite_utils.Database],
) -> None:
    client, db = hub
    create_user(db, "nadia", "moderator", None, PASSWORD)
    create_user(db, "yann", "moderator", None, PASSWORD)
    queue_a_post(db, f"{LYON}-01")
    form_without_token = await client.post("/login", data={"username": "nadia", "password": PASSWORD})
    assert form_without_token.status == 403
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        page = await (await other.get(client.make_url("/login"))).text()
        token = re.search(r'name="login_token" value="([^"]+)"', page)
        assert token
        form = {"login_token": token.group(1), "username": "yann", "password": PASSWORD}
        await other.post(client.make_url("/login"), data=form)
        page = await (await other.get(client.make_url("/dashboard"))).text()
        found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
        assert found
        yanns_token = found.group(1)
    assert (await login(client, "nadia")).status == 303
    approve = f"/dashboard/queue/{LYON}-01/approve"
    json_answer = {"Accept": "application/json"}
    for form in ({}, {"csrf": "forged"}, {"csrf": yanns_token}):
        response = await client.post(approve, data=form, headers=json_answer)
        assert response.status == 403 and (await response.json())["error"]["code"] == "csrf"
    assert (await client.post("/logout", data={}, allow_redirects=False)).status == 403
    assert (await client.get("/dashboard")).status == 200  # the refused logout changed nothing
    assert f"{LYON}-01" in [r["post_id"] for r in db["queue"].rows]
    denied = audit(db, "permission.denied")
    assert [(e["actor"], e["detail"]["reason"]) for e in denied] == [
        ("anonymous", "sign-in form without its double-submit token")
    ] + [("nadia", "missing or wrong CSRF token")] * 4


async def test_ops_see_the_queue_but_cannot_decide(hub: tuple[Client, sqlite_utils.Database]) -> None:
    client, db = hub
    create_user(db, "olga", "ops", None, PASSWORD)
    queue_a_post(db, f"{LYON}-02")
    assert (await login(client, "olga")).status == 303
    page = await (await client.get("/dashboard")).text()
    assert f"{LYON}-02" in page and "lecture seule" in page
    assert ">Valider<" not in page and ">Refuser<" not in page and 'name="reason"' not in page
    assert "Offre : cariste H/F &lt;b&gt;Lyon&lt;/b&gt;" in page  # post text is escaped
    csrf = await csrf_of(client)
    for path in (f"/dashboard/queue/{LYON}-02/approve", f"/dashboard/dead-letters/{LYON}-02/p/retry"):
        response = await client.post(path, data={"csrf": csrf}, headers={"Accept": "application/json"})
        assert response.status == 403 and (await response.json())["error"]["code"] == "forbidden"
    assert f"{LYON}-02" in [r["post_id"] for r in db["queue"].rows]
    denied = audit(db, "permission.denied")
    assert [(e["actor"], e["detail"]["role"]) for e in denied] == [("olga", "ops")] * 2


async def test_the_live_feed_needs_a_session_and_tells_each_change(
    hub: tuple[Client, sqlite_utils.Database],
) -> None:
    client, db = hub
    create_user(db, "nadia", "moderator", None, PASSWORD)
    assert (await client.get("/events")).status == 401
    await login(client, "nadia")
    async with client.get("/events") as feed:
        assert feed.headers["Content-Type"] == "text/event-stream"
        assert await feed.content.readline() == b"retry: 2000\n"
        post_id = f"{LYON}-03"
        append_event(
            db,
            source="test:1",
            occurred_at=utc_now(),
            post_id=post_id,
            agency=LYON,
            event="received",
            actor=f"advisor@{LYON}",
        )
        client.app[CHANGES](post_id, "received")  # what the audit consumer does after recording
        client.app[CHANGES].flush()  # what the hub's pass does four times a second
        lines = [await feed.content.readline() for _ in range(3)]
    assert lines[1] == b"event: post\n"
    change = json.loads(lines[2].removeprefix(b"data: "))
    at, shown = change.pop("at"), change.pop("time")
    assert change == {
        "post_id": post_id,
        "agency": LYON,
        "status": "received",  # the hub has it; nothing says a moderator must decide yet
        "status_words": "Reçue par le hub",
        "events": ["received"],
        "reason": None,
        "deliveries": [],
    }
    # The time the feed shows is the hub's, in Paris time (not the browser's clock).
    folded = datetime.fromisoformat(at)
    assert abs((datetime.now(UTC) - folded).total_seconds()) < 60
    assert shown == folded.astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M:%S")


def test_accounts_are_checked_before_they_are_created(tmp_path: Path) -> None:
    db = open_store(tmp_path / "hub.db")
    try:
        for username, role, region, password, message in [
            ("Nadia!", "moderator", None, PASSWORD, "a username is"),
            ("nadia", "editor", None, PASSWORD, "role must be one of"),
            ("nadia", "advisor", None, PASSWORD, "an advisor has an agency"),
            ("nadia", "admin", "bretagne", PASSWORD, "only a moderator has a region"),
            ("nadia", "moderator", None, "short", "at least 12 characters"),
        ]:
            with pytest.raises(AccountError, match=message):
                create_user(db, username, role, region, password)
        assert user(db, "nadia") is None
    finally:
        db.close()


def test_relais_users_create_stores_only_an_argon2_hash(tmp_path: Path) -> None:
    created = cli_create_user(tmp_path, "breizh", "moderator", "bretagne")
    assert created.returncode == 0, created.stderr
    assert PASSWORD not in created.stdout + created.stderr
    again = cli_create_user(tmp_path, "breizh", "moderator", "bretagne")
    assert again.returncode == 2 and "already exists" in again.stderr
    db = open_store(tmp_path / "hub.db")
    try:
        row = user(db, "breizh")
        assert row is not None and (row["role"], row["region"]) == ("moderator", "bretagne")
        assert row["password_hash"].startswith("$argon2id$") and check_password(
            row["password_hash"], PASSWORD
        )
    finally:
        db.close()


async def test_the_plain_page_of_latest_events_needs_a_sign_in(
    hub: tuple[Client, sqlite_utils.Database],
) -> None:
    client, db = hub
    append_event(
        db,
        source="POSTS:1",
        occurred_at=utc_now(),
        post_id=f"{LYON}-1",
        agency=LYON,
        event="received",
        actor="advisor@<lyon>",
    )
    refused = await client.get("/audit", allow_redirects=False)
    assert refused.status == 303 and refused.headers["Location"] == "/login"
    create_user(db, "ops1", "ops", None, PASSWORD)
    assert (await login(client, "ops1")).status == 303
    page = await (await client.get("/audit")).text()
    assert f"{LYON}-1" in page and "advisor@&lt;lyon&gt;" in page  # listed, and escaped
