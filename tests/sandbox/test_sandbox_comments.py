"""The YouTube and LinkedIn emulators' comment reads, asked directly as a client (or an attacker)
would: each answers only its caller's own channel or organization, in the network's error shapes,
pages as documented, and the sandbox-only writers refuse what they cannot make."""

from __future__ import annotations

from typing import Any

import pytest
from sandbox_kit import Arm, Sandbox
from yarl import URL

YT = {"Authorization": "Bearer sbx-youtube-lyon"}
LI_VERSION = {"LinkedIn-Version": "202601", "X-Restli-Protocol-Version": "2.0.0"}


def linkedin(account: str) -> dict[str, str]:
    return {"Authorization": f"Bearer sbx-linkedin-{account}", **LI_VERSION}


async def _video(sandbox: Sandbox, headers: dict[str, str] = YT) -> str:
    started = await sandbox.post(
        "/upload/youtube/v3/videos",
        params={"uploadType": "resumable", "part": "snippet,status"},
        headers={**headers, "X-Upload-Content-Length": "4", "X-Upload-Content-Type": "video/mp4"},
        json={"snippet": {"title": "Atelier", "description": "Atelier CV"}},
    )
    assert started.status == 200, await started.text()
    location = URL(started.headers["Location"])
    done = await sandbox.put(location.path_qs, headers=headers, data=b"mp4!")
    assert done.status == 201
    video: str = (await done.json())["id"]
    return video


async def _channel(sandbox: Sandbox, headers: dict[str, str] = YT) -> str:
    answer = await sandbox.get("/youtube/v3/channels", params={"part": "id", "mine": "true"}, headers=headers)
    channel: str = (await answer.json())["items"][0]["id"]
    return channel


def _google_error(body: dict[str, Any], code: int, reason: str) -> None:
    assert body["error"]["code"] == code
    assert body["error"]["errors"][0]["reason"] == reason
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


async def test_youtube_threads_page_newest_first_with_their_replies(sandbox: Sandbox) -> None:
    video = await _video(sandbox)
    channel = await _channel(sandbox)
    written = []
    for minute in range(3):
        answer = await sandbox.post(
            "/_sandbox/youtube/comments",
            json={"account": "lyon", "count": 1, "published_at": f"2026-12-01T09:0{minute}:00+01:00"},
        )
        assert answer.status == 201
        written += (await answer.json())["items"]
    replies = await sandbox.post(
        "/_sandbox/youtube/comments", json={"account": "lyon", "reply_to": written[0]["id"], "count": 6}
    )
    assert replies.status == 201
    query = {"part": "snippet,replies", "allThreadsRelatedToChannelId": channel, "maxResults": "2"}

    first = await (await sandbox.get("/youtube/v3/commentThreads", params=query, headers=YT)).json()
    assert [t["id"] for t in first["items"]] == [written[2]["id"], written[1]["id"]]
    assert first["items"][0]["snippet"]["topLevelComment"]["snippet"]["publishedAt"] == "2026-12-01T08:02:00Z"
    assert first["items"][0]["snippet"]["videoId"] == video
    second = await (
        await sandbox.get(
            "/youtube/v3/commentThreads", params={**query, "pageToken": first["nextPageToken"]}, headers=YT
        )
    ).json()
    [oldest] = second["items"]
    assert "nextPageToken" not in second
    assert oldest["snippet"]["totalReplyCount"] == 6
    assert len(oldest["replies"]["comments"]) == 5  # some of the replies, not necessarily all
    every = await (
        await sandbox.get(
            "/youtube/v3/comments", params={"part": "snippet", "parentId": oldest["id"]}, headers=YT
        )
    ).json()
    assert {c["snippet"]["parentId"] for c in every["items"]} == {oldest["id"]}
    assert len(every["items"]) == 6


async def test_youtube_shows_comments_as_html_unless_plain_text_is_asked(sandbox: Sandbox) -> None:
    await _video(sandbox)
    channel = await _channel(sandbox)
    text = "Horaires <samedi> & dimanche ?\nMerci"
    await sandbox.post("/_sandbox/youtube/comments", json={"account": "lyon", "texts": [text]})
    query = {"part": "snippet", "allThreadsRelatedToChannelId": channel}
    for extra, shown in [
        ({}, "Horaires &lt;samedi&gt; &amp; dimanche ?<br>Merci"),
        ({"textFormat": "plainText"}, text),
    ]:
        listing = await (
            await sandbox.get("/youtube/v3/commentThreads", params={**query, **extra}, headers=YT)
        ).json()
        snippet = listing["items"][0]["snippet"]["topLevelComment"]["snippet"]
        assert snippet["textDisplay"] == shown
        assert "textOriginal" not in snippet  # only a comment's author sees it


