"""The dashboard's watch sections against the real hub app, a real nats-server and real SQLite: dead
letters with a retry that becomes a command on the bus, pages to reconnect, the week's plan and the
chart of deliveries per hour."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import nats
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from services.hub import dead_letters
from services.hub.app import create_app
from services.hub.events import Broadcaster, PostChanges
from services.hub.keys import DATABASE
from services.hub.settings import Settings
from services.hub.store import append_event, hold, open_store
from shared import bus
from shared.accounts import create_user
from shared.ids import utc_now
from shared.schemas import (
    DeliveryActionRequested,
    DeliveryDeadLettered,
    ErrorReport,
    PageNeedsReauth,
    PostApproved,
    Variant,
    alerts_subject,
    decode,
    encode,
)
from tests.hub.dashboard_client import PASSWORD

Client = TestClient[web.Request, web.Application]
# The week's days as a French reader writes them short (« sam. 5 déc. »), written down by hand.
FRENCH_DAYS = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")
FRENCH_MONTHS = (
    "janv.",
    "févr.",
    "mars",
    "avr.",
    "mai",
    "juin",
    "juil.",
    "août",
    "sept.",
    "oct.",
    "nov.",
    "déc.",
)
LYON = "lyon-part-dieu"


@pytest.fixture
async def hub(aiohttp_client: AiohttpClient, tmp_path: Path, nats_url: str) -> AsyncIterator[Client]:
    settings = Settings.from_env({"RELAIS_DATA_DIR": str(tmp_path / "hub"), "RELAIS_NATS_URL": nats_url})
    db = open_store(settings.database)
    link = bus.BusLink()
    link.nc = await nats.connect(nats_url)
    await bus.ensure_streams(link.nc.jetstream())
    try:
        yield await aiohttp_client(create_app(settings, db, link))
    finally:
        await link.nc.close()
        db.close()


async def sign_in(client: Client, username: str) -> str:
    """Sign in; return the session's CSRF token."""
    page = await (await client.get("/login")).text()
    token = re.search(r'name="login_token" value="([^"]+)"', page)
    assert token
    await client.post(
        "/login", data={"login_token": token.group(1), "username": username, "password": PASSWORD}
    )
    found = re.search(
        r'<meta name="csrf-token" content="([^"]+)">', await (await client.get("/dashboard")).text()
    )
    assert found
    return found.group(1)


async def test_an_admin_sees_what_failed_and_retries_a_dead_letter_from_the_dashboard(
    hub: Client, nats_url: str
) -> None:
    db = hub.app[DATABASE]
    create_user(db, "alain", "admin", None, PASSWORD)
    create_user(db, "nadia", "moderator", None, PASSWORD)
    error = ErrorReport(
        message="X refused the page's token <expired>: reconnect the page", network_code="401"
    )
    common = {
        "post_id": f"{LYON}-1",
        "agency": LYON,
        "occurred_at": utc_now(),
        "network": "x",
        "page": f"{LYON}-x",
    }
    dead_letters.record(
        db, alerts_subject(LYON, f"{LYON}-1", "needs_reauth"), encode(PageNeedsReauth(**common, error=error))
    )
    letter = DeliveryDeadLettered(**common, status="failed", attempts=5, error=error)
    dead_letters.record(db, alerts_subject(LYON, f"{LYON}-1", "dead_letter"), encode(letter))

    await sign_in(hub, "nadia")
    failures = await (await hub.get("/dashboard/sections/failures")).text()
    assert f"{LYON}-1" in failures and ">Réessayer<" not in failures  # retrying is the hub team's call
    hub.session.cookie_jar.clear()

    csrf = await sign_in(hub, "alain")
    failures = await (await hub.get("/dashboard/sections/failures")).text()
    assert "X refused the page&#39;s token &lt;expired&gt;: reconnect the page (401)" in failures
    assert (
        f'action="/dashboard/dead-letters/{LYON}-1/{LYON}-x/retry"' in failures and ">Réessayer<" in failures
    )
    reauth = await (await hub.get("/dashboard/sections/reauth")).text()
    assert f"{LYON}-x" in reauth

    nc = await nats.connect(nats_url)
    try:
        commands = await nc.jetstream().subscribe("commands.>", ordered_consumer=True)
        response = await hub.post(
            f"/dashboard/dead-letters/{LYON}-1/{LYON}-x/retry",
            data={"csrf": csrf},
            headers={"Accept": "application/json"},
        )
        assert response.status == 200 and (await response.json())["done"] == "retry"
        message = await commands.next_msg(timeout=10)
    finally:
        await nc.close()
    command = decode(message.data, DeliveryActionRequested)
    assert message.subject == f"commands.{LYON}.{LYON}-1.retry"
    assert (command.action, command.requested_by, command.page) == ("retry", "alain", f"{LYON}-x")
    plain = await hub.post(f"/dashboard/dead-letters/{LYON}-1/nowhere/retry", data={"csrf": csrf})
    assert plain.status == 404


