"""Bluesky video against the PDS and video service emulator: a service token from the PDS, the MP4
to `app.bsky.video.uploadVideo`, `getJobStatus` until completed, then the post embedding
`app.bsky.embed.video` with its alt text and captions; a processing failure that fails the delivery
with the service's reason and posts nothing; uploads cut short that never publish twice."""

from __future__ import annotations

import aiohttp
import pytest
from adapter_kit import Received, page
from video_kit import UNDECODABLE, cut_during, sha256, video

from services.dispatcher.adapters import DeliveryError, PageAccount
from services.dispatcher.adapters.base import Caption, Media
from services.dispatcher.adapters.bluesky import BlueskyAdapter

VTT = b"WEBVTT\n\n00:00.000 --> 00:02.000\nBienvenue au salon\n"


@pytest.fixture
def account(base_url: str) -> PageAccount:
    return page("bluesky", "lyon", base_url)


def adapter(http: aiohttp.ClientSession) -> BlueskyAdapter:
    return BlueskyAdapter(http, poll_interval=0.05)


async def test_a_video_goes_through_the_video_service_then_into_the_post(
    http: aiohttp.ClientSession,
    account: PageAccount,
    base_url: str,
    received: Received,
    requests_seen: list[str],
) -> None:
    clip = Media(
        "video",
        data=video(700_000).data,
        mime_type="video/mp4",
        alt="Le salon : stands et conférences",
        id="v1",
        captions=(Caption("fr", VTT),),
    )

    publication = await adapter(http).publish(
        account, ["Le salon en vidéo"], idempotency_key="d", media=[clip]
    )

    [post] = await received(network="bluesky")
    assert publication.remote_id == post["remote_id"]
    embed = post["body"]["record"]["embed"]
    assert embed["$type"] == "app.bsky.embed.video"
    assert embed["alt"] == "Le salon : stands et conférences"
    assert (embed["video"]["mimeType"], embed["video"]["size"]) == ("video/mp4", len(clip.data or b""))
    [caption] = embed["captions"]
    assert caption["lang"] == "fr" and caption["file"]["mimeType"] == "text/vtt"
    assert [m["sha256"] for m in post["media"]] == [sha256(clip.data), sha256(VTT)]
    methods = [line.split("?")[0].rsplit("/", 1)[-1] for line in requests_seen]
    assert methods[:3] == [
        "com.atproto.server.createSession",
        "com.atproto.server.getServiceAuth",
        "app.bsky.video.uploadVideo",
    ]
    polls = [m for m in methods if m == "app.bsky.video.getJobStatus"]
    assert len(polls) > 1  # the job was still encoding when first asked
    assert methods[-2:] == ["com.atproto.repo.uploadBlob", "com.atproto.repo.createRecord"]


async def test_the_service_token_is_for_this_pds_and_for_blob_uploads_only(
    http: aiohttp.ClientSession, account: PageAccount, base_url: str, requests_seen: list[str]
) -> None:
    await adapter(http).publish(account, ["Jeton"], idempotency_key="d", media=[video(1000)])

    [asked] = [line for line in requests_seen if "getServiceAuth" in line]
    host = base_url.split("//")[1].split(":")[0]
    assert f"aud=did:web:{host}" in asked and "lxm=com.atproto.repo.uploadBlob" in asked


async def test_a_service_token_for_another_service_is_refused_by_the_video_service(base_url: str) -> None:
    """The emulator's own guard: a token made for another audience does not upload videos."""
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{base_url}/xrpc/com.atproto.server.createSession",
            json={"identifier": "lyon", "password": "sbx-bluesky-lyon"},
        ) as answer:
            session = await answer.json()
        auth = {"Authorization": f"Bearer {session['accessJwt']}"}
        params = {"aud": "did:web:elsewhere.example", "lxm": "com.atproto.repo.uploadBlob"}
        async with http.get(
            f"{base_url}/xrpc/com.atproto.server.getServiceAuth", params=params, headers=auth
        ) as answer:
            token = (await answer.json())["token"]
        async with http.post(
            f"{base_url}/xrpc/app.bsky.video.uploadVideo",
            params={"did": session["did"], "name": "v.mp4"},
            headers={"Authorization": f"Bearer {token}", "Content-Type": "video/mp4"},
            data=video(1000).data,
        ) as answer:
            assert answer.status == 401 and (await answer.json())["error"] == "AuthenticationRequired"


async def test_a_video_failing_processing_fails_the_delivery_and_posts_nothing(
    http: aiohttp.ClientSession, account: PageAccount, received: Received, requests_seen: list[str]
) -> None:
    with pytest.raises(DeliveryError) as caught:
        await adapter(http).publish(account, ["Vidéo abîmée"], idempotency_key="d", media=[UNDECODABLE])

    assert caught.value.kind == "permanent"
    assert "could not process the video" in caught.value.message
    assert "not a video that could be decoded" in caught.value.message
    assert "nothing was posted" in caught.value.message
    assert await received(network="bluesky") == []
    assert not any("createRecord" in line for line in requests_seen)


async def test_an_upload_cut_mid_video_publishes_nothing_and_the_retry_publishes_once(
    account: PageAccount, received: Received, http: aiohttp.ClientSession
) -> None:
    clip = video(700_000)

    await cut_during(
        lambda session: adapter(session).publish(account, ["Coupée"], idempotency_key="d", media=[clip]),
        "getJobStatus",
        nth=1,  # uploaded, cut while waiting for the job
    )

    assert await received(network="bluesky") == []
    assert await adapter(http).find(account, ["Coupée"], idempotency_key="d", since=0) is None
    await adapter(http).publish(account, ["Coupée"], idempotency_key="d", media=[clip])
    await adapter(http).publish(account, ["Coupée"], idempotency_key="d", media=[clip])  # a second retry
    assert len(await received(network="bluesky")) == 1
    found = await adapter(http).find(account, ["Coupée"], idempotency_key="d", since=0)
    assert found is not None
