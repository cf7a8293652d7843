"""Intake's HTTP contract, in process: every bad input gets a 4xx JSON error and stores nothing."""

from __future__ import annotations

import io
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from services.intake.keys import DATABASE
from tests.intake.conftest import AGENCY, PAGES


def stored_posts(client: TestClient[Any, Any]) -> int:
    return int(client.app[DATABASE].execute("select count(*) from posts").fetchone()[0])


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_accepts_a_post_durably_and_defaults_to_the_agency_pages(
    client: TestClient[Any, Any], tokens: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/posts",
        json={"text": "Atelier CV mardi 14 h #emploi", "networks": ["x", "bluesky"]},
        headers=auth(tokens["advisor"]),
    )
    assert response.status == 202
    body = await response.json()
    assert body["id"].startswith(f"{AGENCY}-") and body["status"] == "queued"
    shown = await (await client.get(f"/v1/posts/{body['id']}", headers=auth(tokens["advisor"]))).json()
    assert shown["status"] in ("queued", "waiting_for_hub")
    assert {(d["network"], d["page"], d["status"]) for d in shown["deliveries"]} == {
        ("x", PAGES["x"], "pending"),
        ("bluesky", PAGES["bluesky"], "pending"),
    }
    assert all(
        set(d) == {"network", "page", "status", "remote_id", "url", "error", "parts", "throttled_until"}
        for d in shown["deliveries"]
    )


async def test_post_ids_are_unique(client: TestClient[Any, Any], tokens: dict[str, str]) -> None:
    ids = set()
    for _ in range(20):
        response = await client.post(
            "/v1/posts", json={"text": "Offre", "networks": ["x"]}, headers=auth(tokens["advisor"])
        )
        ids.add((await response.json())["id"])
    assert len(ids) == 20


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"networks": ["x"]}, 400, "missing_field", "text"),
        ({"text": "   ", "networks": ["x"]}, 400, "missing_field", "text"),
        ({"text": 42, "networks": ["x"]}, 400, "invalid_type", "text"),
        ({"text": "Bonjour"}, 400, "missing_field", "networks"),
        ({"text": "Bonjour", "networks": []}, 400, "missing_field", "networks"),
        ({"text": "Bonjour", "networks": ["myspace"]}, 422, "unknown_network", "networks[0]"),
        ({"text": "Bonjour", "networks": ["x", "viadeo"]}, 422, "network_retired", "networks[1]"),
        ({"text": "Bonjour", "networks": ["facebook"]}, 422, "no_page_for_network", "networks"),
        (
            {"text": "Bonjour", "networks": ["x"], "pages": ["rennes-sud-x"]},
            403,
            "page_not_in_agency",
            "pages[0]",
        ),
        (
            {"text": "Bonjour", "networks": ["x"], "pages": [PAGES["mastodon"]]},
            422,
            "page_network_not_chosen",
            "pages[0]",
        ),
        ({"text": "Bonjour", "networks": ["x"], "link": "ftp://example.org"}, 422, "invalid_link", "link"),
        # An unbalanced IPv6 bracket was a 500.
        ({"text": "Bonjour", "networks": ["x"], "link": "http://[::1"}, 422, "invalid_link", "link"),
        ({"text": "Bonjour", "networks": ["x"], "link": "http://a b.fr"}, 422, "invalid_value", "link"),
        (
            {"text": "Bonjour", "networks": ["x"], "schedule_at": "demain"},
            422,
            "invalid_datetime",
            "schedule_at",
        ),
        # Beyond what every page's timezone can convert: it reached the hub, whose release raised.
        (
            {"text": "Bonjour", "networks": ["x"], "schedule_at": "9999-12-31T23:59:59-23:59"},
            422,
            "invalid_datetime",
            "schedule_at",
        ),
        (
            {"text": "Bonjour", "networks": ["x"], "schedule_at": "0001-01-01T00:00"},
            422,
            "invalid_datetime",
            "schedule_at",
        ),
        ({"text": "Bonjour {agency}", "networks": ["x"]}, 422, "unknown_variable", "text"),
        (
            {"text": "Hi", "networks": ["x"], "selectors": ["region:bretagne"]},
            403,
            "selector_outside_agency",
            "selectors[0]",
        ),
        (
            {"text": "Hi", "networks": ["x"], "selectors": ["planet:earth"]},
            422,
            "invalid_selector",
            "selectors[0]",
        ),
        (
            {
                "text": "Hi",
                "networks": ["x"],
                "selectors": ["agency:lyon-part-dieu"],
                "pages": ["lyon-part-dieu-x"],
            },
            400,
            "conflicting_fields",
            "selectors",
        ),
        ({"text": "Bonjour", "networks": ["x"], "colour": "red"}, 400, "unknown_field", "colour"),
        ({"text": "Bonjour", "networks": ["x"], "policy": "split"}, 422, "invalid_policy", "policy"),
        ({"text": "Bonjour", "networks": ["x"], "policy": ["thread"]}, 400, "invalid_type", "policy"),
        (
            {"text": "Bonjour", "networks": ["x"], "policy": {"x": "thread", "linkedin": "reject"}},
            422,
            "policy_network_not_chosen",
            "policy.linkedin",
        ),
        ({"text": "Bonjour", "networks": ["x"], "policy": {"x": "cut"}}, 422, "invalid_policy", "policy.x"),
        (
            {"text": "Bonjour", "networks": ["x"], "content_warning": 3},
            400,
            "invalid_type",
            "content_warning",
        ),
        (
            {"text": "Bonjour", "networks": ["x"], "media": [{"id": "lyon-part-dieu-nope", "alt": "CV"}]},
            422,
            "unknown_media",
            "media[0].id",
        ),
        (["not", "an", "object"], 400, "invalid_body", None),
    ],
)
async def test_bad_input_is_refused_with_a_json_error_and_nothing_is_stored(
    client: TestClient[Any, Any], tokens: dict[str, str], body: Any, status: int, code: str, field: str | None
) -> None:
    response = await client.post("/v1/posts", json=body, headers=auth(tokens["advisor"]))
    assert response.status == status
    error = (await response.json())["error"]
    assert error["code"] == code and error["field"] == field and error["message"]
    assert stored_posts(client) == 0


