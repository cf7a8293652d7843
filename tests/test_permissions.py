"""The permission matrix: every HTTP route of every service × every kind of caller → the expected
answer, from a policy written by hand below (never recorded from the code's answers).

`test_every_route_has_a_row` walks each app's router: a route without a row here, or a public
list that differs from the one written here, fails (a new route cannot ship unclassified).
`test_the_matrix_holds_against_the_running_system` runs every cell against the whole system as
real processes (real HTTP on loopback, real SQLite, a real nats-server).

Callers: `anonymous`; `advisor` of lyon-part-dieu (whose post and dead letter the cells touch) and
`advisor_other` of rennes-sud; regional moderators `moderator_in` (auvergne-rhone-alpes, Lyon's)
and `moderator_out` (bretagne); `national` moderator; `ops`; `admin`. At the hub, `/v1/…` takes
bearer tokens and the dashboard's routes take sessions (advisors have no dashboard account: their
token does not open it).

Answers: `ok` (the route did its work: anything but 401/403, and not a 404 on an object that
exists), `401`, `403`, and `404` (the object exists but is outside the caller's territory, so it
is answered as absent). The policy, in words:

- Hub reads (posts, agencies, schedule, dead letters, queue, policies, inbox and its pages,
  dashboard, audit page, live feed): moderators, ops and admins; a regional moderator's lists are
  cut to her region, one object outside it is a 404. The audit API is for national readers (ops, admin).
- Hub decisions (approve, reject, campaigns): moderators in their territory and admins; out of
  territory 403. Ops decide nothing: they read everything and run the system.
- Dead-letter actions and policy changes: admins only.
- Intake: advisors of that agency and admins; anyone else 403. A composer's draft, by its id, is
  its author's alone: anyone else, an admin too, gets 404.
- `/metrics` on every service: ops and admins (bearer token); anyone else 403, no token 401.
- Public everywhere: health and readiness; the hub's sign-in page, home redirect and static files;
  each API's OpenAPI document; the hub's and the intake's `/favicon.ico`; the dispatcher's media
  downloads (networks fetch them without a token; their URLs are unguessable and short-lived
  instead).
- Public but checked by the network's own secret: the hub's webhooks (the networks push without a
  token). A probe carries no signature or secret token, so every caller, whatever its token, gets
  401 (a POST) or 403 (Meta's handshake without the verify token).
"""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
import urllib.parse
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

import nats
import pytest
import sqlite_utils
from aiohttp import web
from aiohttp.test_utils import TestClient
from PIL import Image

from services.dispatcher.media_urls import MediaUrlSigner
from services.hub import dead_letters
from services.hub.openapi import HUB_OPENAPI
from services.intake.openapi import intake_openapi
from shared.access import PUBLIC_ROUTES
from shared.ids import utc_now
from shared.schemas import (
    DeliveryDeadLettered,
    ErrorReport,
    InboxItemReceived,
    alerts_subject,
    conversation_key,
    encode,
    inbox_subject,
)
from shared.secrets import load_or_create_key
from shared.tokens import issue_token
from tests.harness import RelaisSystem, eventually, http
from tests.hub.dashboard_client import DashboardSession, create_user
from tests.service_apps import service_apps

ROLES = (
    "anonymous",
    "advisor",
    "advisor_other",
    "moderator_out",
    "ops",
    "moderator_in",
    "national",
    "admin",
)  # callers expected to be refused go first, so that a cell that changes state comes after them
Client = TestClient[web.Request, web.Application]
LYON, RENNES = "lyon-part-dieu", "rennes-sud"
LYON_PAGE = f"{LYON}-mastodon"


@dataclass(frozen=True)
class Row:
    """One route; `expect` maps each caller to its answer; the probe is what the cell sends."""

    service: str
    method: str
    route: str
    expect: dict[str, str]
    path: str = ""  # the route with its parameters filled ({post} is the lyon post)
    body: Any = None
    form: dict[str, str] | None = None
    session: bool = False  # a dashboard route: the caller's session, not its token
    absent_ok: bool = False  # a 404 is the normal answer for the object the probe names
    public: bool = False  # on the public list although it refuses the probe (its own check)


def answers(*classes: str) -> dict[str, str]:
    """Answers in the order of ROLES."""
    assert len(classes) == len(ROLES)
    return dict(zip(ROLES, classes, strict=True))


