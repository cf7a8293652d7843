"""The emulators' reply endpoints (issue #15) answer as the networks document: the page's own token
only, the item answered must be the page's and still there, the networks' own refusals; and what
people write by webhook can be answered (the sandbox remembers it, services/sandbox/audience.py).

Expected answers come from the networks' documentation (named in each emulator), not recordings."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
from sandbox_kit import Received, Sandbox

FB_PAGE = "1001"
FB_TOKEN = {"Authorization": f"Bearer sbx-facebook-{FB_PAGE}"}
LINKEDIN = {"LinkedIn-Version": "202506", "X-Restli-Protocol-Version": "2.0.0"}


async def _write(sandbox: Sandbox, **body: Any) -> list[dict[str, Any]]:
    response = await sandbox.post("/_sandbox/audience", json=body)
    assert response.status == 201, await response.text()
    items: list[dict[str, Any]] = (await response.json())["items"]
    return items


async def _graph_error(response: Any) -> tuple[int, int | None, int | None]:
    error = (await response.json())["error"]
    return response.status, error.get("code"), error.get("error_subcode")


def _closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.mark.parametrize(
    "body",
    [
        {"network": "x", "account": "a", "kind": "comment"},
        {"network": "instagram", "account": "a", "kind": "message"},
        {"network": "telegram", "account": "a", "kind": "comment"},
        {"network": "facebook", "account": "a", "kind": "comment", "parent": "no_such"},
        {"network": "facebook", "account": "a", "kind": "comment", "at": "yesterday"},
        {"network": "facebook", "kind": "comment"},
    ],
)
async def test_people_write_only_what_the_network_has(sandbox: Sandbox, body: dict[str, Any]) -> None:
    response = await sandbox.post("/_sandbox/audience", json=body)
    assert response.status == 400
    assert "error" in await response.json()


async def test_a_comment_pushed_by_webhook_can_be_answered_by_its_page_alone(
    sandbox: Sandbox, received: Received
) -> None:
    pushed = await sandbox.post(
        "/_sandbox/webhooks/meta",
        json={"page_id": FB_PAGE, "text": "Bonjour ?", "attempts": 1, "callback": _closed_port()},
    )
    [comment_id] = (await pushed.json())["ids"]

    other = await sandbox.post(
        f"/v23.0/{comment_id}/comments",
        data={"message": "Hop", "access_token": "sbx-facebook-2002"},
    )
    assert await _graph_error(other) == (400, 100, 33)
    nobody = await sandbox.post(f"/v23.0/{comment_id}/comments", data={"message": "Hop"})
    assert await _graph_error(nobody) == (400, 104, None)
    empty = await sandbox.post(f"/v23.0/{comment_id}/comments", data={"message": " "}, headers=FB_TOKEN)
    assert await _graph_error(empty) == (400, 100, None)
    assert await received(network="facebook") == []

    answered = await sandbox.post(
        f"/v23.0/{comment_id}/comments", data={"message": "Bonjour !"}, headers=FB_TOKEN
    )
    assert answered.status == 200
    reply_id = (await answered.json())["id"]
    listed = await sandbox.get(f"/v23.0/{comment_id}/comments", headers=FB_TOKEN)
    assert [(r["id"], r["from"]["id"]) for r in (await listed.json())["data"]] == [(reply_id, FB_PAGE)]
    peeking = await sandbox.get(
        f"/v23.0/{comment_id}/comments", headers={"Authorization": "Bearer sbx-facebook-2002"}
    )
    assert await _graph_error(peeking) == (400, 100, 33)


async def test_a_facebook_reply_names_its_parent_and_cannot_be_replied_to(sandbox: Sandbox) -> None:
    [first] = await _write(sandbox, network="facebook", account=FB_PAGE, kind="comment")
    [reply] = await _write(sandbox, network="facebook", account=FB_PAGE, kind="comment", parent=first["id"])
    node = await sandbox.get(f"/v23.0/{reply['id']}", headers=FB_TOKEN)
    assert (await node.json())["parent"] == {"id": first["id"]}
    assert (await node.json())["can_comment"] is False
    refused = await sandbox.post(f"/v23.0/{reply['id']}/comments", data={"message": "Oui"}, headers=FB_TOKEN)
    assert await _graph_error(refused) == (400, 100, None)
    other = await sandbox.get(f"/v23.0/{reply['id']}", headers={"Authorization": "Bearer sbx-facebook-2002"})
    assert await _graph_error(other) == (400, 100, 33)


async def test_a_pages_answers_are_not_its_feed_nor_its_latest_post(sandbox: Sandbox) -> None:
    [comment] = await _write(sandbox, network="facebook", account=FB_PAGE, kind="comment")
    answered = await sandbox.post(
        f"/v23.0/{comment['id']}/comments", data={"message": "Même texte"}, headers=FB_TOKEN
    )
    assert answered.status == 200

    feed = await sandbox.get(f"/v23.0/{FB_PAGE}/feed", headers=FB_TOKEN)
    assert (await feed.json())["data"] == []
    # Facebook's duplicate rule (#506) compares a post with the page's latest post, not its answers.
    posted = await sandbox.post(f"/v23.0/{FB_PAGE}/feed", data={"message": "Même texte"}, headers=FB_TOKEN)
    assert posted.status == 200, await posted.text()


async def test_messenger_answers_within_the_window_and_refuses_outside_it(
    sandbox: Sandbox, received: Received
) -> None:
    [recent] = await _write(sandbox, network="facebook", account=FB_PAGE, kind="message", at=time.time() - 60)
    [old] = await _write(
        sandbox, network="facebook", account=FB_PAGE, kind="message", at=time.time() - 86_460
    )

    def send(psid: str, **extra: Any) -> dict[str, Any]:
        return {"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": {"text": "Oui"}, **extra}

    sent = await sandbox.post(f"/v23.0/{FB_PAGE}/messages", json=send(recent["root_id"]), headers=FB_TOKEN)
    assert sent.status == 200
    assert (await sent.json())["recipient_id"] == recent["root_id"]
    late = await sandbox.post(f"/v23.0/{FB_PAGE}/messages", json=send(old["root_id"]), headers=FB_TOKEN)
    assert await _graph_error(late) == (400, 10, 2018278)
    stranger = await sandbox.post(f"/v23.0/{FB_PAGE}/messages", json=send("999"), headers=FB_TOKEN)
    assert await _graph_error(stranger) == (400, 100, 2018001)
    tagged = await sandbox.post(
        f"/v23.0/{FB_PAGE}/messages",
        json=send(recent["root_id"], messaging_type="MESSAGE_TAG"),
        headers=FB_TOKEN,
    )
    assert await _graph_error(tagged) == (400, 100, None)
    other_page = await sandbox.post(
        f"/v23.0/{FB_PAGE}/messages",
        json=send(recent["root_id"]),
        headers={"Authorization": "Bearer sbx-facebook-2002"},
    )
    assert other_page.status == 403
    assert len(await received(network="facebook")) == 1


async def test_an_instagram_reply_needs_the_accounts_token_and_its_comment(sandbox: Sandbox) -> None:
    [comment] = await _write(sandbox, network="instagram", account="178", kind="comment")
    path = f"/v23.0/{comment['id']}/replies"
    nobody = await sandbox.post(path, data={"message": "Oui"})
    assert await _graph_error(nobody) == (400, 104, None)
    other = await sandbox.post(path, data={"message": "Oui", "access_token": "sbx-instagram-179"})
    assert await _graph_error(other) == (400, 100, 33)
    answered = await sandbox.post(path, data={"message": "Oui", "access_token": "sbx-instagram-178"})
    assert answered.status == 200
    listed = await sandbox.get(path, headers={"Authorization": "Bearer sbx-instagram-178"})
    [reply] = (await listed.json())["data"]
    assert (reply["text"], reply["from"]["id"]) == ("Oui", "178")


async def _youtube_thread(sandbox: Sandbox) -> str:
    start = await sandbox.post(
        "/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status",
        json={"snippet": {"title": "Atelier"}},
        headers={"Authorization": "Bearer sbx-youtube-lyon", "X-Upload-Content-Length": "4"},
    )
    location = start.headers["Location"].split(str(sandbox.make_url("")).rstrip("/"))[-1]
    uploaded = await sandbox.put(location, data=b"mp4!", headers={"Authorization": "Bearer sbx-youtube-lyon"})
    assert uploaded.status == 201
    written = await sandbox.post("/_sandbox/youtube/comments", json={"account": "lyon", "texts": ["Quand ?"]})
    thread: str = (await written.json())["items"][0]["id"]
    return thread


@pytest.mark.parametrize(
    ("query", "snippet", "status", "reason"),
    [
        ("part=id", {"textOriginal": "Oui"}, 400, "invalidPart"),
        ("part=snippet", {"textOriginal": ""}, 400, "commentTextRequired"),
        ("part=snippet", {"textOriginal": "x" * 10_001}, 400, "commentTextTooLong"),
        ("part=snippet", {"textOriginal": "Oui", "parentId": "Ugnothing"}, 404, "parentCommentNotFound"),
    ],
)
async def test_youtube_comments_insert_refusals(
    sandbox: Sandbox, query: str, snippet: dict[str, str], status: int, reason: str
) -> None:
    thread = await _youtube_thread(sandbox)
    answered = await sandbox.post(
        f"/youtube/v3/comments?{query}",
        json={"snippet": {"parentId": thread, **snippet}},
        headers={"Authorization": "Bearer sbx-youtube-lyon"},
    )
    assert answered.status == status
    assert (await answered.json())["error"]["errors"][0]["reason"] == reason


async def test_youtube_comments_insert_takes_the_channels_token(sandbox: Sandbox) -> None:
    thread = await _youtube_thread(sandbox)
    body = {"snippet": {"parentId": thread, "textOriginal": "Oui"}}
    nobody = await sandbox.post("/youtube/v3/comments?part=snippet", json=body)
    assert nobody.status == 401
    other = await sandbox.post(
        "/youtube/v3/comments?part=snippet", json=body, headers={"Authorization": "Bearer sbx-youtube-paris"}
    )
    assert other.status == 404


async def test_a_linkedin_nested_comment_is_the_organizations_on_its_own_post(sandbox: Sandbox) -> None:
    headers = {**LINKEDIN, "Authorization": "Bearer sbx-linkedin-123"}
    post = {
        "author": "urn:li:organization:123",
        "commentary": "Forum",
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED"},
        "lifecycleState": "PUBLISHED",
    }
    created = await sandbox.post("/rest/posts", json=post, headers=headers)
    urn = created.headers["x-restli-id"]
    written = await sandbox.post("/_sandbox/linkedin/comments", json={"account": "123", "texts": ["Où ?"]})
    comment = (await written.json())["items"][0]["comment_urn"]
    path = f"/rest/socialActions/{comment}/comments"
    body = {
        "actor": "urn:li:organization:123",
        "object": urn,
        "message": {"text": "Ici"},
        "parentComment": comment,
    }

    other_actor = await sandbox.post(path, json={**body, "actor": "urn:li:organization:456"}, headers=headers)
    assert other_actor.status == 403
    wrong_post = await sandbox.post(path, json={**body, "object": "urn:li:share:1"}, headers=headers)
    assert wrong_post.status == 422
    no_version = await sandbox.post(path, json=body, headers={"Authorization": "Bearer sbx-linkedin-123"})
    assert no_version.status == 400
    other_org = await sandbox.post(
        path, json=body, headers={**LINKEDIN, "Authorization": "Bearer sbx-linkedin-456"}
    )
    assert other_org.status == 404
    answered = await sandbox.post(path, json=body, headers=headers)
    assert answered.status == 201
    assert (await answered.json())["parentComment"] == comment
    # Nested one level deep: an answer to the answer is refused.
    nested_urn = (await answered.json())["commentUrn"]
    deeper = await sandbox.post(
        f"/rest/socialActions/{nested_urn}/comments",
        json={**body, "parentComment": nested_urn},
        headers=headers,
    )
    assert deeper.status == 404


async def test_a_bot_answers_only_chats_that_wrote_to_it(sandbox: Sandbox, received: Received) -> None:
    pushed = await sandbox.post(
        "/_sandbox/webhooks/telegram",
        json={"page": "lyon", "text": "Bonjour", "chat_id": 4242, "attempts": 1, "callback": _closed_port()},
    )
    [item] = (await pushed.json())["ids"]
    chat, _, message_id = item.partition(":")

    def send(chat_id: int, replied: int, **extra: Any) -> dict[str, Any]:
        return {"chat_id": chat_id, "text": "Oui", "reply_parameters": {"message_id": replied, **extra}}

    stranger = await sandbox.post("/botsbx-telegram-lyon/sendMessage", json=send(4343, 1))
    assert (stranger.status, (await stranger.json())["description"]) == (400, "Bad Request: chat not found")
    other_bot = await sandbox.post(
        "/botsbx-telegram-paris/sendMessage", json=send(int(chat), int(message_id))
    )
    assert other_bot.status == 400
    missing = await sandbox.post("/botsbx-telegram-lyon/sendMessage", json=send(int(chat), 1))
    assert (await missing.json())["description"] == "Bad Request: message to be replied not found"
    anyway = await sandbox.post(
        "/botsbx-telegram-lyon/sendMessage", json=send(int(chat), 1, allow_sending_without_reply=True)
    )
    assert anyway.status == 200
    answered = await sandbox.post("/botsbx-telegram-lyon/sendMessage", json=send(int(chat), int(message_id)))
    result = (await answered.json())["result"]
    assert (result["chat"], result["reply_to_message"]["message_id"]) == (
        {"id": 4242, "type": "private"},
        int(message_id),
    )
    assert len(await received(network="telegram")) == 2
