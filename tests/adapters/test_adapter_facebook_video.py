"""Facebook Page videos against the Graph API emulator: the resumable upload (start, transfer the
chunks asked, finish), processing read back from the page's videos, a processing failure that fails
the delivery with Facebook's reason, and uploads cut short that never publish twice."""

from __future__ import annotations

import aiohttp
import pytest
from adapter_kit import Arm, Received, page
from video_kit import UNDECODABLE, cut_during, sha256, video

from services.dispatcher.adapters import DeliveryError, PageAccount, UnknownOutcome
from services.dispatcher.adapters.facebook import FacebookAdapter


@pytest.fixture
def account(base_url: str) -> PageAccount:
    return page("facebook", "1234", base_url)


def adapter(http: aiohttp.ClientSession) -> FacebookAdapter:
    return FacebookAdapter(http, poll_interval=0.05)


async def test_a_video_is_uploaded_in_chunks_finished_and_waited_for(
    http: aiohttp.ClientSession,
    account: PageAccount,
    base_url: str,
    received: Received,
    requests_seen: list[str],
) -> None:
    clip = video(1_300_000)  # the emulator asks for 512 KiB chunks: three transfers

    publication = await adapter(http).publish(
        account, ["Le salon en vidéo"], idempotency_key="d", media=[clip]
    )

    [post] = await received(network="facebook")
    [uploaded] = post["media"]
    assert (uploaded["sha256"], uploaded["size"]) == (sha256(clip.data), len(clip.data or b""))
    assert post["text"] == "Le salon en vidéo" and post["body"]["upload_phase"] == "finish"
    videos = f"POST {base_url}/v23.0/1234/videos"
    assert requests_seen[:5] == [videos] * 5  # start, three transfers, finish
    assert requests_seen[5:] and all(
        r.startswith(f"GET {base_url}/v23.0/1234/videos") for r in requests_seen[5:]
    )
    assert len(requests_seen) > 6  # processing takes a while: the status was read more than once
    assert publication.remote_id == uploaded["id"]
    assert publication.url == f"https://www.facebook.com/1234/videos/{uploaded['id']}/"
    found = await adapter(http).find(account, ["Le salon en vidéo"], idempotency_key="d", since=0)
    assert found is not None and found.remote_id in (post["remote_id"], uploaded["id"])


async def test_a_video_failing_processing_fails_the_delivery_with_facebooks_reason(
    http: aiohttp.ClientSession, account: PageAccount
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await adapter(http).publish(account, ["Vidéo abîmée"], idempotency_key="d", media=[UNDECODABLE])

    assert caught.value.kind == "permanent"
    assert "could not process the video" in caught.value.message
    assert "not a video that could be decoded" in caught.value.message
    # A failed video is not on the page: nothing for reconciliation to take as published.
    assert await adapter(http).find(account, ["Vidéo abîmée"], idempotency_key="d", since=0) is None


async def test_an_upload_cut_mid_transfer_publishes_nothing_and_the_retry_publishes_once(
    account: PageAccount, received: Received, http: aiohttp.ClientSession
) -> None:
    clip = video(1_300_000)

    sent = await cut_during(
        lambda session: adapter(session).publish(account, ["Coupée"], idempotency_key="d", media=[clip]),
        "POST",
        nth=3,  # start, one transfer, then cut during the second transfer
    )

    assert len(sent) == 3
    assert await received(network="facebook") == []
    assert await adapter(http).find(account, ["Coupée"], idempotency_key="d", since=0) is None
    await adapter(http).publish(account, ["Coupée"], idempotency_key="d", media=[clip])
    assert len(await received(network="facebook")) == 1


async def test_a_finish_whose_answer_is_lost_is_found_by_reconciliation_not_sent_again(
    http: aiohttp.ClientSession, account: PageAccount, arm: Arm, received: Received
) -> None:
    await arm("facebook", "1234", "disconnect_after_create")  # start and transfers leave it armed

    with pytest.raises(UnknownOutcome):
        await adapter(http).publish(account, ["Perdue"], idempotency_key="d", media=[video(600_000)])

    [post] = await received(network="facebook")
    # Still processing, so not on the feed yet: found among the page's videos.
    found = await adapter(http).find(account, ["Perdue"], idempotency_key="d", since=0)
    assert found is not None and found.remote_id in (post["remote_id"], post["media"][0]["id"])


async def test_a_refused_upload_start_says_nothing_was_posted(
    http: aiohttp.ClientSession, account: PageAccount, arm: Arm, received: Received
) -> None:
    await arm("facebook", "1234", "server_error")

    with pytest.raises(DeliveryError) as caught:
        await adapter(http).publish(account, ["x"], idempotency_key="d", media=[video(1000)])

    assert caught.value.kind == "transient" and "nothing was posted" in caught.value.message
    assert await received(network="facebook") == []