async def test_reject_policy_refuses_an_over_long_text_naming_network_length_and_limit(
    client: TestClient[Any, Any], tokens: dict[str, str]
) -> None:
    text = "Atelier CV mardi 14 h, venez avec vos questions. " * 7  # 342 weighted on X
    body = {"text": text, "networks": ["x", "mastodon"], "policy": {"x": "reject"}}
    response = await client.post("/v1/posts", json=body, headers=auth(tokens["advisor"]))
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["code"] == "too_long" and error["field"] == "text"
    assert error["message"] == "x: 342 weighted over the limit of 280"
    assert stored_posts(client) == 0

    # One policy for every network: Mastodon (500) takes it, X still refuses it.
    response = await client.post(
        "/v1/posts", json={**body, "policy": "reject"}, headers=auth(tokens["advisor"])
    )
    assert response.status == 422 and (await response.json())["error"]["message"].startswith("x: 342")


async def test_without_reject_an_over_long_text_is_accepted_with_its_policy_and_content_warning(
    client: TestClient[Any, Any], tokens: dict[str, str]
) -> None:
    text = "Atelier CV mardi 14 h, venez avec vos questions. " * 7
    body = {
        "text": text,
        "networks": ["x", "mastodon"],
        "policy": {"x": "truncate"},
        "content_warning": "Offre d'emploi",
    }
    response = await client.post("/v1/posts", json=body, headers=auth(tokens["advisor"]))
    assert response.status == 202
    post_id = (await response.json())["id"]
    shown = await (await client.get(f"/v1/posts/{post_id}", headers=auth(tokens["advisor"]))).json()
    assert shown["policy"] == {"x": "truncate"} and shown["content_warning"] == "Offre d'emploi"
    assert shown["media"] == []


async def test_a_body_that_is_not_json_is_refused(
    client: TestClient[Any, Any], tokens: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/posts",
        data=b"text=hello",
        headers={**auth(tokens["advisor"]), "Content-Type": "application/json"},
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_json"
    assert stored_posts(client) == 0


async def test_a_body_over_one_mebibyte_is_refused(
    client: TestClient[Any, Any], tokens: dict[str, str]
) -> None:
    big = b'{"text": "' + b"a" * (1024 * 1024) + b'", "networks": ["x"]}'
    response = await client.post(
        "/v1/posts",
        data=io.BytesIO(big),
        headers={**auth(tokens["advisor"]), "Content-Type": "application/json"},
    )
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "body_too_large"
    assert stored_posts(client) == 0


@pytest.mark.parametrize(
    ("token_name", "status", "code"),
    [
        (None, 401, "unauthenticated"),
        ("expired", 401, "invalid_token"),
        ("other_agency", 403, "wrong_agency"),
        ("ops", 403, "forbidden"),
        ("garbage", 401, "invalid_token"),
    ],
)
async def test_tokens_are_checked_offline(
    client: TestClient[Any, Any], tokens: dict[str, str], token_name: str | None, status: int, code: str
) -> None:
    headers = auth(tokens.get(token_name, "not-a-jwt")) if token_name else {}
    response = await client.post("/v1/posts", json={"text": "Bonjour", "networks": ["x"]}, headers=headers)
    assert response.status == status
    error = (await response.json())["error"]
    assert error["code"] == code and error["field"] == "Authorization"
    assert stored_posts(client) == 0


async def test_unknown_post_is_a_json_404(client: TestClient[Any, Any], tokens: dict[str, str]) -> None:
    response = await client.get("/v1/posts/lyon-part-dieu-nope", headers=auth(tokens["advisor"]))
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_health_says_alive_but_not_ready_without_the_bus(client: TestClient[Any, Any]) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 503
    assert (await ready.json())["checks"] == {"nats": False, "database": True, "pages": True}


async def test_openapi_documents_every_route(client: TestClient[Any, Any]) -> None:
    spec = await (await client.get("/v1/openapi.json")).json()
    routes = {
        # A static prefix (the composer's files) is documented as the files it serves.
        (
            r.method.lower(),
            "/static/{filename}" if r.resource.canonical == "/static" else r.resource.canonical,
        )
        for r in client.app.router.routes()
        if r.resource is not None and r.method != "HEAD"
    }
    documented = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    assert routes == documented
