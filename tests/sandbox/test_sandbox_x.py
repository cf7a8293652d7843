"""The X emulator answers like X API v2: ids, problems, duplicate rule, rate-limit headers."""

from __future__ import annotations

import time

import pytest
from sandbox_kit import Arm, Received, Sandbox

from services.sandbox.x import weighted_length

LYON = {"Authorization": "Bearer sbx-x-lyon"}


async def test_post_is_created_with_201_and_rate_limit_headers(sandbox: Sandbox, received: Received) -> None:
    response = await sandbox.post("/2/tweets", json={"text": "Atelier CV à Lyon"}, headers=LYON)

    assert response.status == 201
    data = (await response.json())["data"]
    assert data["text"] == "Atelier CV à Lyon"
    assert data["id"].isdigit()
    assert response.headers["x-rate-limit-limit"] == "100"
    assert response.headers["x-rate-limit-remaining"] == "99"
    assert int(response.headers["x-rate-limit-reset"]) > time.time()
    [post] = await received(network="x")
    assert (post["account"], post["remote_id"], post["text"]) == ("lyon", data["id"], "Atelier CV à Lyon")


async def test_reply_is_linked_and_read_back(sandbox: Sandbox) -> None:
    first = await (await sandbox.post("/2/tweets", json={"text": "1/2"}, headers=LYON)).json()
    body = {"text": "2/2", "reply": {"in_reply_to_tweet_id": first["data"]["id"]}}
    second = await (await sandbox.post("/2/tweets", json=body, headers=LYON)).json()

    response = await sandbox.get(f"/2/tweets/{second['data']['id']}", headers=LYON)

    assert response.status == 200
    data = (await response.json())["data"]
    assert data["text"] == "2/2"
    assert data["in_reply_to_tweet_id"] == first["data"]["id"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Bearer sbx-mastodon-lyon"},
        {"Authorization": "Basic x"},
    ],
)
async def test_bad_tokens_get_401_problem_with_headers(sandbox: Sandbox, headers: dict[str, str]) -> None:
    response = await sandbox.post("/2/tweets", json={"text": "hello"}, headers=headers)

    assert response.status == 401
    assert await response.json() == {
        "title": "Unauthorized",
        "detail": "Unauthorized",
        "type": "about:blank",
        "status": 401,
    }
    assert "x-rate-limit-remaining" in response.headers


async def test_expired_token_is_unauthorized(sandbox: Sandbox) -> None:
    response = await sandbox.post(
        "/2/tweets", json={"text": "hello"}, headers={"Authorization": "Bearer sbx-expired-x-lyon"}
    )
    assert response.status == 401


async def test_same_text_twice_on_one_account_is_a_duplicate(sandbox: Sandbox, received: Received) -> None:
    assert (await sandbox.post("/2/tweets", json={"text": "Salon emploi"}, headers=LYON)).status == 201

    again = await sandbox.post("/2/tweets", json={"text": "Salon emploi"}, headers=LYON)
    other_account = await sandbox.post(
        "/2/tweets", json={"text": "Salon emploi"}, headers={"Authorization": "Bearer sbx-x-paris"}
    )

    assert again.status == 403
    assert "duplicate content" in (await again.json())["detail"]
    assert other_account.status == 201
    assert len(await received(network="x", account="lyon")) == 1


@pytest.mark.parametrize(
    ("text", "status"),
    [("é" * 280, 201), ("é" * 281, 400), ("日" * 140, 201), ("日" * 141, 400), ("", 400), ("a\ufeffb", 400)],
)
async def test_length_and_content_are_validated(sandbox: Sandbox, text: str, status: int) -> None:
    response = await sandbox.post("/2/tweets", json={"text": text}, headers=LYON)

    assert response.status == status
    if status == 400:
        assert (await response.json())["type"] == "https://api.x.com/2/problems/invalid-request"


async def test_form_bodies_are_refused(sandbox: Sandbox) -> None:
    response = await sandbox.post("/2/tweets", data={"text": "hello"}, headers=LYON)
    assert response.status == 400


async def test_reply_to_an_unknown_post_is_forbidden(sandbox: Sandbox) -> None:
    body = {"text": "hello", "reply": {"in_reply_to_tweet_id": "123"}}
    response = await sandbox.post("/2/tweets", json=body, headers=LYON)

    assert response.status == 403
    assert "deleted or not visible" in (await response.json())["detail"]


async def test_missing_post_lookup_answers_200_with_errors(sandbox: Sandbox) -> None:
    response = await sandbox.get("/2/tweets/42", headers=LYON)

    assert response.status == 200
    assert (await response.json())["errors"][0]["type"] == "https://api.x.com/2/problems/resource-not-found"


async def test_users_me_names_the_account(sandbox: Sandbox) -> None:
    data = (await (await sandbox.get("/2/users/me", headers=LYON)).json())["data"]
    assert data["username"] == "lyon"
    assert data["id"].isdigit()


async def test_the_101st_post_in_15_minutes_is_rate_limited(sandbox: Sandbox) -> None:
    for number in range(100):
        response = await sandbox.post("/2/tweets", json={"text": f"post {number}"}, headers=LYON)
        assert response.status == 201

    response = await sandbox.post("/2/tweets", json={"text": "one too many"}, headers=LYON)

    assert response.status == 429
    assert response.headers["x-rate-limit-remaining"] == "0"
    assert (await response.json())["title"] == "Too Many Requests"


async def test_rate_limit_fault_reports_the_reset_time(sandbox: Sandbox, arm: Arm) -> None:
    await arm("x", "lyon", "rate_limit", seconds=120)

    limited = await sandbox.post("/2/tweets", json={"text": "hello"}, headers=LYON)
    after = await sandbox.post("/2/tweets", json={"text": "hello"}, headers=LYON)

    assert limited.status == 429
    assert limited.headers["x-rate-limit-remaining"] == "0"
    assert 110 < int(limited.headers["x-rate-limit-reset"]) - time.time() <= 121
    assert after.status == 201


@pytest.mark.parametrize(
    ("text", "length"),
    [
        ("abc", 3),
        ("日本", 4),
        ("👍🏽", 2),
        ("👨\u200d👩\u200d👧", 2),
        ("🇫🇷", 2),
        ("a\u202f!", 4),
        ("…€", 4),
        ("voir https://www.francetravail.fr/candidat/offres/recherche?motsCles=cuisinier", 28),
        ("voir francetravail.fr/offres", 28),
        ("fin https://example.com.", 28),
    ],
)
def test_weighted_length_follows_twitter_text_weights(text: str, length: int) -> None:
    assert weighted_length(text) == length