PUBLIC = answers(*["ok"] * 8)
#                  anon   adv    adv_o  mod_out ops    mod_in national admin
HUB_READ = answers("401", "403", "403", "ok", "ok", "ok", "ok", "ok")
HUB_READ_ONE = answers("401", "403", "403", "404", "ok", "ok", "ok", "ok")
HUB_DECIDE = answers("401", "403", "403", "403", "403", "ok", "ok", "ok")
HUB_ADMIN = answers("401", "403", "403", "403", "403", "403", "403", "ok")
HUB_NATIONAL_READ = answers("401", "403", "403", "403", "ok", "403", "403", "ok")
# Advocacy (services/hub/advocacy.py): a national topic is for national moderators and admins only; a
# story for a topic that does not exist, or a decision on a story that does not exist, stops every
# writer at that check (422, 404), a regional moderator's scope being the topic's, checked after.
NATIONAL_WRITE = answers("401", "403", "403", "403", "403", "403", "ok", "ok")
ADVOCACY_WRITE = answers("401", "403", "403", "ok", "403", "ok", "ok", "ok")
# Dashboard: advisors have no account, so their token does not sign them in.
DASH_READ = answers("401", "401", "401", "ok", "ok", "ok", "ok", "ok")
# A post's deliveries: outside the moderator's region, as unknown as a post that does not exist.
DASH_READ_ONE = answers("401", "401", "401", "404", "ok", "ok", "ok", "ok")
DASH_DECIDE = answers("401", "401", "401", "403", "403", "ok", "ok", "ok")
DASH_ADMIN = answers("401", "401", "401", "403", "403", "403", "403", "ok")
INTAKE = answers("401", "ok", "403", "403", "403", "403", "403", "ok")
# A draft by its id ({draft} is the lyon advisor's): its author's alone; anyone else, an admin too,
# finds no such draft (404: an id never tells whether it exists).
DRAFT = answers("401", "ok", "404", "404", "404", "404", "404", "404")
# An agency node's pages for a caller without a session there: a redirect to its sign-in form.
NODE_PAGE = answers(*["ok"] * 8)
# Every service's /metrics: the people who run the system (shared/metrics.py).
METRICS = answers("401", "403", "403", "403", "ok", "403", "403", "ok")
# The networks' webhooks: no token opens them, only the network's signature or secret token.
WEBHOOK_PUSH = answers(*["401"] * 8)
WEBHOOK_HANDSHAKE = answers(*["403"] * 8)

CAMPAIGN = {"text": "Forum emploi #emploi", "networks": ["mastodon"], "selectors": [f"agency:{LYON}"]}