async def test_the_week_and_the_hourly_chart_show_what_the_hub_recorded(hub: Client) -> None:
    db = hub.app[DATABASE]
    create_user(db, "olga", "ops", None, PASSWORD)
    due = (datetime.now(UTC) + timedelta(days=2)).replace(hour=7, minute=30, second=0, microsecond=0)
    approval = PostApproved(
        post_id=f"{LYON}-2",
        agency=LYON,
        occurred_at=utc_now(),
        approved_by="nadia",
        variants=[Variant("mastodon", f"{LYON}-mastodon", ["Forum emploi"], LYON, "Europe/Paris")],
    )
    hold(db, f"{LYON}-2", LYON, due.isoformat(), encode(approval))
    for n, network in enumerate(("mastodon", "mastodon", "bluesky")):
        append_event(
            db,
            source=f"test:{n}",
            occurred_at=utc_now(),
            post_id=f"{LYON}-3",
            agency=LYON,
            event="delivery.published",
            actor="dispatcher",
            network=network,
            page=f"{LYON}-{network}",
        )
    await sign_in(hub, "olga")
    week = await (await hub.get("/dashboard/sections/calendar")).text()
    local = due.astimezone(ZoneInfo("Europe/Paris"))
    heading = f"{FRENCH_DAYS[local.weekday()]} {local.day} {FRENCH_MONTHS[local.month - 1]}"
    day = week.split(f"<h3>{heading}</h3>")[1].split('class="day"')[0]
    assert f">{local:%H:%M}</time> <code>{LYON}-2</code>" in day
    assert f"{local:%H:%M} heure locale (Europe/Paris) : <small>mastodon:{LYON}-mastodon</small>" in day
    chart = await (await hub.get("/dashboard/sections/chart")).text()
    assert "<svg" in chart and "mastodon (2)" in chart and "bluesky (1)" in chart
    assert chart.count("<rect") == 2 + 2  # a bar per network this hour, and a legend swatch each


def test_a_restarted_hub_folds_what_was_recorded_but_not_yet_folded(tmp_path: Path) -> None:
    db = open_store(tmp_path / "hub.db")
    try:
        changes = PostChanges(db, Broadcaster())
        for n, event in enumerate(("received", "rejected")):
            append_event(
                db,
                source=f"test:{n}",
                occurred_at=utc_now(),
                post_id=f"{LYON}-4",
                agency=LYON,
                event=event,
                actor="nadia",
                detail={"reason": "Précisez le contrat"} if event == "rejected" else {},
            )
            if n == 0:
                changes(f"{LYON}-4", event)
                changes.flush()  # folded before the "stop"; the rejection was recorded after it
        assert [(r["status"], r["reason"]) for r in db["post_states"].rows] == [("received", None)]
        PostChanges(db, Broadcaster()).catch_up()  # what create_app does when the hub starts
        assert [(r["status"], r["reason"]) for r in db["post_states"].rows] == [
            ("rejected", "Précisez le contrat")
        ]
    finally:
        db.close()
