"""LinkedIn videos against the Videos and Posts API emulator: initializeUpload, every part put to its
URL (ETags), finalizeUpload, waiting until AVAILABLE, then the post naming `urn:li:video:…`; a
processing failure that fails the delivery with LinkedIn's reason and posts nothing; uploads cut
short that never publish twice."""

from __future__ import annotations

import aiohttp
import pytest
from adapter_kit import Arm, Received, page
from video_kit import UNDECODABLE, cut_during, sha256, video

from services.dispatcher.adapters import DeliveryError, PageAccount, UnknownOutcome
from services.dispatcher.adapters.linkedin import LinkedInAdapter


@pytest.fixture
def account(base_url: str) -> PageAccount:
    return page("linkedin", "123", base_url)


def adapter(http: aiohttp.ClientSession) -> LinkedInAdapter:
    return LinkedInAdapter(http, poll_interval=0.05)


async def test_a_video_is_uploaded_in_parts_finalized_waited_for_then_posted(
    http: aiohttp.ClientSession,
    account: PageAccount,
    base_url: str,
    received: Received,
    requests_seen: list[str],
) -> None:
    clip = video(1_300_000, alt="Le salon")  # the emulator cuts 512 KiB parts: three

    publication = await adapter(http).publish(
        account, ["Le salon en vidéo"], idempotency_key="d", media=[clip]
    )

    [post] = await received(network="linkedin")
    [uploaded] = post["media"]
    assert uploaded["id"].startswith("urn:li:video:")
    assert (uploaded["sha256"], uploaded["size"]) == (sha256(clip.data), len(clip.data or b""))
    assert post["body"]["content"] == {"media": {"id": uploaded["id"]}}  # altText is for images
    assert publication.remote_id == post["remote_id"]
    steps = [line.split("?")[0].replace(base_url, "") for line in requests_seen]
    assert steps[0] == "POST /rest/videos"
    assert [s.startswith("PUT /dms-uploads/video-parts/") for s in steps[1:4]] == [True] * 3
    assert steps[4] == "POST /rest/videos"
    polls = steps[5:-1]
    assert len(polls) > 1 and all(s.startswith("GET /rest/videos/urn") for s in polls)  # PROCESSING first
    assert steps[-1] == "POST /rest/posts"


async def test_a_video_failing_processing_fails_the_delivery_and_posts_nothing(
    http: aiohttp.ClientSession, account: PageAccount, received: Received, requests_seen: list[str]
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await adapter(http).publish(account, ["Vidéo abîmée"], idempotency_key="d", media=[UNDECODABLE])

    assert caught.value.kind == "permanent" and caught.value.network_code == "PROCESSING_FAILED"
    assert "could not process the video" in caught.value.message
    assert "not a video that could be decoded" in caught.value.message
    assert "nothing was posted" in caught.value.message
    assert await received(network="linkedin") == []
    assert not any(line.startswith("POST") and "/rest/posts" in line for line in requests_seen)


async def test_a_post_naming_a_video_still_processing_is_refused_by_the_emulator(
    account: PageAccount, base_url: str
) -> None:
    """The emulator's own rule, which the adapter's wait must satisfy: no post before AVAILABLE."""
    headers = {
        "Authorization": "Bearer sbx-linkedin-123",
        "LinkedIn-Version": "202610",
        "X-Restli-Protocol-Version": "2.0.0",
    }
    clip = video(1000)
    async with aiohttp.ClientSession(headers=headers) as http:
        init = {"initializeUploadRequest": {"owner": "urn:li:organization:123", "fileSizeBytes": 1000}}
        async with http.post(f"{base_url}/rest/videos?action=initializeUpload", json=init) as answer:
            value = (await answer.json())["value"]
        async with http.put(value["uploadInstructions"][0]["uploadUrl"], data=clip.data) as answer:
            etag = answer.headers["ETag"]
        final = {
            "finalizeUploadRequest": {"video": value["video"], "uploadToken": "", "uploadedPartIds": [etag]}
        }
        async with http.post(f"{base_url}/rest/videos?action=finalizeUpload", json=final) as answer:
            assert answer.status == 200
        body = {
            "author": "urn:li:organization:123",
            "commentary": "Trop tôt",
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED"},
            "lifecycleState": "PUBLISHED",
            "content": {"media": {"id": value["video"]}},
        }
        async with http.post(f"{base_url}/rest/posts", json=body) as answer:
            assert answer.status == 422 and "AVAILABLE" in (await answer.json())["message"]


async def test_an_upload_cut_mid_part_publishes_nothing_and_the_retry_publishes_once(
    account: PageAccount, received: Received, http: aiohttp.ClientSession
) -> None:
    clip = video(1_300_000)

    sent = await cut_during(
        lambda session: adapter(session).publish(account, ["Coupée"], idempotency_key="d", media=[clip]),
        "PUT",
        nth=2,
    )

    assert len(sent) == 3  # initializeUpload, one part, cut during the second
    assert await received(network="linkedin") == []
    assert await adapter(http).find(account, ["Coupée"], idempotency_key="d", since=0) is None
    await adapter(http).publish(account, ["Coupée"], idempotency_key="d", media=[clip])
    assert len(await received(network="linkedin")) == 1


async def test_a_video_post_whose_answer_is_lost_is_found_by_reconciliation(
    http: aiohttp.ClientSession, account: PageAccount, arm: Arm, received: Received
) -> None:
    await arm("linkedin", "123", "disconnect_after_create")  # the uploads leave it armed for the post

    with pytest.raises(UnknownOutcome):
        await adapter(http).publish(account, ["Perdue"], idempotency_key="d", media=[video(600_000)])

    [post] = await received(network="linkedin")
    found = await adapter(http).find(account, ["Perdue"], idempotency_key="d", since=0)
    assert found is not None and found.remote_id == post["remote_id"]
