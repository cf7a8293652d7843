"""The sandbox's own surface: inspection API, web page, health, and the fault switches."""

from __future__ import annotations

import asyncio
import io
import time

import aiohttp
import pytest
from aiohttp import FormData
from PIL import Image
from sandbox_kit import Arm, Received, Sandbox

from services.sandbox.store import STORE
from shared.images import image_dimensions
from tests.images import png

X = {"Authorization": "Bearer sbx-x-lyon"}


async def test_health_and_readiness(sandbox: Sandbox) -> None:
    health, ready = await sandbox.get("/healthz"), await sandbox.get("/readyz")

    assert (health.status, await health.json()) == (200, {"status": "ok"})
    assert (ready.status, await ready.json()) == (200, {"status": "ready"})


async def test_the_sample_image_is_a_real_viewable_jpeg(sandbox: Sandbox) -> None:
    response = await sandbox.get("/_sandbox/sample.jpg")
    data = await response.read()

    assert response.status == 200 and response.content_type == "image/jpeg"
    picture = Image.open(io.BytesIO(data))
    picture.load()  # decodes every pixel: a truncated or header-only file raises here
    assert (picture.format, picture.size, picture.mode) == ("JPEG", (1200, 630), "RGB")
    assert image_dimensions(data) == ("image/jpeg", 1200, 630)
    # Something to see, not one flat colour: several distinct colours across the picture.
    assert len(picture.getcolors(maxcolors=1 << 20) or ()) > 20


async def test_not_ready_once_the_database_is_gone(sandbox: Sandbox) -> None:
    sandbox.app[STORE].close()

    response = await sandbox.get("/readyz")

    assert (response.status, await response.json()) == (503, {"status": "not ready"})


async def test_posts_are_listed_filtered_and_cleared(sandbox: Sandbox, received: Received) -> None:
    await sandbox.post("/2/tweets", json={"text": "x one"}, headers=X)
    await sandbox.post("/2/tweets", json={"text": "x two"}, headers={"Authorization": "Bearer sbx-x-paris"})
    await sandbox.post(
        "/api/v1/statuses", json={"status": "m"}, headers={"Authorization": "Bearer sbx-mastodon-lyon"}
    )

    everything = await received()
    lyon_on_x = await received(network="x", account="lyon")
    cleared = await (await sandbox.delete("/_sandbox/posts")).json()

    assert [post["text"] for post in everything] == ["x one", "x two", "m"]
    assert set(everything[0]) >= {
        "network",
        "account",
        "remote_id",
        "text",
        "idempotency_key",
        "received_at",
        "body",
    }
    assert [post["text"] for post in lyon_on_x] == ["x one"]
    assert cleared == {"cleared": 3}
    assert await received() == []


async def test_the_web_page_lists_posts_and_escapes_everything(sandbox: Sandbox) -> None:
    hostile = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
    await sandbox.post("/2/tweets", json={"text": hostile}, headers=X)
    await sandbox.post(
        "/api/v1/statuses", json={"status": "a\"b'c"}, headers={"Authorization": "Bearer sbx-mastodon-lyon"}
    )

    response = await sandbox.get("/")
    page = await response.text()

    assert response.content_type == "text/html"
    assert "<script>" not in page and "<img" not in page
    assert (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in page
    )
    assert "a&quot;b&#x27;c" in page
    assert "<h2>x</h2>" in page and "<h2>mastodon</h2>" in page


async def test_the_web_page_shows_attachments_with_their_alt_text_escaped(sandbox: Sandbox) -> None:
    mastodon = {"Authorization": "Bearer sbx-mastodon-lyon"}
    form = FormData()
    form.add_field("file", io.BytesIO(png()), filename="a.png", content_type="image/png")
    form.add_field("description", "<b>Affiche</b> du forum")
    uploaded = await (await sandbox.post("/api/v2/media", data=form, headers=mastodon)).json()
    await sandbox.post(
        "/api/v1/statuses", json={"status": "Forum", "media_ids": [uploaded["id"]]}, headers=mastodon
    )

    page = await (await sandbox.get("/")).text()

    assert "image/png" in page and "alt: &lt;b&gt;Affiche&lt;/b&gt; du forum" in page
    assert "<b>Affiche" not in page


