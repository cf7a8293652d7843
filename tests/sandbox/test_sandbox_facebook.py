"""The Facebook emulator answers like the Graph API: ids, error codes, usage headers."""

from __future__ import annotations

import json

import pytest
from sandbox_kit import Arm, Received, Sandbox

TOKEN = "sbx-facebook-1234"


@pytest.mark.parametrize("path", ["/v21.0/1234/feed", "/1234/feed"])
async def test_post_with_and_without_version(sandbox: Sandbox, path: str) -> None:
    response = await sandbox.post(path, data={"message": "Forum emploi", "access_token": TOKEN})

    assert response.status == 200
    post_id = (await response.json())["id"]
    assert post_id.startswith("1234_")
    usage = json.loads(response.headers["X-Page-Usage"])
    assert set(usage) >= {"call_count", "total_cputime", "total_time"}
    assert "call_count" in json.loads(response.headers["X-App-Usage"])


async def test_token_in_query_or_header(sandbox: Sandbox) -> None:
    by_query = await sandbox.post("/1234/feed", params={"access_token": TOKEN, "message": "one"})
    by_header = await sandbox.post(
        "/1234/feed", data={"message": "two"}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert (by_query.status, by_header.status) == (200, 200)


async def test_the_token_is_never_stored(sandbox: Sandbox, received: Received) -> None:
    await sandbox.post(
        "/1234/feed", data={"message": "hello", "link": "https://example.org/a", "access_token": TOKEN}
    )

    [post] = await received(network="facebook")

    assert post["body"] == {"message": "hello", "link": "https://example.org/a"}
    assert TOKEN not in json.dumps(post)


@pytest.mark.parametrize(
    ("token", "code", "subcode"),
    [(None, 104, None), ("nope", 190, None), ("sbx-expired-facebook-1234", 190, 463)],
)
async def test_token_errors(sandbox: Sandbox, token: str | None, code: int, subcode: int | None) -> None:
    data = {"message": "x"} | ({"access_token": token} if token else {})

    response = await sandbox.post("/v21.0/1234/feed", data=data)

    assert response.status == 400
    error = (await response.json())["error"]
    assert (error["type"], error["code"], error.get("error_subcode")) == ("OAuthException", code, subcode)
    assert error["fbtrace_id"]


async def test_posting_to_another_page_is_a_permission_error(sandbox: Sandbox) -> None:
    response = await sandbox.post("/9999/feed", data={"message": "x", "access_token": TOKEN})
    assert (response.status, (await response.json())["error"]["code"]) == (403, 200)


@pytest.mark.parametrize(
    "data",
    [{}, {"message": "x", "link": "not a url"}, {"message": "x" * 63207}],
    ids=["empty", "bad-link", "too-long"],
)
async def test_invalid_parameters_are_code_100(sandbox: Sandbox, data: dict[str, str]) -> None:
    response = await sandbox.post("/1234/feed", data={**data, "access_token": TOKEN})
    assert (response.status, (await response.json())["error"]["code"]) == (400, 100)


async def test_repeating_the_latest_post_is_a_duplicate(sandbox: Sandbox) -> None:
    await sandbox.post("/1234/feed", data={"message": "A", "access_token": TOKEN})
    duplicate = await sandbox.post("/1234/feed", data={"message": "A", "access_token": TOKEN})
    await sandbox.post("/1234/feed", data={"message": "B", "access_token": TOKEN})
    not_consecutive = await sandbox.post("/1234/feed", data={"message": "A", "access_token": TOKEN})

    assert (await duplicate.json())["error"]["code"] == 506
    assert not_consecutive.status == 200


async def test_rate_limit_and_block_faults(sandbox: Sandbox, arm: Arm) -> None:
    await arm("facebook", "1234", "rate_limit", seconds=600)
    limited = await sandbox.post("/1234/feed", data={"message": "x", "access_token": TOKEN})
    await arm("facebook", "1234", "blocked")
    blocked = await sandbox.post("/1234/feed", data={"message": "x", "access_token": TOKEN})

    assert (await limited.json())["error"]["code"] == 32
    assert json.loads(limited.headers["X-Page-Usage"])["estimated_time_to_regain_access"] == 10
    assert (await blocked.json())["error"]["code"] == 368


async def test_feed_and_post_are_read_back(sandbox: Sandbox) -> None:
    first = (await (await sandbox.post("/1234/feed", data={"message": "un", "access_token": TOKEN})).json())[
        "id"
    ]
    await sandbox.post("/1234/feed", data={"message": "deux", "access_token": TOKEN})

    feed = await (await sandbox.get("/v21.0/1234/feed", params={"access_token": TOKEN})).json()
    post = await (await sandbox.get(f"/{first}", params={"access_token": TOKEN})).json()
    missing = await sandbox.get("/1234_1", params={"access_token": TOKEN})

    assert [item["message"] for item in feed["data"]] == ["deux", "un"]
    assert (post["id"], post["message"]) == (first, "un")
    assert post["created_time"].endswith("+0000")
    assert (await missing.json())["error"]["error_subcode"] == 33