ROWS = [
    # hub: public
    Row("hub", "GET", "/healthz", PUBLIC),
    Row("hub", "GET", "/readyz", PUBLIC),
    Row("hub", "GET", "/", PUBLIC),
    Row("hub", "GET", "/login", PUBLIC),
    Row("hub", "POST", "/login", PUBLIC),  # the probe signs in a probe account (its own checks)
    Row("hub", "GET", "/static", PUBLIC, path="/static/dashboard.css"),
    Row("hub", "GET", "/metrics", METRICS),
    Row("hub", "GET", "/v1/openapi.json", PUBLIC),
    Row("hub", "GET", "/favicon.ico", PUBLIC),
    # hub: the networks' webhooks (services/hub/webhooks.py)
    Row("hub", "GET", "/webhooks/meta", WEBHOOK_HANDSHAKE, public=True),
    Row("hub", "POST", "/webhooks/meta", WEBHOOK_PUSH, body={"object": "page", "entry": []}, public=True),
    Row(
        "hub",
        "POST",
        "/webhooks/telegram/{page}",
        WEBHOOK_PUSH,
        path=f"/webhooks/telegram/{LYON}-telegram",
        body={"update_id": 1},
        public=True,
    ),
    # hub: API
    Row("hub", "GET", "/v1/audit", HUB_NATIONAL_READ, path="/v1/audit?post_id={post}"),
    # The schedule is not ISO-8601: an allowed campaign stops at validation, after the scope check.
    Row("hub", "POST", "/v1/posts", HUB_DECIDE, body={**CAMPAIGN, "schedule_at": "soon"}),
    Row("hub", "GET", "/v1/posts/{post_id}", HUB_READ_ONE, path="/v1/posts/{post}"),
    Row("hub", "GET", "/v1/agencies", HUB_READ),
    Row("hub", "GET", "/v1/schedule", HUB_READ),
    Row("hub", "GET", "/v1/dead-letters", HUB_READ),
    Row(
        "hub",
        "POST",
        "/v1/dead-letters/{post_id}/{page}/{action}",
        HUB_ADMIN,
        path=f"/v1/dead-letters/{{post}}/{LYON_PAGE}/retry",
    ),
    Row("hub", "GET", "/v1/moderation/queue", HUB_READ),
    # An empty text or reason: an allowed moderator stops at validation and the post stays queued.
    Row(
        "hub",
        "POST",
        "/v1/moderation/{post_id}/approve",
        HUB_DECIDE,
        path="/v1/moderation/{post}/approve",
        body={"text": ""},
    ),
    Row(
        "hub",
        "POST",
        "/v1/moderation/{post_id}/reject",
        HUB_DECIDE,
        path="/v1/moderation/{post}/reject",
        body={"reason": ""},
    ),
    Row("hub", "GET", "/v1/policies", HUB_READ),
    Row("hub", "GET", "/v1/inbox", HUB_READ),
    Row("hub", "GET", "/v1/reports/inbox", HUB_READ),
    Row("hub", "GET", "/v1/reports/advocacy", HUB_READ),
    # {conversation} is a Lyon page's conversation (_plant_conversation): another region's is a 404.
    Row("hub", "GET", "/v1/inbox/{conversation}", HUB_READ_ONE, path="/v1/inbox/{conversation}"),
    # Hiding acts: another region's moderator 403 `outside_scope`; an allowed caller stops at the
    # item check (no such item: 404) and nothing is ordered.
    Row(
        "hub",
        "POST",
        "/v1/inbox/{conversation}/items/{item_id}/hide",
        HUB_DECIDE,
        path="/v1/inbox/{conversation}/items/nobody-here/hide",
        absent_ok=True,
    ),
    Row("hub", "PUT", "/v1/policies", HUB_ADMIN, body={"scope": "nowhere", "mode": "auto"}),
    # The hub team's saved replies: an allowed caller stops at the check of the language.
    Row(
        "hub",
        "POST",
        "/v1/inbox/{conversation}/replies",
        HUB_DECIDE,
        path="/v1/inbox/{conversation}/replies",
        body={"text": "Bonjour", "item_id": "nobody-here"},
    ),
    Row("hub", "GET", "/v1/saved-replies", HUB_READ),
    Row("hub", "GET", "/v1/topics", HUB_READ),
    Row("hub", "GET", "/v1/stories", HUB_READ),
    Row("hub", "POST", "/v1/topics", NATIONAL_WRITE, body={"id": "salons", "titles": {"fr": "Salons"}}),
    Row(
        "hub",
        "POST",
        "/v1/stories",
        ADVOCACY_WRITE,
        body={
            "topic": "nope",
            "link": "https://www.francetravail.fr/",
            "texts": {"fr": "Bonjour"},
            "expires_at": "2099-01-01T00:00:00+00:00",
        },
    ),
    *(
        Row(
            "hub",
            "POST",
            f"/v1/stories/{{story_id}}/{decision}",
            ADVOCACY_WRITE,
            path=f"/v1/stories/01JEZ0000000000000000000AB/{decision}",
            body={"reason": "hors sujet"} if decision == "reject" else None,
            absent_ok=True,
        )
        for decision in ("approve", "reject")
    ),
    Row(
        "hub",
        "POST",
        "/v1/saved-replies",
        HUB_ADMIN,
        body={"id": "x", "language": "en", "title": "t", "body": "b"},
    ),
    # hub: dashboard
    Row("hub", "GET", "/audit", DASH_READ, session=True),
    Row("hub", "GET", "/dead-letters", DASH_READ, session=True),
    Row("hub", "GET", "/dashboard", DASH_READ, session=True),
    Row(
        "hub",
        "GET",
        "/dashboard/posts/{post_id}",
        DASH_READ_ONE,
        path="/dashboard/posts/{post}",
        session=True,
    ),
    Row(
        "hub", "GET", "/dashboard/sections/{name}", DASH_READ, path="/dashboard/sections/queue", session=True
    ),
    Row(
        "hub",
        "POST",
        "/dashboard/queue/{post_id}/{decision}",
        DASH_DECIDE,
        path="/dashboard/queue/{post}/reject",
        form={"reason": ""},
        session=True,
    ),
    Row(
        "hub",
        "POST",
        "/dashboard/dead-letters/{post_id}/{page}/retry",
        DASH_ADMIN,
        path=f"/dashboard/dead-letters/{{post}}/{LYON_PAGE}/retry",
        form={},
        session=True,
    ),
    Row("hub", "GET", "/inbox", DASH_READ, session=True),
    # The Lyon page's conversation: another region's moderator finds none (404, as the API's).
    Row(
        "hub",
        "GET",
        "/inbox/{conversation}",
        DASH_READ_ONE,
        path="/inbox/{conversation}",
        session=True,
    ),
    Row("hub", "GET", "/reports", DASH_READ, session=True),
    Row("hub", "GET", "/reports/inbox.csv", DASH_READ, session=True),
    Row("hub", "GET", "/reports/advocacy", DASH_READ, session=True),
    Row("hub", "GET", "/reports/advocacy.csv", DASH_READ, session=True),
    # A reply to the Lyon page's conversation answering no item of it: an allowed caller stops at
    # that check (422) and nothing is published; acting outside her region is a 403.
    Row(
        "hub",
        "POST",
        "/inbox/{conversation}/replies",
        DASH_DECIDE,
        path="/inbox/{conversation}/replies",
        form={"text": "Bonjour", "item_id": "nobody-here"},
        session=True,
    ),
    # The reply form's live preview (nothing stored): who reads the conversation.
    Row(
        "hub",
        "POST",
        "/inbox/{conversation}/preview",
        DASH_READ_ONE,
        path="/inbox/{conversation}/preview",
        form={"text": "Bonjour"},
        session=True,
    ),
    Row("hub", "GET", "/events", DASH_READ, session=True),
    Row("hub", "POST", "/logout", DASH_READ, form={}, session=True),  # run last: it ends the session
    # intake (lyon-part-dieu's node)
    Row("intake", "GET", "/healthz", PUBLIC),
    Row("intake", "GET", "/readyz", PUBLIC),
    Row("intake", "GET", "/v1/openapi.json", PUBLIC),
    Row("intake", "GET", "/favicon.ico", PUBLIC),
    Row("intake", "GET", "/metrics", METRICS),
    Row("intake", "POST", "/v1/posts", INTAKE, body={"text": "", "networks": ["mastodon"]}),
    Row("intake", "GET", "/v1/posts", INTAKE),
    Row("intake", "GET", "/v1/posts/{post_id}", INTAKE, path="/v1/posts/{post}"),
    Row("intake", "POST", "/v1/preview", INTAKE, body={"text": "Bonjour", "networks": ["mastodon"]}),
    Row("intake", "POST", "/v1/media", INTAKE, body={"not": "multipart"}),
    Row("intake", "GET", "/v1/composer", INTAKE),
    Row("intake", "GET", "/v1/drafts", INTAKE),  # each caller's own drafts (an admin's too)
    Row("intake", "POST", "/v1/drafts", INTAKE, body={"body": {"text": "Brouillon"}}),
    Row("intake", "GET", "/v1/drafts/{draft_id}", DRAFT, path="/v1/drafts/{draft}"),
    Row("intake", "PUT", "/v1/drafts/{draft_id}", DRAFT, path="/v1/drafts/{draft}", body={"body": {}}),
    Row("intake", "DELETE", "/v1/drafts/{draft_id}", DRAFT, path="/v1/drafts/{draft}"),  # last: deletes it
    # The agency's inbox ({conversation} is one on a lyon page): the agency's advisors and admins.
    Row("intake", "GET", "/v1/inbox", INTAKE),
    Row("intake", "GET", "/v1/stories", INTAKE),
    Row("intake", "GET", "/v1/inbox/{conversation}", INTAKE, path="/v1/inbox/{conversation}"),
    # Nobody's user id: an allowed caller stops at the assignee check and nothing changes.
    Row(
        "intake",
        "POST",
        "/v1/inbox/{conversation}/assign",
        INTAKE,
        path="/v1/inbox/{conversation}/assign",
        body={"assignee": "nobody-here"},
    ),
    # No such item in the conversation: an allowed caller stops at that check and nothing is stored.
    Row(
        "intake",
        "POST",
        "/v1/inbox/{conversation}/items/{item_id}/hide",
        INTAKE,
        path="/v1/inbox/{conversation}/items/nobody-here/hide",
        absent_ok=True,
    ),
    Row(
        "intake",
        "POST",
        "/v1/inbox/{conversation}/replies",
        INTAKE,
        path="/v1/inbox/{conversation}/replies",
        body={"text": "Bonjour", "item_id": "nobody-here"},
    ),
    # The advisors' pages (tests/intake/test_advisor_accounts.py): the sign-in is public (the probe
    # signs in an advisor probe of the node's agency); / and /logout need a session at this node,
    # which no caller here has (a hub session or a token is none): they lead to the sign-in form.
    Row("intake", "GET", "/login", PUBLIC),
    Row("intake", "POST", "/login", PUBLIC),
    Row("intake", "GET", "/", NODE_PAGE),
    Row("intake", "GET", "/inbox", NODE_PAGE),
    Row("intake", "GET", "/inbox/{conversation}", NODE_PAGE, path="/inbox/{conversation}"),
    Row("intake", "GET", "/static", PUBLIC, path="/static/composer.js"),  # the composer's script and style
    Row("intake", "POST", "/logout", NODE_PAGE, form={}),
    # the other services: health only, and the dispatcher's media for the networks
    Row("dispatcher", "GET", "/healthz", PUBLIC),
    Row("dispatcher", "GET", "/readyz", PUBLIC),
    Row("dispatcher", "GET", "/metrics", METRICS),
    # A signed address (media_urls.py) of an attachment no approved post has: the handler's 404.
    Row("dispatcher", "GET", "/media/{media_id}", PUBLIC, path="{signed_media}", absent_ok=True),
    Row("federation", "GET", "/healthz", PUBLIC),
    Row("federation", "GET", "/readyz", PUBLIC),
    Row("federation", "GET", "/metrics", METRICS),
    Row("formatter", "GET", "/healthz", PUBLIC),
    Row("formatter", "GET", "/readyz", PUBLIC),
    Row("formatter", "GET", "/metrics", METRICS),
]


