"""The LinkedIn emulator answers like the Posts API, including the little-text truncation."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from sandbox_kit import Received, Sandbox

from services.sandbox.linkedin import read_little_text

HEADERS = {
    "Authorization": "Bearer sbx-linkedin-123",
    "LinkedIn-Version": "202601",
    "X-Restli-Protocol-Version": "2.0.0",
}


def post_body(commentary: str, author: str = "urn:li:organization:123") -> dict[str, Any]:
    return {
        "author": author,
        "commentary": commentary,
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }


async def test_created_post_is_201_with_empty_body_and_urn_header(
    sandbox: Sandbox, received: Received
) -> None:
    response = await sandbox.post("/rest/posts", json=post_body("Atelier CV à Lyon"), headers=HEADERS)

    assert response.status == 201
    assert await response.read() == b""
    urn = response.headers["x-restli-id"]
    assert urn.startswith("urn:li:share:")
    read = await sandbox.get(f"/rest/posts/{quote(urn, safe='')}", headers=HEADERS)
    assert (await read.json())["commentary"] == "Atelier CV à Lyon"
    [post] = await received(network="linkedin")
    assert (post["account"], post["remote_id"]) == ("123", urn)


@pytest.mark.parametrize(
    ("drop", "set_to", "status", "code"),
    [
        ("LinkedIn-Version", None, 400, "VERSION_MISSING"),
        (None, ("LinkedIn-Version", "201901"), 426, "NONEXISTENT_VERSION"),
        (None, ("LinkedIn-Version", "209912"), 426, "NONEXISTENT_VERSION"),
        ("X-Restli-Protocol-Version", None, 400, "ILLEGAL_ARGUMENT"),
        ("Authorization", None, 401, "EMPTY_ACCESS_TOKEN"),
        (None, ("Authorization", "Bearer nope"), 401, "INVALID_ACCESS_TOKEN"),
        (None, ("Authorization", "Bearer sbx-expired-linkedin-123"), 401, "EXPIRED_ACCESS_TOKEN"),
    ],
)
async def test_headers_are_checked_as_documented(
    sandbox: Sandbox, drop: str | None, set_to: tuple[str, str] | None, status: int, code: str
) -> None:
    headers = {name: value for name, value in HEADERS.items() if name != drop}
    if set_to:
        headers[set_to[0]] = set_to[1]

    response = await sandbox.post("/rest/posts", json=post_body("x"), headers=headers)

    assert response.status == status
    body = await response.json()
    assert (body["status"], body["code"]) == (status, code)
    assert body["message"]


async def test_posting_as_another_organization_is_denied(sandbox: Sandbox) -> None:
    response = await sandbox.post(
        "/rest/posts", json=post_body("x", "urn:li:organization:999"), headers=HEADERS
    )

    assert response.status == 403
    assert (await response.json())["code"] == "ACCESS_DENIED"


async def test_missing_fields_are_listed_in_a_422(sandbox: Sandbox) -> None:
    response = await sandbox.post("/rest/posts", json={"author": "urn:li:organization:123"}, headers=HEADERS)

    assert response.status == 422
    message = (await response.json())["message"]
    assert "ERROR :: /commentary :: field is required but not found" in message
    assert "/lifecycleState" in message


async def test_an_unescaped_parenthesis_silently_truncates(sandbox: Sandbox, received: Received) -> None:
    response = await sandbox.post("/rest/posts", json=post_body("Atelier CV (lundi) à Lyon"), headers=HEADERS)

    assert response.status == 201
    read = await sandbox.get(
        f"/rest/posts/{quote(response.headers['x-restli-id'], safe='')}", headers=HEADERS
    )
    assert (await read.json())["commentary"] == "Atelier CV "
    assert [post["text"] for post in await received(network="linkedin")] == ["Atelier CV "]


async def test_escaped_text_survives_whole(sandbox: Sandbox, received: Received) -> None:
    response = await sandbox.post(
        "/rest/posts", json=post_body(r"Atelier CV \(lundi\) à Lyon"), headers=HEADERS
    )

    assert response.status == 201
    assert [post["text"] for post in await received(network="linkedin")] == ["Atelier CV (lundi) à Lyon"]


async def test_same_commentary_twice_is_a_duplicate(sandbox: Sandbox) -> None:
    await sandbox.post("/rest/posts", json=post_body("Forum emploi"), headers=HEADERS)

    response = await sandbox.post("/rest/posts", json=post_body("Forum emploi"), headers=HEADERS)

    assert response.status == 422
    assert "duplicate" in (await response.json())["message"]


@pytest.mark.parametrize(
    ("little", "kept", "shown"),
    [
        ("plain", "plain", "plain"),
        ("cut (here) and more", "cut ", "cut "),
        (r"kept \(here\) \\ \#tag", r"kept \(here\) \\ \#tag", r"kept (here) \ #tag"),
        (
            "Merci @[France Travail](urn:li:organization:1) !",
            "Merci @[France Travail](urn:li:organization:1) !",
            "Merci France Travail !",
        ),
        (r"{hashtag|\#|AvecPôleEmploi} ok", r"{hashtag|\#|AvecPôleEmploi} ok", "#AvecPôleEmploi ok"),
    ],
)
def test_little_text_reading(little: str, kept: str, shown: str) -> None:
    assert read_little_text(little) == (kept, shown)


async def test_missing_post_is_404(sandbox: Sandbox) -> None:
    response = await sandbox.get(f"/rest/posts/{quote('urn:li:share:1', safe='')}", headers=HEADERS)
    assert (response.status, (await response.json())["code"]) == (404, "NOT_FOUND")
