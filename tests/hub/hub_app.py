"""The real hub app for tests of its rules: real HTTP on loopback, a real nats-server, a real
SQLite file; the hub's bus loops are driven by the test (`Approver.decide` is what the hub does with
each rendered post, `release_due` is its scheduler), so each race is set up exactly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlite_utils
from aiohttp import web
from aiohttp.test_utils import TestClient
from nats.js import JetStreamContext

from services.hub.keys import APPROVER
from services.hub.policy import Policy
from services.hub.service import Approver
from services.hub.settings import Settings
from services.hub.store import queued, save_policy
from shared import bus
from shared.accounts import create_user
from shared.ids import utc_now
from shared.schemas import PageTarget, PostRendered, PostTargeted, Variant, encode, targets_subject
from shared.tokens import issue_token, load_or_create_private_key
from tests.hub.dashboard_client import PASSWORD

Client = TestClient[web.Request, web.Application]
LYON = "lyon-part-dieu"
PAGE = f"{LYON}-mastodon"
TEXT = "Offre : cariste H/F à Lyon #emploi"


@dataclass
class Hub:
    client: Client
    settings: Settings
    db: sqlite_utils.Database
    js: JetStreamContext
    link: bus.BusLink

    @property
    def approver(self) -> Approver:
        return self.client.app[APPROVER]

    @property
    def url(self) -> str:
        return str(self.client.make_url("")).rstrip("/")

    def token(self, role: str, subject: str) -> str:
        key = load_or_create_private_key(self.settings.token_key_file)
        return issue_token(key, role=role, subject=subject)

    async def sign_in(self, username: str, role: str) -> tuple[str, str]:
        """Create a dashboard user and sign in as them: (Cookie header, the session's CSRF token)."""
        create_user(self.db, username, role, None, PASSWORD)
        page = await (await self.client.get("/login")).text()
        login_token = page.split('name="login_token" value="', 1)[1].split('"', 1)[0]
        form = {"login_token": login_token, "username": username, "password": PASSWORD}
        assert (await self.client.post("/login", data=form, allow_redirects=False)).status == 303
        dashboard = await (await self.client.get("/dashboard")).text()
        csrf = dashboard.split('<meta name="csrf-token" content="', 1)[1].split('"', 1)[0]
        cookies = self.client.session.cookie_jar.filter_cookies(self.client.make_url("/"))
        return "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items()), csrf

    async def post(self, path: str, body: Any, role: str = "moderator", subject: str = "nadia") -> Any:
        response = await self.client.post(
            path, json=body, headers={"Authorization": f"Bearer {self.token(role, subject)}"}
        )
        return response.status, await response.json()

    async def subjects(self, stream: str, post_id: str, *, notices: bool = False) -> dict[str, int]:
        """How many messages each of the post's subjects holds in `stream`, by its last token. On
        DECISIONS, the `queued` notice (the post waits for a moderator: no decision) is left out
        unless `notices`."""
        kind = {"DECISIONS": "decisions", "COMMANDS": "commands"}[stream]
        info = await self.js.stream_info(stream, subjects_filter=f"{kind}.*.{post_id}.>")
        counts = {subject.rsplit(".", 1)[1]: count for subject, count in (info.state.subjects or {}).items()}
        return counts if notices else {last: n for last, n in counts.items() if last != "queued"}


async def a_rendered_post(hub: Hub, post_id: str, schedule_at: str | None = None) -> bytes:
    """What the federation and the formatter leave for the hub: the targeted post on TARGETS, and
    its rendering (returned, as the hub's consumer hands it over)."""
    targeted = PostTargeted(
        post_id=post_id,
        agency=LYON,
        occurred_at=utc_now(),
        author=f"advisor@{LYON}",
        text=TEXT,
        targets=[PageTarget("mastodon", PAGE, LYON, "Europe/Paris")],
        schedule_at=schedule_at,
    )
    await bus.publish(hub.js, targets_subject(LYON, post_id), targeted, f"{post_id}.targeted")
    rendered = PostRendered(
        post_id=post_id,
        agency=LYON,
        occurred_at=utc_now(),
        author=f"advisor@{LYON}",
        variants=[Variant("mastodon", PAGE, [TEXT], LYON, "Europe/Paris")],
        schedule_at=schedule_at,
    )
    return encode(rendered)


async def queue_a_post(hub: Hub, post_id: str, schedule_at: str | None = None) -> bytes:
    save_policy(hub.db, Policy("default", "moderated"))
    data = await a_rendered_post(hub, post_id, schedule_at)
    await hub.approver.decide(data)
    assert post_id in [row["post_id"] for row in queued(hub.db)]
    return data
