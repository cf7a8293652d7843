"""The sandbox sends the networks' webhooks on demand (services/sandbox/webhooks.py), to a receiver
on 127.0.0.1 that records each call and answers as the test scripts it.

The policy, from Meta's and Telegram's documentation: Meta signs each body with
`X-Hub-Signature-256: sha256=<HMAC-SHA256 under the app secret>` (computed here independently) and
retries a delivery that was not answered 2xx; the handshake is a GET with `hub.mode=subscribe`,
the verify token and a challenge to echo; Telegram sends setWebhook's `secret_token` in
`X-Telegram-Bot-Api-Secret-Token` and retries too. Duplicates carry the very same body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sandbox_kit import Sandbox

from services.sandbox.webhooks import (
    SANDBOX_META_APP_SECRET,
    SANDBOX_META_VERIFY_TOKEN,
    sandbox_telegram_secret,
)


@dataclass
class Receiver:
    url: str
    answers: list[int]  # statuses to answer, in order; 200 once they run out
    calls: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
async def receiver(aiohttp_server: Callable[[web.Application], Awaitable[TestServer]]) -> Receiver:
    found = Receiver(url="", answers=[])

    async def push(request: web.Request) -> web.Response:
        found.calls.append((request.path, dict(request.headers), await request.read()))
        return web.json_response({}, status=found.answers.pop(0) if found.answers else 200)

    async def handshake(request: web.Request) -> web.Response:
        found.calls.append((request.path_qs, dict(request.headers), b""))
        if request.query.get("hub.verify_token") != SANDBOX_META_VERIFY_TOKEN:
            return web.json_response({}, status=403)
        return web.Response(text=request.query["hub.challenge"])

    app = web.Application()
    app.router.add_post("/webhooks/meta", push)
    app.router.add_get("/webhooks/meta", handshake)
    app.router.add_post("/webhooks/telegram/{page}", push)
    server = await aiohttp_server(app)
    found.url = str(server.make_url("")).rstrip("/")
    return found


def signature(body: bytes, secret: str = SANDBOX_META_APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def send(sandbox: Sandbox, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await sandbox.post(path, json=body)
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def test_a_comment_is_signed_as_meta_signs_it(sandbox: Sandbox, receiver: Receiver) -> None:
    answer = await send(
        sandbox,
        "/_sandbox/webhooks/meta",
        {
            "page_id": "104857600123",
            "text": "Bonjour",
            "post_id": "104857600123_42",
            "callback": receiver.url,
        },
    )
    [(path, headers, body)] = receiver.calls
    assert path == "/webhooks/meta"
    assert headers["X-Hub-Signature-256"] == signature(body)
    notification = json.loads(body)
    [entry] = notification["entry"]
    assert (notification["object"], entry["id"]) == ("page", "104857600123")
    [change] = entry["changes"]
    value = change["value"]
    assert (change["field"], value["item"], value["verb"]) == ("feed", "comment", "add")
    assert (value["post_id"], value["parent_id"], value["message"]) == (
        "104857600123_42",
        "104857600123_42",
        "Bonjour",
    )
    assert answer["ids"] == [value["comment_id"]]
    assert answer["deliveries"] == [[200]]


async def test_a_messenger_message_and_a_batch(sandbox: Sandbox, receiver: Receiver) -> None:
    body = {"kind": "message", "page_id": "1", "text": "Bonjour", "count": 3, "callback": receiver.url}
    answer = await send(sandbox, "/_sandbox/webhooks/meta", body)
    [(_, _, raw)] = receiver.calls
    events = json.loads(raw)["entry"][0]["messaging"]
    assert [e["message"]["mid"] for e in events] == answer["ids"]
    assert len(set(answer["ids"])) == 3


async def test_an_instagram_comment(sandbox: Sandbox, receiver: Receiver) -> None:
    body = {
        "kind": "instagram_comment",
        "page_id": "178414",
        "post_id": "1790",
        "text": "Top",
        "callback": receiver.url,
    }
    answer = await send(sandbox, "/_sandbox/webhooks/meta", body)
    [(_, headers, raw)] = receiver.calls
    assert headers["X-Hub-Signature-256"] == signature(raw)
    notification = json.loads(raw)
    [change] = notification["entry"][0]["changes"]
    assert (notification["object"], notification["entry"][0]["id"], change["field"]) == (
        "instagram",
        "178414",
        "comments",
    )
    assert (change["value"]["media"]["id"], change["value"]["text"], [change["value"]["id"]]) == (
        "1790",
        "Top",
        answer["ids"],
    )


async def test_a_delivery_is_retried_until_answered_2xx(sandbox: Sandbox, receiver: Receiver) -> None:
    receiver.answers = [500, 503, 429]
    answer = await send(
        sandbox, "/_sandbox/webhooks/meta", {"page_id": "1", "text": "Hé", "callback": receiver.url}
    )
    assert answer["deliveries"] == [[500, 503, 429, 200]]
    assert len({raw for _, _, raw in receiver.calls}) == 1  # the same notification each time


async def test_retries_stop_after_the_attempts(sandbox: Sandbox, receiver: Receiver) -> None:
    receiver.answers = [500] * 10
    body = {"page_id": "1", "text": "Hé", "attempts": 3, "callback": receiver.url}
    assert (await send(sandbox, "/_sandbox/webhooks/meta", body))["deliveries"] == [[500, 500, 500]]


async def test_duplicates_are_the_same_body(sandbox: Sandbox, receiver: Receiver) -> None:
    body = {"page_id": "1", "text": "Hé", "copies": 3, "callback": receiver.url}
    assert (await send(sandbox, "/_sandbox/webhooks/meta", body))["deliveries"] == [[200]] * 3
    assert len(receiver.calls) == 3 and len({raw for _, _, raw in receiver.calls}) == 1


@pytest.mark.parametrize("mode", ["missing", "wrong"])
async def test_a_bad_signature_on_demand(sandbox: Sandbox, receiver: Receiver, mode: str) -> None:
    await send(
        sandbox,
        "/_sandbox/webhooks/meta",
        {"page_id": "1", "text": "Hé", "signature": mode, "callback": receiver.url},
    )
    [(_, headers, body)] = receiver.calls
    assert headers.get("X-Hub-Signature-256") != signature(body)
    assert ("X-Hub-Signature-256" in headers) == (mode == "wrong")


async def test_a_telegram_update_carries_the_pages_secret_token(sandbox: Sandbox, receiver: Receiver) -> None:
    page = "lyon-part-dieu-telegram"
    body = {
        "page": page,
        "text": "Bonjour",
        "chat_id": 77,
        "reply_to": 5,
        "copies": 2,
        "callback": receiver.url,
    }
    answer = await send(sandbox, "/_sandbox/webhooks/telegram", body)
    assert [path for path, _, _ in receiver.calls] == [f"/webhooks/telegram/{page}"] * 2
    (_, headers, raw), (_, _, again) = receiver.calls
    assert headers["X-Telegram-Bot-Api-Secret-Token"] == sandbox_telegram_secret(page)
    assert raw == again  # a retried Update keeps its update_id
    update = json.loads(raw)
    message = update["message"]
    assert (message["chat"]["id"], message["text"], message["reply_to_message"]["message_id"]) == (
        77,
        "Bonjour",
        5,
    )
    assert answer["ids"] == [f"77:{message['message_id']}"]


async def test_the_handshake(sandbox: Sandbox, receiver: Receiver) -> None:
    assert (await send(sandbox, "/_sandbox/webhooks/meta/subscribe", {"callback": receiver.url}))[
        "subscribed"
    ]
    refused = await send(
        sandbox, "/_sandbox/webhooks/meta/subscribe", {"callback": receiver.url, "verify_token": "x"}
    )
    assert refused == {"subscribed": False, "status": 403}


@pytest.mark.parametrize(
    "body",
    [
        {"text": "no page"},
        {"page_id": "1", "text": ""},
        {"page_id": "1", "text": "a", "kind": "like"},
        {"page_id": "1", "text": "a", "copies": 0},
    ],
)
async def test_a_bad_request_is_a_400(sandbox: Sandbox, body: dict[str, Any]) -> None:
    response = await sandbox.post("/_sandbox/webhooks/meta", json={**body, "callback": "http://127.0.0.1:9"})
    assert response.status == 400
    assert set((await response.json())["error"]) == {"code", "message", "field"}
