"""The video emulators as an attacker sees them: an upload session, part or job of one account is
nobody else's, chunks and parts only at the place the network asked for, a finish or finalize
that does not publish twice, and processing that answers processing, then ready or failed.

The expected answers are the networks' documented ones, written here by hand: Graph errors 100
(invalid parameter) and 6001 (upload problem), LinkedIn 404 for an unknown upload URL and 422 for
a finalize without every part's ETag, atproto 401 for a service token not made for this upload."""

from __future__ import annotations

import asyncio

from aiohttp import FormData
from sandbox_kit import Received, Sandbox

MP4 = b"\x00\x00\x00\x18ftypmp42" + bytes(1000)
LINKEDIN = {"LinkedIn-Version": "202610", "X-Restli-Protocol-Version": "2.0.0"}


def form(**fields: str) -> FormData:
    data = FormData()
    for name, value in fields.items():
        data.add_field(name, value)
    return data


async def start_facebook_upload(sandbox: Sandbox, page: str, size: int) -> dict[str, str]:
    answer = await sandbox.post(
        f"/v23.0/{page}/videos",
        data=form(upload_phase="start", file_size=str(size), access_token=f"sbx-facebook-{page}"),
    )
    assert answer.status == 200, await answer.text()
    started: dict[str, str] = await answer.json()
    return started


def chunk(page: str, session: str, offset: int, data: bytes) -> FormData:
    body = form(upload_phase="transfer", upload_session_id=session, start_offset=str(offset))
    body.add_field("access_token", f"sbx-facebook-{page}")
    body.add_field("video_file_chunk", data, filename="chunk", content_type="application/octet-stream")
    return body


async def test_facebook_upload_sessions_are_their_pages_own_and_take_chunks_in_order(
    sandbox: Sandbox, received: Received
) -> None:
    started = await start_facebook_upload(sandbox, "1234", len(MP4))
    session = started["upload_session_id"]
    assert (started["start_offset"], started["end_offset"]) == ("0", str(len(MP4)))

    other_page = await sandbox.post("/v23.0/9999/videos", data=chunk("9999", session, 0, MP4))
    assert other_page.status == 400 and (await other_page.json())["error"]["code"] == 100
    wrong_offset = await sandbox.post("/v23.0/1234/videos", data=chunk("1234", session, 10, MP4))
    assert wrong_offset.status == 400 and (await wrong_offset.json())["error"]["code"] == 6001
    early = await sandbox.post(
        "/v23.0/1234/videos",
        data=form(upload_phase="finish", upload_session_id=session, access_token="sbx-facebook-1234"),
    )
    assert early.status == 400 and (await early.json())["error"]["code"] == 6001
    assert await received(network="facebook") == []

    done = await sandbox.post("/v23.0/1234/videos", data=chunk("1234", session, 0, MP4))
    assert await done.json() == {"start_offset": str(len(MP4)), "end_offset": str(len(MP4))}
    finish = form(upload_phase="finish", upload_session_id=session, description="Salon")
    finish.add_field("access_token", "sbx-facebook-1234")
    for _twice in range(2):
        answer = await sandbox.post("/v23.0/1234/videos", data=finish)
        assert await answer.json() == {"success": True}
        finish = form(
            upload_phase="finish",
            upload_session_id=session,
            description="Salon",
            access_token="sbx-facebook-1234",
        )
    assert len(await received(network="facebook")) == 1  # finishing again publishes nothing more


async def test_facebook_video_status_goes_from_processing_to_ready(sandbox: Sandbox) -> None:
    started = await start_facebook_upload(sandbox, "1234", len(MP4))
    session = started["upload_session_id"]
    await sandbox.post("/v23.0/1234/videos", data=chunk("1234", session, 0, MP4))
    await sandbox.post(
        "/v23.0/1234/videos",
        data=form(upload_phase="finish", upload_session_id=session, access_token="sbx-facebook-1234"),
    )

    async def status() -> str:
        answer = await sandbox.get(
            "/v23.0/1234/videos", headers={"Authorization": "Bearer sbx-facebook-1234"}
        )
        [video] = (await answer.json())["data"]
        assert video["id"] == started["video_id"]
        return str(video["status"]["video_status"])

    assert await status() == "processing"
    await asyncio.sleep(0.4)
    assert await status() == "ready"
    feed = await sandbox.get("/v23.0/1234/feed", headers={"Authorization": "Bearer sbx-facebook-1234"})
    assert len((await feed.json())["data"]) == 1
    someone_else = await sandbox.get("/v23.0/1234/videos", headers={"Authorization": "Bearer sbx-facebook-9"})
    assert someone_else.status == 403