def declared_public(service: str) -> set[tuple[str, str]]:
    return {(r.method, r.route) for r in ROWS if r.service == service and (r.expect is PUBLIC or r.public)}


# ---------------------------------------------------------------------------------------------
# Every route has a row


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[dict[str, web.Application]]:
    with service_apps(tmp_path, LYON) as built:
        yield built


def test_every_route_has_a_row(apps: dict[str, web.Application]) -> None:
    for service, app in apps.items():
        routes = {
            (route.method, route.resource.canonical)
            for route in app.router.routes()
            if route.method != "HEAD" and route.resource is not None
        }
        rows = {(r.method, r.route) for r in ROWS if r.service == service}
        assert routes - rows == set(), f"{service}: routes without a row in the permission table"
        assert rows - routes == set(), f"{service}: rows for routes that do not exist"
        public: frozenset[tuple[str, str]] = app[PUBLIC_ROUTES]
        assert set(public) == declared_public(service), f"{service}: public list changed"


async def test_an_undeclared_route_is_closed_by_default(
    apps: dict[str, web.Application], aiohttp_client: Callable[[web.Application], Awaitable[Client]]
) -> None:
    """What the router walk guards: a route someone adds without declaring it answers 401."""

    async def leak(request: web.Request) -> web.Response:
        return web.json_response({"secret": True})

    for service, app in apps.items():
        app.router.add_get("/added-later", leak)
        client = await aiohttp_client(app)
        response = await client.get("/added-later", headers={"Accept": "application/json"})
        assert response.status == 401, service
        assert (await response.json())["error"]["code"] == "unauthenticated", service
        assert (await client.get("/healthz")).status == 200, service


