"""The Mastodon emulator answers like Mastodon: Status entities, idempotency, limits, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sandbox_kit import Arm, Received, Sandbox

from services.sandbox.mastodon import status_length
from services.sandbox.store import STORE

LYON = {"Authorization": "Bearer sbx-mastodon-lyon"}
VECTORS = json.loads((Path(__file__).parent / "data" / "mastodon_status_length_vectors.json").read_text())


async def test_form_post_returns_a_status_entity(sandbox: Sandbox) -> None:
    response = await sandbox.post(
        "/api/v1/statuses", data={"status": "Salut & <b>bienvenue</b>"}, headers=LYON
    )

    assert response.status == 200
    status = await response.json()
    assert status["content"] == "<p>Salut &amp; &lt;b&gt;bienvenue&lt;/b&gt;</p>"
    assert status["account"]["username"] == "lyon"
    assert status["url"].endswith(f"/@lyon/{status['id']}")
    assert status["uri"].endswith(f"/users/lyon/statuses/{status['id']}")
    assert datetime.strptime(status["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert status["visibility"] == "public"
    reset = datetime.fromisoformat(response.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
    assert reset > datetime.now(UTC)
    assert response.headers["X-RateLimit-Remaining"] == "299"


async def test_json_reply_is_linked_and_read_back(sandbox: Sandbox) -> None:
    first = await (await sandbox.post("/api/v1/statuses", json={"status": "1/2"}, headers=LYON)).json()
    body = {
        "status": "2/2",
        "in_reply_to_id": first["id"],
        "spoiler_text": "emploi",
        "visibility": "unlisted",
    }
    second = await (await sandbox.post("/api/v1/statuses", json=body, headers=LYON)).json()

    read = await (await sandbox.get(f"/api/v1/statuses/{second['id']}")).json()

    assert read["in_reply_to_id"] == first["id"]
    assert (read["spoiler_text"], read["visibility"]) == ("emploi", "unlisted")


async def test_same_idempotency_key_returns_the_same_status(sandbox: Sandbox, received: Received) -> None:
    headers = {**LYON, "Idempotency-Key": "delivery-1"}
    first = await (await sandbox.post("/api/v1/statuses", json={"status": "Forum"}, headers=headers)).json()
    again = await (
        await sandbox.post("/api/v1/statuses", json={"status": "Forum (bis)"}, headers=headers)
    ).json()
    other_key = await sandbox.post(
        "/api/v1/statuses", json={"status": "Forum"}, headers={**LYON, "Idempotency-Key": "delivery-2"}
    )
    other_account = await sandbox.post(
        "/api/v1/statuses",
        json={"status": "Forum"},
        headers={"Authorization": "Bearer sbx-mastodon-paris", "Idempotency-Key": "delivery-1"},
    )

    assert again["id"] == first["id"]
    assert again["content"] == "<p>Forum</p>"
    assert (await other_key.json())["id"] != first["id"]
    assert (await other_account.json())["id"] != first["id"]
    assert [post["idempotency_key"] for post in await received(account="lyon")] == [
        "delivery-1",
        "delivery-2",
    ]


async def test_idempotency_keys_expire_after_one_hour(sandbox: Sandbox, received: Received) -> None:
    sandbox.app[STORE].add(
        network="mastodon",
        account="lyon",
        remote_id="1",
        text="old",
        body={},
        idempotency_key="k",
        received_at=datetime.now(UTC) - timedelta(hours=1, minutes=1),
    )

    status = await (
        await sandbox.post(
            "/api/v1/statuses", json={"status": "new"}, headers={**LYON, "Idempotency-Key": "k"}
        )
    ).json()

    assert status["id"] != "1"
    assert len(await received(network="mastodon")) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"status": "a" * 501}, "Validation failed: Text character limit of 500 exceeded"),
        (
            {"status": "a" * 251, "spoiler_text": "b" * 250},
            "Validation failed: Text character limit of 500 exceeded",
        ),
        ({"status": "  "}, "Validation failed: Text can't be blank"),
        (
            {"status": "hi", "visibility": "everyone"},
            "Validation failed: Visibility is not included in the list",
        ),
    ],
)
async def test_invalid_statuses_get_422(sandbox: Sandbox, body: dict[str, Any], message: str) -> None:
    response = await sandbox.post("/api/v1/statuses", json=body, headers=LYON)

    assert response.status == 422
    assert await response.json() == {"error": message}


async def test_reply_to_an_unknown_status_is_404(sandbox: Sandbox) -> None:
    response = await sandbox.post(
        "/api/v1/statuses", json={"status": "x", "in_reply_to_id": "9"}, headers=LYON
    )
    assert (response.status, await response.json()) == (404, {"error": "Record not found"})


@pytest.mark.parametrize(
    ("token", "message"),
    [("nope", "The access token is invalid"), ("sbx-expired-mastodon-lyon", "The access token was revoked")],
)
async def test_bad_tokens_get_401(sandbox: Sandbox, token: str, message: str) -> None:
    response = await sandbox.post(
        "/api/v1/statuses", json={"status": "x"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert (response.status, await response.json()) == (401, {"error": message})


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[case["id"] for case in VECTORS["cases"]])
def test_length_follows_mastodons_own_validator_cases(case: dict[str, Any]) -> None:
    assert (status_length(case["text"], case["spoiler_text"]) <= VECTORS["max_chars"]) is case[
        "expected_valid"
    ]


async def test_rate_limit_fault_gives_429_with_iso_reset(sandbox: Sandbox, arm: Arm) -> None:
    await arm("mastodon", "lyon", "rate_limit", seconds=300)

    response = await sandbox.post("/api/v1/statuses", json={"status": "x"}, headers=LYON)

    assert (response.status, await response.json()) == (429, {"error": "Too many requests"})
    reset = datetime.fromisoformat(response.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))
    assert timedelta(seconds=290) < reset - datetime.now(UTC) <= timedelta(seconds=301)


async def test_credentials_and_instance_configuration(sandbox: Sandbox) -> None:
    account = await (await sandbox.get("/api/v1/accounts/verify_credentials", headers=LYON)).json()
    instance = await (await sandbox.get("/api/v2/instance")).json()

    assert account["acct"] == "lyon"
    assert instance["configuration"]["statuses"]["max_characters"] == 500
    assert instance["configuration"]["statuses"]["characters_reserved_per_url"] == 23
