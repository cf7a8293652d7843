"""The five emulators' figure reads answer in their networks' documented shapes (issue #15 item 6),
spoken to over raw HTTP: what a client other than Relais' adapters would meet. Each expectation names
the documentation section it comes from (the emulators' docstrings quote them)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from adapter_kit import Arm, media_for, page

from services.dispatcher.adapters import adapter_for

LINKEDIN_HEADERS = {"LinkedIn-Version": "202610", "X-Restli-Protocol-Version": "2.0.0"}


async def _published(network: str, http: aiohttp.ClientSession, base_url: str, handle: str = "lyon") -> str:
    publication = await adapter_for(network, http).publish(
        page(network, handle, base_url),
        ["Forum, jeudi"],
        idempotency_key="k",
        media=media_for(network, base_url),
    )
    return publication.remote_id


async def _get(
    http: aiohttp.ClientSession,
    url: str,
    token: str | None,
    headers: dict[str, str] | None = None,
    **query: str,
) -> tuple[int, dict[str, Any], Any]:
    sent = dict(headers or {}) | ({"Authorization": f"Bearer {token}"} if token else {})
    async with http.get(url, params=query, headers=sent) as response:
        return response.status, dict(response.headers), await response.json(content_type=None)


async def _set(
    http: aiohttp.ClientSession, base_url: str, network: str, remote_id: str, **figures: int
) -> None:
    body = {"network": network, "remote_id": remote_id, **figures}
    async with http.post(f"{base_url}/_sandbox/engagement", json=body) as response:
        assert response.status == 200


async def test_facebook_answers_the_post_nodes_summaries_and_refuses_the_deprecated_impressions(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    post = await _published("facebook", http, base_url)
    fields = "reactions.summary(total_count),comments.summary(total_count),shares"
    status, headers, node = await _get(http, f"{base_url}/v23.0/{post}", "sbx-facebook-lyon", fields=fields)
    assert status == 200 and "shares" not in node  # left out while nobody shared the post
    assert node["reactions"]["summary"]["total_count"] == 0 and "X-Page-Usage" in headers

    await _set(http, base_url, "facebook", post, likes=7, shares=2, replies=1, views=50)
    _status, _headers, node = await _get(http, f"{base_url}/v23.0/{post}", "sbx-facebook-lyon", fields=fields)
    assert (node["reactions"]["summary"]["total_count"], node["comments"]["summary"]["total_count"]) == (7, 1)
    assert node["shares"] == {"count": 2}

    insights = f"{base_url}/v23.0/{post}/insights"
    status, _headers, body = await _get(http, insights, "sbx-facebook-lyon", metric="post_media_view")
    [entry] = body["data"]
    assert status == 200 and (entry["name"], entry["period"], entry["values"]) == (
        "post_media_view",
        "lifetime",
        [{"value": 50}],
    )
    status, _headers, body = await _get(http, insights, "sbx-facebook-lyon", metric="post_impressions")
    assert (status, body["error"]["code"]) == (400, 100)
    status, _headers, body = await _get(http, insights, None, metric="post_media_view")
    assert (status, body["error"]["code"]) == (400, 104)


async def test_instagram_answers_media_counts_and_insights_and_throttles_reads_by_business_use_case(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    media = await _published("instagram", http, base_url)
    await _set(http, base_url, "instagram", media, likes=9, shares=4, replies=3, views=120)
    token = "sbx-instagram-lyon"

    _status, _headers, node = await _get(
        http, f"{base_url}/v23.0/{media}", token, fields="like_count,comments_count"
    )
    assert (node["like_count"], node["comments_count"]) == (9, 3)
    _status, _headers, body = await _get(
        http, f"{base_url}/v23.0/{media}/insights", token, metric="shares,views"
    )
    assert [(e["name"], e["values"][0]["value"]) for e in body["data"]] == [("shares", 4), ("views", 120)]
    status, _headers, body = await _get(
        http, f"{base_url}/v23.0/{media}/insights", token, metric="impressions"
    )
    assert (status, body["error"]["code"]) == (400, 100)  # replaced by views from v22.0

    await arm("instagram", "lyon", "rate_limit", seconds=300, on="read_engagement")
    status, headers, body = await _get(http, f"{base_url}/v23.0/{media}/insights", token, metric="views")
    assert (status, body["error"]["code"]) == (400, 80002)
    [usage] = json.loads(headers["X-Business-Use-Case-Usage"])["lyon"]
    assert usage["type"] == "instagram" and usage["estimated_time_to_regain_access"] == 5


async def test_threads_answers_the_metrics_asked_in_their_order(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    post = await _published("threads", http, base_url)
    await _set(http, base_url, "threads", post, likes=2, shares=6, replies=1, views=30)
    url = f"{base_url}/v1.0/{post}/insights"

    _status, _headers, body = await _get(http, url, "sbx-threads-lyon", metric="quotes,reposts,views")
    assert [(e["name"], e["values"][0]["value"]) for e in body["data"]] == [
        ("quotes", 0),
        ("reposts", 6),
        ("views", 30),
    ]
    status, _headers, body = await _get(http, url, "sbx-threads-lyon")
    assert (status, body["error"]["code"]) == (400, 100)  # metric is required
    status, _headers, body = await _get(http, url, "sbx-threads-paris", metric="views")
    assert (status, body["error"]["code"], body["error"]["error_subcode"]) == (400, 100, 33)


async def test_linkedin_answers_social_actions_and_statistics_to_the_organizations_administrator(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    post = await _published("linkedin", http, base_url)
    await _set(http, base_url, "linkedin", post, likes=5, shares=1, replies=2, views=80)
    token = "sbx-linkedin-lyon"
    actions = f"{base_url}/rest/socialActions/{post}"

    _status, _headers, body = await _get(http, actions, token, LINKEDIN_HEADERS)
    assert (body["likesSummary"]["totalLikes"], body["commentsSummary"]["aggregatedTotalComments"]) == (5, 2)
    status, _headers, body = await _get(http, actions, token)  # no LinkedIn-Version
    assert (status, body["code"]) == (400, "VERSION_MISSING")

    statistics = f"{base_url}/rest/organizationalEntityShareStatistics"
    query = {"q": "organizationalEntity", "organizationalEntity": "urn:li:organization:lyon"}
    _status, _headers, body = await _get(
        http, statistics, token, LINKEDIN_HEADERS, **query, shares=f"List({post})"
    )
    [element] = body["elements"]
    assert element["share"] == post
    assert (
        element["totalShareStatistics"]["impressionCount"],
        element["totalShareStatistics"]["shareCount"],
    ) == (
        80,
        1,
    )
    other = {**query, "organizationalEntity": "urn:li:organization:paris"}
    status, _headers, body = await _get(
        http, statistics, token, LINKEDIN_HEADERS, **other, shares=f"List({post})"
    )
    assert (status, body["code"]) == (403, "ACCESS_DENIED")


async def test_youtube_answers_statistics_as_strings_and_leaves_an_unknown_video_out(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    video = await _published("youtube", http, base_url)
    await _set(http, base_url, "youtube", video, likes=8, replies=2, views=1000)
    url = f"{base_url}/youtube/v3/videos"

    _status, _headers, body = await _get(http, url, "sbx-youtube-lyon", part="statistics", id=f"{video},gone")
    [item] = body["items"]
    assert item["id"] == video and item["statistics"] == {
        "viewCount": "1000",
        "likeCount": "8",
        "favoriteCount": "0",
        "commentCount": "2",
    }
    status, _headers, body = await _get(http, url, "sbx-youtube-lyon", part="snippet,fileDetails", id=video)
    assert (status, body["error"]["errors"][0]["reason"]) == (400, "invalidPart")


@pytest.mark.parametrize("mode", ["invalid_content", "timeout_after_create", "disconnect_after_create"])
async def test_a_read_takes_only_the_faults_a_read_can_meet(
    http: aiohttp.ClientSession, base_url: str, mode: str
) -> None:
    body = {"network": "facebook", "account": "lyon", "mode": mode, "on": "read_engagement"}
    async with http.post(f"{base_url}/_sandbox/faults", json=body) as response:
        assert response.status == 400
        assert "read_engagement" in (await response.json())["error"]
