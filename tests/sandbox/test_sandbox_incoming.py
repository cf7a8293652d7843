"""Incoming traffic on demand, and Mastodon's notifications as the documentation describes them.

Expected answers come from docs.joinmastodon.org (Methods › notifications, API › paginating), written
here by hand: newest first; `min_id` gives the page right after it; a `Link` header with `next`
(`max_id` of the oldest shown) and `prev` (`min_id` of the newest); `types[]` filters.
"""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_kit import Arm, Sandbox

LYON = {"Authorization": "Bearer sbx-mastodon-lyon"}


async def generate(sandbox: Sandbox, **body: Any) -> list[dict[str, Any]]:
    response = await sandbox.post(
        "/_sandbox/incoming", json={"network": "mastodon", "account": "lyon"} | body
    )
    assert response.status == 201, await response.text()
    items: list[dict[str, Any]] = (await response.json())["items"]
    return items


@pytest.mark.parametrize(
    "body",
    [
        {"network": "youtube", "account": "lyon"},  # YouTube has its own comment writer
        {"network": "nope", "account": "lyon"},
        {"network": "mastodon"},
        {"network": "mastodon", "account": "lyon", "count": 0},
        {"network": "mastodon", "account": "lyon", "count": -1},
        {"network": "mastodon", "account": "lyon", "count": 1001},
        {"network": "mastodon", "account": "lyon", "count": True},
        {"network": "mastodon", "account": "lyon", "count": 1, "duplicates": 2},
        {"network": "mastodon", "account": "lyon", "texts": "not a list"},
        {"network": "mastodon", "account": "lyon", "texts": [1]},
        {"network": "mastodon", "account": "lyon", "reply_to": "424242"},  # no such status
        {"network": "mastodon", "account": "lyon", "author": 3},
    ],
)
async def test_the_generator_refuses_what_it_cannot_make(sandbox: Sandbox, body: dict[str, Any]) -> None:
    response = await sandbox.post("/_sandbox/incoming", json=body)
    assert response.status == 400
    assert isinstance((await response.json())["error"], str)


@pytest.mark.parametrize(
    "route", ["/_sandbox/incoming", "/_sandbox/incoming/again", "/_sandbox/incoming/purge"]
)
async def test_the_generator_refuses_a_body_that_is_not_an_object(sandbox: Sandbox, route: str) -> None:
    response = await sandbox.post(route, data=b"[1]", headers={"Content-Type": "application/json"})
    assert response.status == 400
    refused = await sandbox.post(
        route, json={"network": "youtube", "account": "lyon", "notification_ids": ["1"]}
    )
    assert refused.status == 400


async def test_notifications_are_the_accounts_own_newest_first_with_links(sandbox: Sandbox) -> None:
    made = await generate(sandbox, count=3)
    await generate(sandbox, account="marseille", count=2)

    response = await sandbox.get("/api/v1/notifications", params={"limit": "2"}, headers=LYON)

    assert response.status == 200
    listed = await response.json()
    assert [n["id"] for n in listed] == [made[2]["notification_id"], made[1]["notification_id"]]
    assert {n["type"] for n in listed} == {"mention"}
    assert listed[0]["status"]["id"] == made[2]["item_id"]
    link = response.headers["Link"]
    assert f'max_id={made[1]["notification_id"]}>; rel="next"' in link
    assert f'min_id={made[2]["notification_id"]}>; rel="prev"' in link
    assert int(response.headers["X-RateLimit-Remaining"]) < 300  # reads count in the account's window


async def test_min_id_gives_the_page_right_after_it(sandbox: Sandbox) -> None:
    made = await generate(sandbox, count=5)
    params = {"min_id": made[0]["notification_id"], "limit": "2"}

    listed = await (await sandbox.get("/api/v1/notifications", params=params, headers=LYON)).json()

    assert [n["id"] for n in listed] == [made[2]["notification_id"], made[1]["notification_id"]]


async def test_other_types_asked_for_show_no_mention(sandbox: Sandbox) -> None:
    await generate(sandbox, count=2)
    only_follows = await sandbox.get("/api/v1/notifications", params={"types[]": "follow"}, headers=LYON)
    assert await only_follows.json() == []
    assert "Link" not in only_follows.headers


async def test_duplicates_and_again_notify_the_same_status_under_new_ids(sandbox: Sandbox) -> None:
    made = await generate(sandbox, count=2, duplicates=1)
    response = await sandbox.post("/_sandbox/incoming/again", json={"network": "mastodon", "account": "lyon"})
    assert response.status == 201
    again = (await response.json())["items"]

    assert [item["item_id"] for item in made] == [made[0]["item_id"], made[1]["item_id"], made[0]["item_id"]]
    assert [item["item_id"] for item in again] == [item["item_id"] for item in made]
    notifications = [item["notification_id"] for item in (*made, *again)]
    assert len(set(notifications)) == len(notifications)


async def test_a_reply_answers_a_status_of_the_account(sandbox: Sandbox) -> None:
    ours = await (await sandbox.post("/api/v1/statuses", json={"status": "Forum"}, headers=LYON)).json()
    [reply] = await generate(sandbox, texts=["Où ?"], reply_to=ours["id"], author="ana")

    [notification] = await (await sandbox.get("/api/v1/notifications", headers=LYON)).json()

    status = notification["status"]
    assert (status["id"], status["in_reply_to_id"]) == (reply["item_id"], ours["id"])
    assert status["account"]["acct"] == "ana@citoyens.example"
    assert "Où ?" in status["content"]