@pytest.mark.parametrize(
    ("query", "status", "reason"),
    [
        ({"pageToken": "not-a-token"}, 400, "invalidPageToken"),
        ({"maxResults": "0"}, 400, "invalidParameter"),
        ({"maxResults": "101"}, 400, "invalidParameter"),
        ({"part": "snippet,secrets"}, 400, "invalidPart"),
        ({"order": "relevance"}, 400, "invalidParameter"),
    ],
)
async def test_youtube_thread_reads_refuse_what_the_api_refuses(
    sandbox: Sandbox, query: dict[str, str], status: int, reason: str
) -> None:
    channel = await _channel(sandbox)
    params = {"part": "snippet", "allThreadsRelatedToChannelId": channel, **query}
    answer = await sandbox.get("/youtube/v3/commentThreads", params=params, headers=YT)
    assert answer.status == status
    _google_error(await answer.json(), status, reason)


async def test_youtube_reads_only_the_callers_channel_with_a_valid_token(sandbox: Sandbox) -> None:
    await _video(sandbox)
    channel = await _channel(sandbox)
    await sandbox.post("/_sandbox/youtube/comments", json={"account": "lyon", "texts": ["privé ?"]})
    params = {"part": "snippet", "allThreadsRelatedToChannelId": channel}
    for token in (None, "sbx-expired-lyon", "forged"):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = await sandbox.get("/youtube/v3/commentThreads", params=params, headers=headers)
        assert answer.status == 401
        _google_error(await answer.json(), 401, "authError")
    other = await sandbox.get(
        "/youtube/v3/commentThreads", params=params, headers={"Authorization": "Bearer sbx-youtube-paris"}
    )
    assert other.status == 404
    _google_error(await other.json(), 404, "channelNotFound")


async def test_youtube_read_faults_answer_in_googles_shapes_and_leave_uploads_alone(
    sandbox: Sandbox, arm: Arm
) -> None:
    await _video(sandbox)
    channel = await _channel(sandbox)
    params = {"part": "snippet", "allThreadsRelatedToChannelId": channel}
    for mode, status, reason in [
        ("rate_limit", 403, "quotaExceeded"),
        ("blocked", 403, "commentsDisabled"),
        ("server_error", 503, "backendError"),
        ("expired_token", 401, "authError"),
    ]:
        await arm("youtube", "lyon", mode, on="read_comments")
        answer = await sandbox.get("/youtube/v3/commentThreads", params=params, headers=YT)
        assert answer.status == status, mode
        _google_error(await answer.json(), status, reason)
    await arm("youtube", "lyon", "server_error", on="read_comments")
    await _video(sandbox)  # an upload does not take a fault armed for reads
    listing = await (await sandbox.get("/_sandbox/faults")).json()
    assert [(f["mode"], f["on"]) for f in listing["faults"]] == [("server_error", "read_comments")]


@pytest.mark.parametrize(
    "body",
    [
        {"texts": ["x"]},
        {"account": "lyon", "texts": "x"},
        {"account": "lyon", "count": 0},
        {"account": "lyon", "count": 1001},
        {"account": "lyon", "published_at": "2026-12-01T09:00:00"},  # no offset
        {"account": "lyon", "reply_to": "no-such-thread"},
        {"account": "lyon", "video": "someone-elses"},
        {"account": "nobody"},  # a channel without uploads
    ],
)
async def test_the_youtube_comment_writer_refuses_what_it_cannot_make(
    sandbox: Sandbox, body: dict[str, Any]
) -> None:
    await _video(sandbox)
    answer = await sandbox.post("/_sandbox/youtube/comments", json=body)
    assert answer.status == 400
    assert isinstance((await answer.json())["error"], str)


async def _linkedin_post(sandbox: Sandbox, account: str = "123", text: str = "Forum") -> str:
    answer = await sandbox.post(
        "/rest/posts",
        headers=linkedin(account),
        json={
            "author": f"urn:li:organization:{account}",
            "commentary": text,
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED"},
            "lifecycleState": "PUBLISHED",
        },
    )
    assert answer.status == 201, await answer.text()
    return answer.headers["x-restli-id"]


