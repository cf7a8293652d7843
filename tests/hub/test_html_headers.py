"""The strict Content-Security-Policy is on every HTML answer of the hub (finding 12: `/audit` and
`/dead-letters` had none), whichever route, status or caller produced it.

The routes are walked from the hub's router, so a page added later is checked too; the expected
header is the policy written in dashboard_html.py, and is checked to be strict (no inline script
or style, no framing).
"""

from __future__ import annotations

import sqlite_utils
from aiohttp import web
from aiohttp.test_utils import TestClient

from services.hub.dashboard import TITLES
from services.hub.dashboard_html import CSP
from shared.accounts import create_user
from tests.hub.dashboard_client import PASSWORD
from tests.hub.test_dashboard_auth import hub, login  # noqa: F401  (hub: the fixture, reused)

Client = TestClient[web.Request, web.Application]
# A value for each path parameter of a GET route (a new parameter fails the walk until added).
PARAMETERS = {
    "name": list(TITLES),
    "post_id": ["lyon-part-dieu-1"],
    "conversation": ["mastodon-000000000000000000000000"],  # none: the 404 page (and the API's JSON)
    "network": ["x", "linkedin", "mastodon", "bluesky"],  # the OAuth callback: its 400 page, no state
}


def get_paths(app: web.Application) -> list[str]:
    paths = []
    for route in app.router.routes():
        if route.method != "GET" or route.resource is None:
            continue
        canonical = route.resource.canonical
        if canonical == "/static":
            paths.append("/static/dashboard.css")
            continue
        info = route.resource.get_info()
        if "formatter" not in info:
            paths.append(canonical)
            continue
        names = [part[1:-1].split(":")[0] for part in canonical.split("/") if part.startswith("{")]
        assert len(names) == 1 and names[0] in PARAMETERS, canonical
        paths += [canonical.replace(f"{{{names[0]}}}", value) for value in PARAMETERS[names[0]]]
    return paths


def test_the_policy_is_strict() -> None:
    rules = dict(rule.strip().split(" ", 1) for rule in CSP.split(";"))
    assert rules["default-src"] == "'none'" and rules["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in CSP and "'unsafe-eval'" not in CSP


async def test_every_html_answer_of_the_hub_carries_the_policy(
    hub: tuple[Client, sqlite_utils.Database],  # noqa: F811
) -> None:
    client, db = hub
    create_user(db, "olga", "ops", None, PASSWORD)
    paths = get_paths(client.app)
    assert {"/audit", "/dead-letters", "/dashboard", "/login"} <= set(paths)
    html_answers: list[str] = []

    async def check(path: str, method: str = "GET") -> None:
        async with client.request(method, path, allow_redirects=False) as response:
            await response.read()
            assert response.headers.get("Content-Security-Policy") == CSP, (method, path, response.status)
            if response.content_type == "text/html":
                html_answers.append(path)

    for path in paths:  # anonymous: sign-in page, redirects, refusals
        await check(path)
    assert (await login(client, "olga")).status == 303
    for path in paths:  # signed in: every page and section
        if path != "/events":  # the live feed never ends (its headers are checked anonymously)
            await check(path)
    await check("/dashboard/queue/lyon-part-dieu-1/approve", "POST")  # a refusal page (no CSRF)
    assert {"/audit", "/dead-letters", "/dashboard", "/login", "/inbox"} <= set(html_answers)
    assert "/inbox/mastodon-000000000000000000000000" in html_answers
    assert "/dashboard/queue/lyon-part-dieu-1/approve" in html_answers
