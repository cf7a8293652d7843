"""Malformed request bodies, sent as an attacker would to every body-taking route of the hub and of an
agency's intake (enumerated from their routers, so a new route is covered): each gets a 4xx in the
JSON error shape, never a 500 or a plain-text page, and changes nothing (issue 10, finding 10)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from services.hub.app import create_app as hub_app
from services.hub.settings import Settings as HubSettings
from services.hub.store import open_store
from services.intake.app import create_app as intake_app
from services.intake.settings import Settings as IntakeSettings
from shared import bus
from shared.accounts import create_user
from shared.http_body import MAX_JSON_DEPTH, read_json
from shared.tokens import issue_token, load_or_create_private_key
from shared.web import error_middleware
from tests.harness import RelaisSystem, eventually, http

LYON = "lyon-part-dieu"
NESTED = b"[" * 2048
# Routes whose body is not JSON, by hand: the dashboard's forms and the media upload.
FORM_ROUTES = {
    "/login",
    "/logout",
    "/dashboard/queue/{post_id}/{decision}",
    "/dashboard/dead-letters/{post_id}/{page}/retry",
    "/inbox/{conversation}/replies",
    "/inbox/{conversation}/preview",
}
MULTIPART_ROUTES = {"/v1/media"}
# (what is wrong, body, content type): every JSON route must refuse each one.
BAD_JSON = [
    ("2 KB of nested brackets", NESTED, "application/json"),
    ("nested objects", b'{"a":' * 600 + b"1" + b"}" * 600, "application/json"),
    ("invalid UTF-8", b'{"text": "\xff\xfe caf\xe9"}', "application/json"),
    ("not JSON", b"text=hello", "application/json"),
    ("an array, not an object", b'["text", "networks"]', "application/json"),
    ("a string, not an object", b'"text"', "application/json"),
    ("another content type", b'{"text": "hello"}', "text/plain"),
    ("multipart without boundary", b"--x\r\n\r\n", "multipart/form-data"),
]
# Multipart bodies broken in the ways that used to crash the parser.
PART = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n%s\r\n\x89PNG\r\n--b--\r\n'
BAD_MULTIPART = [
    ("no boundary", b"--b\r\n\r\n", "multipart/form-data"),
    ("a control character in a part header", PART % b"X-Note: a\x01b\r\n", "multipart/form-data; boundary=b"),
    (
        "a control character in the disposition",
        PART.replace(b'name="file"', b'name="fi\x7fle"') % b"",
        "multipart/form-data; boundary=b",
    ),
    ("JSON instead", b'{"file": "x"}', "application/json"),
]


def _body_routes(app: web.Application) -> set[str]:
    return {
        route.resource.canonical
        for route in app.router.routes()
        if route.method in ("POST", "PUT", "PATCH") and route.resource is not None
    }


def _routers(tmp_path: Path) -> tuple[set[str], set[str]]:
    """The body-taking routes of the hub's and the intake's apps, as their code declares them."""
    env = {"RELAIS_DATA_DIR": str(tmp_path / "routes"), "RELAIS_AGENCY_ID": LYON}
    load_or_create_private_key(tmp_path / "routes" / "keys" / "hub-token-key.pem")
    db = open_store(tmp_path / "routes" / "hub.db")
    try:
        hub = _body_routes(hub_app(HubSettings.from_env(env), db, bus.BusLink()))
    finally:
        db.close()
    intake = _body_routes(intake_app(IntakeSettings.from_env(env)))
    return hub, intake


def _fill(route: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m[1]], route)


def _assert_json_refusal(status: int, body: Any, what: str) -> None:
    assert 400 <= status < 500, f"{what}: {status} {body!r}"
    assert isinstance(body, dict) and set(body["error"]) == {"code", "message", "field"}, f"{what}: {body!r}"


@pytest.fixture
def queued(relais: RelaisSystem) -> str:
    """A post waiting for a moderator: the decision routes then read their body."""
    admin = relais.token("admin")
    policy = {"scope": "default", "mode": "moderated"}
    assert http("PUT", f"{relais.hub_url}/v1/policies", policy, token=admin)[0] == 200
    status, accepted = relais.post({"text": "Offre : cariste H/F #emploi", "networks": ["mastodon"]})
    assert status == 202, accepted
    relais.wait_status(accepted["id"], ("awaiting_approval",))
    return str(accepted["id"])


def test_every_json_route_refuses_malformed_bodies_with_a_json_4xx(
    relais: RelaisSystem, queued: str, tmp_path: Path
) -> None:
    hub_routes, intake_routes = _routers(tmp_path)
    national = issue_token(relais.key, role="moderator", subject="moderatrice")
    values = {
        "post_id": queued,
        "page": f"{LYON}-mastodon",
        "action": "retry",
        "decision": "approve",
        "draft_id": "no-such-draft",
        "conversation": "mastodon-000000000000000000000000",  # none: a 404 in the JSON shape is a refusal too
        "item_id": "no-such-item",
        "story_id": "01JEZ0000000000000000000AB",  # none: likewise
        "network": "x",  # an advocate's account (the caller has not opted in: a 409 is a refusal too)
    }
    targets = [(relais.hub_url, route, national) for route in hub_routes - FORM_ROUTES - MULTIPART_ROUTES]
    targets += [(relais.hub_url, "/v1/policies", relais.token("admin"))]  # admin only
    targets += [(relais.intake_url(), route, relais.token()) for route in intake_routes - MULTIPART_ROUTES]
    assert {"/v1/moderation/{post_id}/approve", "/v1/policies", "/v1/posts", "/v1/preview"} <= {
        route for _, route, _ in targets
    }
    for base, route, token in targets:
        for method in ("POST", "PUT"):
            for what, raw, content_type in BAD_JSON:
                status, body = http(
                    method,
                    base + _fill(route, values),
                    raw=raw,
                    token=token,
                    headers={"Content-Type": content_type},
                )
                if status == 405:
                    continue  # the route takes the other method
                _assert_json_refusal(status, body, f"{method} {route} with {what}")
    # Refused bodies decided nothing: the post still waits.
    assert relais.get_post(queued)["status"] == "awaiting_approval"
    assert http("GET", f"{relais.hub_url}/v1/policies", token=relais.token("admin"))[0] == 200


def test_broken_multipart_bodies_get_a_json_4xx(relais: RelaisSystem) -> None:
    for what, raw, content_type in BAD_MULTIPART:
        status, body = http(
            "POST",
            f"{relais.intake_url()}/v1/media",
            raw=raw,
            token=relais.token(),
            headers={"Content-Type": content_type},
        )
        _assert_json_refusal(status, body, f"upload with {what}")
    for what, raw, content_type in BAD_MULTIPART[:3]:  # the public sign-in form reads forms too
        status, body = http(
            "POST", f"{relais.hub_url}/login", raw=raw, headers={"Content-Type": content_type}
        )
        _assert_json_refusal(status, body, f"sign-in with {what}")
    eventually(lambda: all(p.alive for p in relais.processes.values()))
    assert "request.failed" not in relais.logs()


async def test_the_json_reader_counts_nesting_outside_strings_only(aiohttp_client: Any) -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response(await read_json(request))

    app = web.Application(middlewares=[error_middleware])
    app.router.add_post("/", echo)
    client = await aiohttp_client(app)
    deepest = '{"a":' * (MAX_JSON_DEPTH - 1) + "[]" + "}" * (MAX_JSON_DEPTH - 1)
    brackets_in_text = json.dumps({"text": "[" * 5000 + '\\"{'})
    for accepted in (deepest, brackets_in_text):
        response = await client.post("/", data=accepted, headers={"Content-Type": "application/json"})
        assert response.status == 200 and await response.json() == json.loads(accepted)
    too_deep = "[" + deepest + "]"
    response = await client.post("/", data=too_deep, headers={"Content-Type": "application/json"})
    assert response.status == 400 and (await response.json())["error"]["code"] == "invalid_json"


async def test_an_unexpected_failure_is_a_json_500_without_details(aiohttp_client: Any) -> None:
    async def broken(request: web.Request) -> web.Response:
        raise KeyError("hub-token-key.pem at /keys")

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/broken/{id}", broken)
    client = await aiohttp_client(app)
    with capture_logs() as logs:
        response = await client.get("/broken/secret-capability")
    assert response.status == 500
    assert await response.json() == {
        "error": {
            "code": "internal_error",
            "message": "the server failed to handle this request",
            "field": None,
        }
    }
    [failure] = [entry for entry in logs if entry["event"] == "request.failed"]
    assert failure["route"] == "/broken/{id}" and "secret-capability" not in str(failure)


async def test_every_dashboard_form_refuses_broken_bodies_of_a_signed_in_user(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    settings = HubSettings.from_env({"RELAIS_DATA_DIR": str(tmp_path)})
    db = open_store(settings.database)
    try:
        app = hub_app(settings, db, bus.BusLink())
        form_routes = _body_routes(app) & FORM_ROUTES
        assert form_routes == FORM_ROUTES, "FORM_ROUTES names a route the hub no longer has"
        create_user(db, "nadia", "admin", None, "correct horse battery staple")
        client = await aiohttp_client(app)
        page = await (await client.get("/login")).text()
        token = re.search(r'name="login_token" value="([^"]+)"', page)
        assert token, page
        form = {"login_token": token[1], "username": "nadia", "password": "correct horse battery staple"}
        assert (await client.post("/login", data=form, allow_redirects=False)).status == 303
        values = {
            "post_id": "lyon-part-dieu-1",
            "page": "lyon-part-dieu-x",
            "decision": "approve",
            "conversation": "mastodon-000000000000000000000000",
        }
        for route in sorted(form_routes - {"/login"}):
            for what, raw, content_type in BAD_MULTIPART[:3]:
                response = await client.post(
                    _fill(route, values), data=raw, headers={"Content-Type": content_type}
                )
                _assert_json_refusal(response.status, await response.json(), f"{route} with {what}")
    finally:
        db.close()