async def test_empty_page_says_so(sandbox: Sandbox) -> None:
    assert "No account has received anything yet." in await (await sandbox.get("/")).text()


async def test_faults_are_armed_listed_used_up_and_cleared(sandbox: Sandbox, arm: Arm) -> None:
    await arm("x", "lyon", "server_error", times=2)
    await arm("x", "paris", "server_error", times=0)

    listed = await (await sandbox.get("/_sandbox/faults")).json()
    statuses = [(await sandbox.post("/2/tweets", json={"text": f"t{n}"}, headers=X)).status for n in range(3)]
    paris = [
        (
            await sandbox.post(
                "/2/tweets", json={"text": f"p{n}"}, headers={"Authorization": "Bearer sbx-x-paris"}
            )
        ).status
        for n in range(3)
    ]
    cleared = await (await sandbox.delete("/_sandbox/faults")).json()

    assert {(fault["account"], fault["times"]) for fault in listed["faults"]} == {("lyon", 2), ("paris", 0)}
    assert statuses == [503, 503, 201]
    assert paris == [503, 503, 503]
    assert cleared == {"cleared": 1}


@pytest.mark.parametrize(
    "body",
    [
        {"network": "myspace", "account": "a", "mode": "server_error"},
        {"network": "x", "account": "", "mode": "server_error"},
        {"network": "x", "account": "a", "mode": "explode"},
        {"network": "x", "account": "a", "mode": "slow", "seconds": -1},
        {"network": "x", "account": "a", "mode": "slow", "times": "two"},
    ],
)
async def test_bad_faults_are_refused(sandbox: Sandbox, body: dict[str, object]) -> None:
    response = await sandbox.post("/_sandbox/faults", json=body)
    assert response.status == 400
    assert (await response.json())["error"]


async def test_slow_fault_delays_then_succeeds(sandbox: Sandbox, arm: Arm) -> None:
    await arm("x", "lyon", "slow", seconds=0.3)
    started = time.monotonic()

    response = await sandbox.post("/2/tweets", json={"text": "slow"}, headers=X)

    assert response.status == 201
    assert time.monotonic() - started >= 0.3


async def test_disconnect_after_create_stores_the_post_but_answers_nothing(
    sandbox: Sandbox, arm: Arm, received: Received
) -> None:
    await arm("mastodon", "lyon", "disconnect_after_create")

    with pytest.raises(aiohttp.ServerDisconnectedError):
        await sandbox.post(
            "/api/v1/statuses",
            json={"status": "lost answer"},
            headers={"Authorization": "Bearer sbx-mastodon-lyon"},
        )

    assert [post["text"] for post in await received()] == ["lost answer"]


async def test_timeout_after_create_stores_the_post_before_hanging(
    sandbox: Sandbox, arm: Arm, received: Received
) -> None:
    await arm("x", "lyon", "timeout_after_create", seconds=5)

    with pytest.raises(asyncio.TimeoutError):
        await sandbox.post(
            "/2/tweets", json={"text": "hung"}, headers=X, timeout=aiohttp.ClientTimeout(total=0.3)
        )

    assert [post["text"] for post in await received()] == ["hung"]


async def test_the_429s_of_the_rate_windows_are_counted_per_network(sandbox: Sandbox, arm: Arm) -> None:
    # X allows an account 100 posts per 15 minutes: the 101st and 102nd are refused, and counted; a
    # forced `rate_limit` fault is a test's choice, not a client going past a limit: not counted.
    statuses = [
        (await sandbox.post("/2/tweets", json={"text": f"t{n}"}, headers=X)).status for n in range(102)
    ]
    await arm("mastodon", "lyon", "rate_limit")
    forced = await sandbox.post(
        "/api/v1/statuses", json={"status": "m"}, headers={"Authorization": "Bearer sbx-mastodon-lyon"}
    )

    assert statuses == [201] * 100 + [429, 429] and forced.status == 429
    assert await (await sandbox.get("/_sandbox/rates")).json() == {"refused": {"x": 2}}
    await sandbox.delete("/_sandbox/posts")
    assert await (await sandbox.get("/_sandbox/rates")).json() == {"refused": {}}