async def linkedin_upload(sandbox: Sandbox, account: str, size: int) -> dict[str, object]:
    headers = {**LINKEDIN, "Authorization": f"Bearer sbx-linkedin-{account}"}
    init = {"initializeUploadRequest": {"owner": f"urn:li:organization:{account}", "fileSizeBytes": size}}
    answer = await sandbox.post("/rest/videos?action=initializeUpload", json=init, headers=headers)
    assert answer.status == 200, await answer.text()
    value: dict[str, object] = (await answer.json())["value"]
    return value


async def test_linkedin_parts_and_finalize_belong_to_the_owner_and_need_every_etag(sandbox: Sandbox) -> None:
    value = await linkedin_upload(sandbox, "123", len(MP4))
    [part] = value["uploadInstructions"]  # type: ignore[misc]
    path = part["uploadUrl"].split("//", 1)[1].split("/", 1)[1]

    stranger = await sandbox.put(f"/{path}", data=MP4, headers={"Authorization": "Bearer sbx-linkedin-999"})
    assert stranger.status == 404
    short = await sandbox.put(f"/{path}", data=MP4[:10], headers={"Authorization": "Bearer sbx-linkedin-123"})
    assert short.status == 400
    headers = {**LINKEDIN, "Authorization": "Bearer sbx-linkedin-123"}
    final = {
        "finalizeUploadRequest": {"video": value["video"], "uploadToken": "", "uploadedPartIds": ["/made-up"]}
    }
    refused = await sandbox.post("/rest/videos?action=finalizeUpload", json=final, headers=headers)
    assert refused.status == 422

    put = await sandbox.put(f"/{path}", data=MP4, headers={"Authorization": "Bearer sbx-linkedin-123"})
    final["finalizeUploadRequest"]["uploadedPartIds"] = [put.headers["ETag"]]
    others = {**LINKEDIN, "Authorization": "Bearer sbx-linkedin-999"}
    assert (
        await sandbox.post("/rest/videos?action=finalizeUpload", json=final, headers=others)
    ).status == 422
    assert (
        await sandbox.post("/rest/videos?action=finalizeUpload", json=final, headers=headers)
    ).status == 200
    status = await sandbox.get(f"/rest/videos/{value['video']}", headers=headers)
    assert (await status.json())["status"] == "PROCESSING"
    assert (await sandbox.get(f"/rest/videos/{value['video']}", headers=others)).status == 404
    await asyncio.sleep(0.4)
    assert (await (await sandbox.get(f"/rest/videos/{value['video']}", headers=headers)).json())[
        "status"
    ] == "AVAILABLE"


async def test_bluesky_video_service_takes_only_tokens_made_for_it(sandbox: Sandbox) -> None:
    login = await sandbox.post(
        "/xrpc/com.atproto.server.createSession", json={"identifier": "lyon", "password": "sbx-bluesky-lyon"}
    )
    session = await login.json()
    auth = {"Authorization": f"Bearer {session['accessJwt']}"}
    host = str(sandbox.make_url("")).split("//")[1].split(":")[0]

    async def token(lxm: str) -> str:
        answer = await sandbox.get(
            "/xrpc/com.atproto.server.getServiceAuth",
            params={"aud": f"did:web:{host}", "lxm": lxm},
            headers=auth,
        )
        return str((await answer.json())["token"])

    async def upload(bearer: str, did: str) -> int:
        answer = await sandbox.post(
            "/xrpc/app.bsky.video.uploadVideo",
            params={"did": did, "name": "v.mp4"},
            headers={"Authorization": f"Bearer {bearer}", "Content-Type": "video/mp4"},
            data=MP4,
        )
        return answer.status

    assert await upload(session["accessJwt"], session["did"]) == 401  # an access token is not a service token
    assert await upload(await token("com.atproto.repo.createRecord"), session["did"]) == 401
    assert await upload(await token("com.atproto.repo.uploadBlob"), "did:plc:someoneelse") == 400
    assert await upload(await token("com.atproto.repo.uploadBlob"), session["did"]) == 200
    unknown = await sandbox.get("/xrpc/app.bsky.video.getJobStatus", params={"jobId": "nope"})
    assert unknown.status == 404
