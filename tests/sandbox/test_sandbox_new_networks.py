"""The Instagram, Threads, Telegram and YouTube emulators speak their documented shapes, and the
fault switches added with them (`invalid_content`, `timeout`, every account with `*`, rate limits
off) behave as documented."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pytest_aiohttp import AiohttpClient
from sandbox_kit import Arm, Received, Sandbox

from services.sandbox.app import create_app
from services.sandbox.inspection import SAMPLE_JPEG
from services.sandbox.settings import Settings


async def test_instagram_publishes_a_container_once(sandbox: Sandbox, received: Received) -> None:
    token = {"access_token": "sbx-instagram-17841"}
    created = await sandbox.post(
        "/v23.0/17841/media",
        data={
            **token,
            "image_url": str(sandbox.make_url("/_sandbox/sample.jpg")),
            "caption": "Forum #emploi",
        },
    )
    container = (await created.json())["id"]
    status = await (
        await sandbox.get(f"/v23.0/{container}", params={**token, "fields": "status_code"})
    ).json()
    first = await sandbox.post("/v23.0/17841/media_publish", data={**token, "creation_id": container})
    again = await sandbox.post("/v23.0/17841/media_publish", data={**token, "creation_id": container})

    assert status["status_code"] == "FINISHED"
    assert first.status == 200 and "id" in await first.json()
    assert again.status == 400 and (await again.json())["error"]["code"] == 100
    [post] = await received(network="instagram")
    assert post["text"] == "Forum #emploi"


async def test_instagram_needs_media_and_names_an_expired_token(sandbox: Sandbox) -> None:
    no_media = await sandbox.post(
        "/v23.0/17841/media", data={"access_token": "sbx-instagram-17841", "caption": "x"}
    )
    expired = await sandbox.post("/v23.0/17841/media", data={"access_token": "sbx-expired-x", "caption": "x"})

    assert (no_media.status, (await no_media.json())["error"]["code"]) == (400, 100)
    error = (await expired.json())["error"]
    assert (error["code"], error["error_subcode"]) == (190, 463)


async def test_instagram_downloads_the_image_and_keeps_its_fingerprint(
    sandbox: Sandbox, received: Received
) -> None:
    token = {"access_token": "sbx-instagram-17841"}
    sample = str(sandbox.make_url("/_sandbox/sample.jpg"))
    fields = {**token, "image_url": sample, "caption": "Forum", "alt_text": "Affiche"}
    container = (await (await sandbox.post("/v23.0/17841/media", data=fields)).json())["id"]
    await sandbox.post("/v23.0/17841/media_publish", data={**token, "creation_id": container})

    [post] = await received(network="instagram")
    [image] = post["media"]
    assert image["sha256"] == hashlib.sha256(SAMPLE_JPEG).hexdigest()
    assert (image["content_type"], image["alt"]) == ("image/jpeg", "Affiche")


@pytest.mark.parametrize(
    ("path", "reason"),
    [("/_sandbox/nothing-here.jpg", "HTTP 404"), ("/_sandbox/posts", "not image/jpeg")],
)
async def test_media_instagram_or_threads_cannot_download_fail_the_container(
    sandbox: Sandbox, path: str, reason: str
) -> None:
    url = str(sandbox.make_url(path))
    instagram = await sandbox.post(
        "/v23.0/17841/media", data={"access_token": "sbx-instagram-17841", "image_url": url, "caption": "x"}
    )
    threads = await sandbox.post(
        "/v1.0/9001/threads",
        data={"access_token": "sbx-threads-9001", "media_type": "IMAGE", "image_url": url, "text": "x"},
    )

    for response in (instagram, threads):
        error = (await response.json())["error"]
        assert (response.status, error["code"], error["error_subcode"]) == (400, 9004, 2207052)
    assert reason.split()[-1] in (await instagram.json())["error"]["message"]


async def test_threads_replies_chain_and_list_separately(sandbox: Sandbox) -> None:
    token = {"access_token": "sbx-threads-9001"}

    async def post(text: str, reply_to: str | None = None) -> str:
        fields = {**token, "media_type": "TEXT", "text": text}
        if reply_to:
            fields["reply_to_id"] = reply_to
        container = (await (await sandbox.post("/v1.0/9001/threads", data=fields)).json())["id"]
        published = await sandbox.post("/v1.0/9001/threads_publish", data={**token, "creation_id": container})
        return str((await published.json())["id"])

    root = await post("1/2")
    reply = await post("2/2", root)
    threads = await (await sandbox.get("/v1.0/9001/threads", params=token)).json()
    replies = await (await sandbox.get("/v1.0/9001/replies", params=token)).json()

    assert [t["id"] for t in threads["data"]] == [root]
    assert [(r["id"], r["replied_to"]["id"]) for r in replies["data"]] == [(reply, root)]


async def test_threads_counts_emoji_as_their_bytes(sandbox: Sandbox) -> None:
    fields = {"access_token": "sbx-threads-9001", "media_type": "TEXT", "text": "😀" * 126}
    response = await sandbox.post("/v1.0/9001/threads", data=fields)
    assert response.status == 400  # 126 × 4 bytes = 504 > 500


@pytest.mark.parametrize(
    ("token", "chat", "status", "description"),
    [
        ("sbx-telegram-ft_lyon", "@ft_lyon", 200, None),
        ("not-a-token", "@ft_lyon", 401, "Unauthorized"),
        ("sbx-telegram-ft_lyon", "@ft_other", 403, "Forbidden: bot is not a member of the channel chat"),
        ("sbx-telegram-ft_lyon", "lyon", 400, "Bad Request: chat not found"),
    ],
)
async def test_telegram_answers_in_the_bot_api_shape(
    sandbox: Sandbox, token: str, chat: str, status: int, description: str | None
) -> None:
    response = await sandbox.post(f"/bot{token}/sendMessage", json={"chat_id": chat, "text": "Bonjour"})
    body = await response.json()

    assert response.status == status
    if description is None:
        assert body["ok"] is True and body["result"]["message_id"] == 1
        assert body["result"]["chat"]["type"] == "channel"
    else:
        assert body == {"ok": False, "error_code": status, "description": description}


async def test_telegram_flood_control_says_when_to_retry(sandbox: Sandbox, arm: Arm) -> None:
    await arm("telegram", "ft_lyon", "rate_limit", seconds=7)
    response = await sandbox.post(
        "/botsbx-telegram-ft_lyon/sendMessage", json={"chat_id": "@ft_lyon", "text": "x"}
    )
    body = await response.json()
    assert response.status == 429 and 6 <= body["parameters"]["retry_after"] <= 7


async def test_youtube_resumable_upload_answers_status_queries(sandbox: Sandbox, received: Received) -> None:
    headers = {"Authorization": "Bearer sbx-youtube-chan", "X-Upload-Content-Length": "10"}
    resource = {
        "snippet": {"title": "Forum", "description": "Le forum #emploi"},
        "status": {"privacyStatus": "public"},
    }
    started = await sandbox.post(
        "/upload/youtube/v3/videos",
        params={"uploadType": "resumable", "part": "snippet,status"},
        json=resource,
        headers=headers,
    )
    location = started.headers["Location"]
    path = location.split("://", 1)[1].split("/", 1)[1]
    auth = {"Authorization": "Bearer sbx-youtube-chan"}
    half = await sandbox.put(f"/{path}", data=b"01234", headers=auth)
    asked = await sandbox.put(f"/{path}", data=b"", headers={**auth, "Content-Range": "bytes */10"})
    done = await sandbox.put(f"/{path}", data=b"56789", headers={**auth, "Content-Range": "bytes 5-9/10"})
    again = await sandbox.put(f"/{path}", data=b"", headers={**auth, "Content-Range": "bytes */10"})

    assert (half.status, half.headers["Range"]) == (308, "bytes=0-4")
    assert (asked.status, asked.headers["Range"]) == (308, "bytes=0-4")
    video = await done.json()
    assert done.status == 201 and (await again.json())["id"] == video["id"]
    [stored] = await received(network="youtube")
    assert stored["text"] == "Le forum #emploi"


async def test_youtube_refuses_angle_brackets_in_the_title(sandbox: Sandbox) -> None:
    headers = {"Authorization": "Bearer sbx-youtube-chan", "X-Upload-Content-Length": "10"}
    resource = {"snippet": {"title": "<b>Forum</b>", "description": ""}}
    response = await sandbox.post(
        "/upload/youtube/v3/videos", params={"uploadType": "resumable"}, json=resource, headers=headers
    )
    assert (await response.json())["error"]["errors"][0]["reason"] == "invalidTitle"


async def test_a_fault_for_every_account_is_an_outage_of_the_network(sandbox: Sandbox, arm: Arm) -> None:
    await arm("mastodon", "*", "server_error", times=0)
    for account in ("lyon", "grenoble"):
        response = await sandbox.post(
            "/api/v1/statuses",
            json={"status": "x"},
            headers={"Authorization": f"Bearer sbx-mastodon-{account}"},
        )
        assert response.status == 503


async def test_a_timeout_creates_nothing(sandbox: Sandbox, arm: Arm, received: Received) -> None:
    await arm("x", "lyon", "timeout", seconds=0.1)
    response = await sandbox.post(
        "/2/tweets", json={"text": "x"}, headers={"Authorization": "Bearer sbx-x-lyon"}
    )
    assert response.status == 503 and await received(network="x") == []


async def test_rate_limits_can_be_switched_off(aiohttp_client: AiohttpClient, tmp_path: Path) -> None:
    settings = Settings.from_env({"RELAIS_SANDBOX_RATE_LIMITS": "off", "RELAIS_DATA_DIR": str(tmp_path)})
    client = await aiohttp_client(create_app(settings))
    headers = {"Authorization": "Bearer sbx-x-lyon"}
    statuses = [
        (await client.post("/2/tweets", json={"text": f"post {n}"}, headers=headers)).status
        for n in range(101)
    ]
    assert statuses == [201] * 101
    with pytest.raises(ValueError, match="RELAIS_SANDBOX_RATE_LIMITS"):
        Settings.from_env({"RELAIS_SANDBOX_RATE_LIMITS": "maybe"})
