"""The Bluesky emulator answers like a PDS: sessions, records, record keys, XRPC errors."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from sandbox_kit import Arm, Received, Sandbox

POST = "app.bsky.feed.post"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def login(
    sandbox: Sandbox, identifier: str = "lyon", password: str = "sbx-bluesky-lyon"
) -> dict[str, Any]:
    response = await sandbox.post(
        "/xrpc/com.atproto.server.createSession", json={"identifier": identifier, "password": password}
    )
    assert response.status == 200, await response.text()
    session: dict[str, Any] = await response.json()
    return session


async def create(sandbox: Sandbox, session: dict[str, Any], text: str, **extra: Any) -> Any:
    body = {"repo": session["did"], "collection": POST, "record": {"text": text, "createdAt": now()}, **extra}
    return await sandbox.post(
        "/xrpc/com.atproto.repo.createRecord",
        json=body,
        headers={"Authorization": f"Bearer {session['accessJwt']}"},
    )


async def test_sessions_name_the_same_did_for_account_and_handle(sandbox: Sandbox) -> None:
    by_name, by_handle = await login(sandbox), await login(sandbox, "lyon.bsky.social")

    assert by_name["did"] == by_handle["did"]
    assert re.fullmatch(r"did:plc:[a-z2-7]{24}", by_name["did"])
    assert by_name["handle"] == "lyon.bsky.social"
    assert by_name["accessJwt"] != by_name["refreshJwt"]


async def test_the_password_may_name_the_full_handle(sandbox: Sandbox) -> None:
    session = await login(sandbox, "ft-lyon.bsky.social", "sbx-bluesky-ft-lyon.bsky.social")
    assert session["handle"] == "ft-lyon.bsky.social"


async def test_wrong_password_is_401_authentication_required(sandbox: Sandbox) -> None:
    for password in ("wrong", "sbx-expired-bluesky-lyon"):
        response = await sandbox.post(
            "/xrpc/com.atproto.server.createSession", json={"identifier": "lyon", "password": password}
        )
        assert response.status == 401
        assert await response.json() == {
            "error": "AuthenticationRequired",
            "message": "Invalid identifier or password",
        }


async def test_create_record_answers_uri_cid_and_rate_headers(sandbox: Sandbox, received: Received) -> None:
    session = await login(sandbox)

    response = await create(sandbox, session, "Atelier CV")

    assert response.status == 200
    body = await response.json()
    assert re.fullmatch(rf"at://{session['did']}/{POST}/[2-7a-j][2-7a-z]{{12}}", body["uri"])
    assert body["cid"].startswith("bafyrei")
    assert body["validationStatus"] == "valid"
    assert response.headers["ratelimit-policy"] == "5000;w=3600"
    assert response.headers["ratelimit-remaining"] == "4997"
    [post] = await received(network="bluesky")
    assert (post["remote_id"], post["text"], post["account"]) == (body["uri"], "Atelier CV", "lyon")


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [
        ({}, 401, "AuthenticationRequired"),
        ({"Authorization": "Bearer not-a-jwt"}, 400, "InvalidToken"),
        ({"Authorization": "Bearer sbx-expired-bluesky-lyon"}, 400, "ExpiredToken"),
    ],
)
async def test_bad_tokens_get_xrpc_errors(
    sandbox: Sandbox, headers: dict[str, str], status: int, error: str
) -> None:
    body = {"repo": "lyon.bsky.social", "collection": POST, "record": {"text": "x", "createdAt": now()}}
    response = await sandbox.post("/xrpc/com.atproto.repo.createRecord", json=body, headers=headers)

    assert response.status == status
    assert (await response.json())["error"] == error


async def test_refresh_token_is_not_an_access_token(sandbox: Sandbox) -> None:
    session = await login(sandbox)
    response = await create(sandbox, {**session, "accessJwt": session["refreshJwt"]}, "x")
    assert (response.status, (await response.json())["error"]) == (400, "InvalidToken")


async def test_refresh_session_gives_working_tokens(sandbox: Sandbox) -> None:
    session = await login(sandbox)
    response = await sandbox.post(
        "/xrpc/com.atproto.server.refreshSession",
        headers={"Authorization": f"Bearer {session['refreshJwt']}"},
    )
    refreshed = await response.json()

    assert refreshed["did"] == session["did"]
    assert (await create(sandbox, refreshed, "after refresh")).status == 200


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("é" * 301, "grapheme too big (maximum 300, got 301)"),
        ("👨\u200d👩\u200d👧\u200d👦" * 130, "string too big (maximum 3000, got 3250)"),
    ],
)
async def test_text_limits_are_enforced(sandbox: Sandbox, text: str, message: str) -> None:
    response = await create(sandbox, await login(sandbox), text)

    assert response.status == 400
    body = await response.json()
    assert body["error"] == "InvalidRequest"
    assert message in body["message"]


async def test_three_hundred_graphemes_fit(sandbox: Sandbox) -> None:
    assert (await create(sandbox, await login(sandbox), "👍🏽" * 300)).status == 200


async def test_validate_false_is_accepted_and_recorded(sandbox: Sandbox, received: Received) -> None:
    response = await create(sandbox, await login(sandbox), "é" * 400, validate=False)

    assert response.status == 200
    assert (await response.json())["validationStatus"] == "unknown"
    [post] = await received(network="bluesky")
    assert post["body"]["validate"] is False


async def test_an_existing_rkey_cannot_be_created_again(sandbox: Sandbox, received: Received) -> None:
    session = await login(sandbox)
    first = await create(sandbox, session, "once", rkey="3jzfcijpj2z2a")

    again = await create(sandbox, session, "twice", rkey="3jzfcijpj2z2a")

    assert first.status == 200
    assert (await first.json())["uri"].endswith("/3jzfcijpj2z2a")
    assert again.status == 400
    assert "already exists" in (await again.json())["message"]
    assert [post["text"] for post in await received(network="bluesky")] == ["once"]


@pytest.mark.parametrize("rkey", [".", "..", "has space", "x" * 513])
async def test_invalid_record_keys_are_refused(sandbox: Sandbox, rkey: str) -> None:
    response = await create(sandbox, await login(sandbox), "x", rkey=rkey)
    assert response.status == 400


async def test_bad_facet_uri_is_refused(sandbox: Sandbox) -> None:
    session = await login(sandbox)
    facet = {
        "index": {"byteStart": 0, "byteEnd": 4},
        "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "no uri"}],
    }
    body = {
        "repo": session["did"],
        "collection": POST,
        "record": {"text": "lien", "createdAt": now(), "facets": [facet]},
    }

    response = await sandbox.post(
        "/xrpc/com.atproto.repo.createRecord",
        json=body,
        headers={"Authorization": f"Bearer {session['accessJwt']}"},
    )

    assert response.status == 400
    assert "uri" in (await response.json())["message"]


async def test_writing_to_another_repo_is_refused(sandbox: Sandbox) -> None:
    session = await login(sandbox)
    response = await create(
        sandbox, {**session, "did": (await login(sandbox, "paris", "sbx-bluesky-paris"))["did"]}, "x"
    )
    assert response.status == 401


async def test_records_are_read_back(sandbox: Sandbox) -> None:
    session = await login(sandbox)
    first = await (await create(sandbox, session, "one")).json()
    await create(sandbox, session, "two")
    rkey = first["uri"].rsplit("/", 1)[1]

    found = await sandbox.get(
        "/xrpc/com.atproto.repo.getRecord", params={"repo": session["did"], "collection": POST, "rkey": rkey}
    )
    missing = await sandbox.get(
        "/xrpc/com.atproto.repo.getRecord",
        params={"repo": "lyon.bsky.social", "collection": POST, "rkey": "3zzzzzzzzzzzz"},
    )
    listed = await sandbox.get(
        "/xrpc/com.atproto.repo.listRecords", params={"repo": "lyon.bsky.social", "collection": POST}
    )

    assert (await found.json())["value"]["text"] == "one"
    assert (await found.json())["cid"] == first["cid"]
    assert (missing.status, (await missing.json())["error"]) == (400, "RecordNotFound")
    assert [record["value"]["text"] for record in (await listed.json())["records"]] == ["two", "one"]


async def test_logins_are_rate_limited_per_account(sandbox: Sandbox) -> None:
    for _ in range(30):
        await login(sandbox)

    response = await sandbox.post(
        "/xrpc/com.atproto.server.createSession", json={"identifier": "lyon", "password": "sbx-bluesky-lyon"}
    )

    assert response.status == 429
    assert (await response.json())["error"] == "RateLimitExceeded"
    assert response.headers["ratelimit-remaining"] == "0"
    assert response.headers["ratelimit-policy"] == "30;w=300"


async def test_expired_token_fault_answers_expired_token(sandbox: Sandbox, arm: Arm) -> None:
    session = await login(sandbox)
    await arm("bluesky", "lyon", "expired_token")

    response = await create(sandbox, session, "x")

    assert (response.status, (await response.json())["error"]) == (400, "ExpiredToken")
    assert (await create(sandbox, session, "x")).status == 200