async def test_linkedin_comments_page_with_start_and_count(sandbox: Sandbox) -> None:
    post = await _linkedin_post(sandbox)
    written = await sandbox.post(
        "/_sandbox/linkedin/comments", json={"account": "123", "post": post, "count": 3}
    )
    urns = [c["comment_urn"] for c in (await written.json())["items"]]
    assert all(urn == f"urn:li:comment:({post},{urn.rsplit(',', 1)[1][:-1]})" for urn in urns)
    path = f"/rest/socialActions/{post}/comments"

    first = await (await sandbox.get(path, params={"count": "2"}, headers=linkedin("123"))).json()
    assert [e["commentUrn"] for e in first["elements"]] == urns[::-1][:2]  # the sandbox's order: newest first
    assert first["paging"]["total"] == 3 and first["paging"]["links"][0]["rel"] == "next"
    rest = await (
        await sandbox.get(path, params={"start": "2", "count": "2"}, headers=linkedin("123"))
    ).json()
    assert [e["commentUrn"] for e in rest["elements"]] == [urns[0]]
    assert rest["paging"]["links"] == []
    element = rest["elements"][0]
    assert element["object"] == post and isinstance(element["created"]["time"], int)
    assert element["message"]["text"] == "Question 1"


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"Authorization": "Bearer sbx-linkedin-123"}, 400, "VERSION_MISSING"),
        ({"Authorization": "Bearer sbx-linkedin-123", "LinkedIn-Version": "202601"}, 400, "ILLEGAL_ARGUMENT"),
        (LI_VERSION, 401, "EMPTY_ACCESS_TOKEN"),
        ({"Authorization": "Bearer sbx-expired-123", **LI_VERSION}, 401, "EXPIRED_ACCESS_TOKEN"),
        (
            {"Authorization": "Bearer sbx-linkedin-456", **LI_VERSION},
            404,
            "NOT_FOUND",
        ),  # another organization
    ],
    ids=["no version", "no protocol", "no token", "expired", "another organization"],
)
async def test_linkedin_comments_are_read_only_by_their_organization(
    sandbox: Sandbox, headers: dict[str, str], status: int, code: str
) -> None:
    post = await _linkedin_post(sandbox)
    await sandbox.post("/_sandbox/linkedin/comments", json={"account": "123", "post": post})
    answer = await sandbox.get(f"/rest/socialActions/{post}/comments", headers=headers)
    assert answer.status == status
    body = await answer.json()
    assert (body["status"], body["code"]) == (status, code)
    assert "elements" not in body


@pytest.mark.parametrize("query", [{"count": "0"}, {"count": "101"}, {"start": "-1"}, {"count": "ten"}])
async def test_linkedin_comment_paging_refuses_bad_numbers(sandbox: Sandbox, query: dict[str, str]) -> None:
    post = await _linkedin_post(sandbox)
    answer = await sandbox.get(f"/rest/socialActions/{post}/comments", params=query, headers=linkedin("123"))
    assert answer.status == 400
    assert (await answer.json())["code"] == "ILLEGAL_ARGUMENT"


async def test_linkedin_read_faults_apply_to_reads_only(sandbox: Sandbox, arm: Arm) -> None:
    post = await _linkedin_post(sandbox)
    await arm("linkedin", "123", "rate_limit", on="read_comments")
    throttled = await sandbox.get(f"/rest/socialActions/{post}/comments", headers=linkedin("123"))
    assert throttled.status == 429
    assert (await throttled.json())["code"] == "TOO_MANY_REQUESTS"
    await arm("linkedin", "123", "server_error", on="read_comments")
    await _linkedin_post(sandbox, text="Salon")  # posting does not take the read's fault
    failed = await sandbox.get(f"/rest/socialActions/{post}/comments", headers=linkedin("123"))
    assert failed.status == 503


@pytest.mark.parametrize(
    "body",
    [
        {"count": 1},
        {"account": "123", "count": True},
        {"account": "123", "created_ms": -1},
        {"account": "123", "post": "urn:li:share:1"},
        {"account": "456"},  # an organization without posts
    ],
)
async def test_the_linkedin_comment_writer_refuses_what_it_cannot_make(
    sandbox: Sandbox, body: dict[str, Any]
) -> None:
    await _linkedin_post(sandbox)
    answer = await sandbox.post("/_sandbox/linkedin/comments", json=body)
    assert answer.status == 400
    assert isinstance((await answer.json())["error"], str)