async def test_read_faults_are_armed_apart_and_only_before_creation(sandbox: Sandbox, arm: Arm) -> None:
    refused = await sandbox.post(
        "/_sandbox/faults",
        json={
            "network": "mastodon",
            "account": "lyon",
            "mode": "disconnect_after_create",
            "on": "read_comments",
        },
    )
    assert refused.status == 400
    await arm("mastodon", "lyon", "server_error", on="read_comments")

    posted = await sandbox.post("/api/v1/statuses", json={"status": "Forum"}, headers=LYON)
    read = await sandbox.get("/api/v1/notifications", headers=LYON)
    again = await sandbox.get("/api/v1/notifications", headers=LYON)

    assert (posted.status, read.status, again.status) == (200, 503, 200)


async def test_notifications_need_the_accounts_token(sandbox: Sandbox) -> None:
    assert (await sandbox.get("/api/v1/notifications")).status == 401
    bad = {"Authorization": "Bearer sbx-expired-lyon"}
    assert (await sandbox.get("/api/v1/notifications", headers=bad)).status == 401


BLUESKY = {"Authorization": "Bearer sbx-bluesky-lyon"}
LIST_NOTIFICATIONS = "/xrpc/app.bsky.notification.listNotifications"


async def test_bluesky_notifications_page_back_in_time(sandbox: Sandbox) -> None:
    made = await generate(sandbox, network="bluesky", count=3)

    first = await (await sandbox.get(LIST_NOTIFICATIONS, params={"limit": "2"}, headers=BLUESKY)).json()
    rest = await (
        await sandbox.get(
            LIST_NOTIFICATIONS, params={"limit": "2", "cursor": first["cursor"]}, headers=BLUESKY
        )
    ).json()

    assert [n["uri"] for n in first["notifications"]] == [made[2]["item_id"], made[1]["item_id"]]
    assert first["cursor"] == first["notifications"][-1]["indexedAt"]
    assert [n["uri"] for n in rest["notifications"]] == [made[0]["item_id"]] and "cursor" not in rest
    assert {n["reason"] for n in first["notifications"]} == {"mention"}
    indexed = [n["indexedAt"] for n in (*first["notifications"], *rest["notifications"])]
    assert indexed == sorted(set(indexed), reverse=True)  # every one its own instant


async def test_bluesky_replies_name_their_thread_and_reasons_filter(sandbox: Sandbox) -> None:
    ours = await (
        await sandbox.post(
            "/xrpc/com.atproto.repo.createRecord",
            json={
                "repo": "lyon.bsky.social",
                "collection": "app.bsky.feed.post",
                "record": {"text": "Forum", "createdAt": "2026-12-01T10:00:00.000Z"},
            },
            headers=BLUESKY,
        )
    ).json()
    [reply] = await generate(sandbox, network="bluesky", texts=["Où ?"], reply_to=ours["uri"])
    [nested] = await generate(sandbox, network="bluesky", texts=["Salle 2"], reply_to=reply["item_id"])
    await generate(sandbox, network="bluesky", count=1)

    only_replies = await (
        await sandbox.get(LIST_NOTIFICATIONS, params={"reasons": "reply"}, headers=BLUESKY)
    ).json()

    inner, outer = only_replies["notifications"]
    assert (inner["uri"], outer["uri"]) == (nested["item_id"], reply["item_id"])
    assert outer["record"]["reply"]["parent"] == {"uri": ours["uri"], "cid": ours["cid"]}
    assert inner["record"]["reply"]["root"] == {"uri": ours["uri"], "cid": ours["cid"]}
    assert inner["record"]["reply"]["parent"]["uri"] == reply["item_id"]


async def test_bluesky_refuses_a_malformed_cursor_and_a_missing_session(sandbox: Sandbox) -> None:
    malformed = await sandbox.get(LIST_NOTIFICATIONS, params={"cursor": "not-a-time"}, headers=BLUESKY)
    assert malformed.status == 400 and (await malformed.json())["message"] == "Malformed cursor"
    assert (await sandbox.get(LIST_NOTIFICATIONS)).status == 401


X_LYON = {"Authorization": "Bearer sbx-x-lyon"}


async def test_x_mentions_newer_than_since_id_each_once_with_their_thread(sandbox: Sandbox) -> None:
    ours = await (await sandbox.post("/2/tweets", json={"text": "Forum"}, headers=X_LYON)).json()
    me = (await (await sandbox.get("/2/users/me", headers=X_LYON)).json())["data"]["id"]
    [first] = await generate(sandbox, network="x", count=1)
    reply, _ = await generate(sandbox, network="x", texts=["Où ?"], reply_to=ours["data"]["id"], duplicates=1)
    params = {
        "since_id": first["item_id"],
        "expansions": "referenced_tweets.id,author_id",
        "tweet.fields": "conversation_id,in_reply_to_user_id,referenced_tweets",
    }

    body = await (await sandbox.get(f"/2/users/{me}/mentions", params=params, headers=X_LYON)).json()

    [post] = body["data"]  # newer than since_id, and listed once though notified twice
    assert post["id"] == reply["item_id"] and post["conversation_id"] == ours["data"]["id"]
    assert post["referenced_tweets"] == [{"type": "replied_to", "id": ours["data"]["id"]}]
    assert post["in_reply_to_user_id"] == me and "created_at" not in post  # only the fields asked for
    assert [t["id"] for t in body["includes"]["tweets"]] == [ours["data"]["id"]]
    assert body["meta"] == {"result_count": 1, "newest_id": post["id"], "oldest_id": post["id"]}
    other = await sandbox.get("/2/users/123/mentions", headers=X_LYON)
    assert other.status == 403
    bad = await sandbox.get(f"/2/users/{me}/mentions", params={"since_id": "abc"}, headers=X_LYON)
    assert bad.status == 400