# ---------------------------------------------------------------------------------------------
# Every cell, against the running system


@dataclass
class Caller:
    token: str | None = None
    cookie: str | None = None
    csrf: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def _request(
    port: int, method: str, path: str, caller: Caller, body: Any = None, form: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    headers = {"Accept": "application/json"}
    data: bytes | None = None
    if caller.token:
        headers["Authorization"] = f"Bearer {caller.token}"
    if caller.cookie:
        headers["Cookie"] = f"relais_session={caller.cookie}"
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    if form is not None:
        fields = {"csrf": caller.csrf, **form} if caller.csrf else form
        data = urllib.parse.urlencode(fields).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection = HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        answer = dict(response.headers)
        if answer.get("Content-Type", "").startswith("text/event-stream"):
            return response.status, answer, None  # the live feed never ends: its headers suffice
        payload = response.read()
    finally:
        connection.close()
    try:
        return response.status, answer, json.loads(payload)
    except ValueError:
        return response.status, answer, payload.decode(errors="replace")


def classify(status: int, row: Row) -> str:
    if status in (401, 403):
        return str(status)
    if status == 404 and not row.absent_ok:
        return "404"
    return "ok"


def _queued_lyon_post(relais: RelaisSystem) -> str:
    admin = relais.token("admin")
    moderated = {"scope": "default", "mode": "moderated"}
    status, _ = http("PUT", f"{relais.hub_url}/v1/policies", moderated, token=admin)
    assert status == 200
    status, accepted = relais.post({"text": "Offre : magasinier H/F #emploi", "networks": ["mastodon"]})
    assert status == 202, accepted
    post_id = str(accepted["id"])

    def queued() -> bool:
        status, body = http("GET", f"{relais.hub_url}/v1/moderation/queue", token=admin)
        return status == 200 and any(
            i["post_id"] == post_id and i["region"] == "auvergne-rhone-alpes" for i in body["queue"]
        )

    eventually(queued, timeout=30)
    return post_id


def _plant_dead_letter(relais: RelaisSystem, post_id: str) -> None:
    """What the dispatcher announces after giving up (its alert, recorded the hub's way)."""
    letter = DeliveryDeadLettered(
        post_id=post_id,
        agency=LYON,
        occurred_at=utc_now(),
        network="mastodon",
        page=LYON_PAGE,
        status="failed",
        attempts=8,
        error=ErrorReport(message="the network kept failing", network_code="503"),
    )
    db = sqlite_utils.Database(sqlite3.connect(relais.data_dir / "hub.db", timeout=10))
    try:
        dead_letters.record(db, alerts_subject(LYON, post_id, "dead_letter"), encode(letter))
    finally:
        db.close()


def _plant_conversation(relais: RelaisSystem) -> str:
    """A question on the Lyon page, published on the bus the hub side's way, once both the hub's
    inbox and Lyon's node hold it (each through its own INBOX consumer)."""
    item = InboxItemReceived(
        post_id="",
        agency=LYON,
        occurred_at=utc_now(),
        network="mastodon",
        page=LYON_PAGE,
        item_id="109000000000000001",
        conversation=conversation_key("mastodon", "109000000000000001"),
        root_id="109000000000000001",
        kind="mention",
        text="Bonjour, mon dossier ?",
        created_at=utc_now(),
        via="poll",
    )

    async def publish() -> None:
        nc = await nats.connect(relais.nats_url)
        try:
            await nc.jetstream().publish(inbox_subject(LYON, item.conversation, "received"), encode(item))
        finally:
            await nc.close()

    asyncio.run(publish())
    admin = relais.token("admin")

    def held_by_both() -> bool:
        return all(
            http("GET", f"{url}/v1/inbox/{item.conversation}", token=admin)[0] == 200
            for url in (relais.hub_url, relais.intake_url(LYON))
        )

    eventually(held_by_both, timeout=30)
    return item.conversation


def _callers(relais: RelaisSystem) -> dict[str, Caller]:
    key = relais.key
    tokens = {
        "anonymous": None,
        "advisor": issue_token(key, role="advisor", subject="claire", agency=LYON),
        "advisor_other": issue_token(key, role="advisor", subject="yann", agency=RENNES),
        "moderator_in": issue_token(key, role="moderator", subject="m-in", region="auvergne-rhone-alpes"),
        "moderator_out": issue_token(key, role="moderator", subject="m-out", region="bretagne"),
        "national": issue_token(key, role="moderator", subject="m-national"),
        "ops": issue_token(key, role="ops", subject="ops"),
        "admin": issue_token(key, role="admin", subject="admin"),
    }
    accounts = {
        "moderator_in": ("moderator", "auvergne-rhone-alpes"),
        "moderator_out": ("moderator", "bretagne"),
        "national": ("moderator", None),
        "ops": ("ops", None),
        "admin": ("admin", None),
    }
    callers = {role: Caller(token=token) for role, token in tokens.items()}
    for role, (account_role, region) in accounts.items():
        username = role.replace("_", "-")
        assert create_user(relais.data_dir, username, account_role, region).returncode == 0
        desk = DashboardSession(relais.hub_url)
        assert desk.login(username) == 303
        desk.dashboard()
        cookie = next(c.value for c in desk.jar if c.name == "relais_session")
        callers[role] = Caller(token=tokens[role], cookie=cookie, csrf=desk.csrf)
    return callers


def test_the_matrix_holds_against_the_running_system(relais: RelaisSystem) -> None:
    post_id = _queued_lyon_post(relais)
    _plant_dead_letter(relais, post_id)
    conversation = _plant_conversation(relais)
    callers = _callers(relais)
    drafted = {"body": {"text": "Brouillon de Claire"}}
    status, draft = http(
        "POST", f"{relais.intake_url(LYON)}/v1/drafts", drafted, token=callers["advisor"].token
    )
    assert status == 201, draft
    assert create_user(relais.data_dir, "probe", "ops").returncode == 0
    assert create_user(relais.data_dir, "advisor-probe", "advisor", agency=LYON).returncode == 0
    node = DashboardSession(relais.intake_url(LYON))
    eventually(lambda: node.login("advisor-probe") == 303, timeout=30)  # its account reached the node
    ports = {
        "hub": relais.ports.hub,
        "intake": relais.ports.intake_for(relais.agencies.index(LYON)),
        "dispatcher": relais.ports.dispatcher,
        "federation": relais.ports.federation,
        "formatter": relais.ports.formatter,
    }
    signer = MediaUrlSigner.from_secrets_key(load_or_create_key({"RELAIS_DATA_DIR": str(relais.data_dir)}))
    signed = urllib.parse.urlsplit(signer.url("http://dispatcher", "unknown"))
    wrong: list[str] = []
    for row in ROWS:
        for role in ROLES:
            caller = callers[role]
            path = (row.path or row.route).replace("{post}", post_id).replace("{draft}", draft["id"])
            path = path.replace("{conversation}", conversation)
            path = path.replace("{signed_media}", f"{signed.path}?{signed.query}")
            if row.session:  # dashboard routes: the session only (a token does not open them)
                caller = Caller(cookie=caller.cookie, csrf=caller.csrf)
            elif row.service == "hub" and not row.route.startswith(("/v1/", "/metrics")):
                caller = Caller()  # public pages: as a browser without a session
            else:
                caller = Caller(token=caller.token)
            if (row.service, row.method, row.route) == ("hub", "POST", "/login"):
                desk = DashboardSession(relais.hub_url)
                status = desk.login("probe")
            elif (row.service, row.method, row.route) == ("intake", "POST", "/login"):
                status = DashboardSession(f"http://127.0.0.1:{ports['intake']}").login("advisor-probe")
            else:
                status, _, _ = _request(ports[row.service], row.method, path, caller, row.body, row.form)
            got = classify(status, row)
            if got != row.expect[role]:
                cell = f"{row.service} {row.method} {path} as {role}"
                wrong.append(f"{cell}: {status} ({got}), expected {row.expect[role]}")
    assert wrong == [], "\n".join(wrong)

    # Each surface takes its own credential only: a token does not open the dashboard, nor a
    # session cookie the API (which would invite cross-site requests).
    admin = callers["admin"]
    assert _request(ports["hub"], "GET", "/dashboard", Caller(token=admin.token))[0] == 401
    assert _request(ports["hub"], "GET", "/v1/agencies", Caller(cookie=admin.cookie))[0] == 401


@pytest.mark.parametrize(
    ("service", "document"),
    [("intake", intake_openapi(LYON, (), True)), ("hub", HUB_OPENAPI)],
    ids=["intake", "hub"],
)
def test_each_openapi_document_marks_exactly_the_public_routes(
    service: str, document: dict[str, Any]
) -> None:
    """Client generators read `security: []` as "no token": it must match the public list."""
    marked = {
        (method.upper(), "/static" if path == "/static/{filename}" else path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if operation.get("security") == []
    }
    assert marked == declared_public(service)


async def test_the_browsers_icon_is_served_without_credentials(
    apps: dict[str, web.Application], aiohttp_client: Callable[[web.Application], Awaitable[Client]]
) -> None:
    """Every browser asks the hub and the intake for /favicon.ico before anyone signs in."""
    for service in ("hub", "intake"):
        client = await aiohttp_client(apps[service])
        response = await client.get("/favicon.ico")
        assert (response.status, response.content_type) == (200, "image/x-icon"), service
        icon = Image.open(io.BytesIO(await response.read()))
        assert icon.format == "ICO" and icon.size[0] >= 16, service
