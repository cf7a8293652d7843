"""The LinkedIn adapter answers people's comments (issue #15) with a nested comment under the
conversation's first-level comment, and finds the organization's own answer again, nothing else.

Expected values come from the policy (the adapter's module docstring, the Comments API), not from a
recording."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from adapter_kit import Arm, Received, page

from services.dispatcher.adapters import DeliveryError, PageAccount, UnknownOutcome
from services.dispatcher.adapters.conversations import ReplyTarget
from services.dispatcher.adapters.linkedin import LinkedInAdapter

ORG = "123"
HEADERS = {
    "Authorization": f"Bearer sbx-linkedin-{ORG}",
    "LinkedIn-Version": "202506",
    "X-Restli-Protocol-Version": "2.0.0",
}


async def _write(base_url: str, **body: Any) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base_url}/_sandbox/linkedin/comments", json=body) as response,
    ):
        assert response.status == 201, await response.text()
        items: list[dict[str, Any]] = (await response.json())["items"]
        return items


async def _conversation(
    http: aiohttp.ClientSession, base_url: str, org: str = ORG
) -> tuple[PageAccount, str, ReplyTarget]:
    account = page("linkedin", org, base_url)
    post = (await LinkedInAdapter(http).publish(account, ["Forum emploi"], idempotency_key=org)).remote_id
    [comment] = await _write(base_url, account=org, post=post, texts=["Inscription ?"])
    urn = comment["comment_urn"]
    return account, post, ReplyTarget(item_id=urn, root_id=urn, kind="comment")


async def _nested(http: aiohttp.ClientSession, base_url: str, urn: str) -> list[dict[str, Any]]:
    async with http.get(
        f"{base_url}/rest/socialActions/{quote(urn, safe='')}/comments", headers=HEADERS
    ) as response:
        assert response.status == 200, await response.text()
        elements: list[dict[str, Any]] = (await response.json())["elements"]
        return elements


async def test_an_answer_lands_under_the_comment_once_and_is_found_again(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    account, post, target = await _conversation(http, base_url)
    adapter, before = LinkedInAdapter(http), time.time()

    publication = await adapter.reply(account, "Sur le site.", target, idempotency_key="r1")

    [answer] = await _nested(http, base_url, target.item_id)
    assert (answer["commentUrn"], answer["message"]["text"]) == (publication.remote_id, "Sur le site.")
    assert (answer["actor"], answer["object"], answer["parentComment"]) == (
        f"urn:li:organization:{ORG}",
        post,
        target.item_id,
    )
    assert publication.url.startswith(f"https://www.linkedin.com/feed/update/{post}/?commentUrn=")
    answers = [p for p in await received(network="linkedin") if p["reply_to"]]
    assert [p["remote_id"] for p in answers] == [publication.remote_id]
    found = await adapter.find_reply(account, "Sur  le site.", target, since=before)
    assert found is not None and found.remote_id == publication.remote_id
    # The answer is neither a post of the organization nor an item people sent.
    assert await adapter.find(account, ["Sur le site."], idempotency_key="r1", since=0) is None
    inbox = await adapter.read_comments(account, None)
    assert [item.text for item in inbox.items] == ["Inscription ?"]


async def test_an_answer_to_a_nested_comment_goes_under_the_first_level_one(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    account, _post, top = await _conversation(http, base_url)
    [person] = await _write(base_url, account=ORG, parent=top.item_id, texts=["Et le lieu ?"])
    target = ReplyTarget(item_id=person["comment_urn"], root_id=top.item_id, kind="reply")

    await LinkedInAdapter(http).reply(account, "Au palais des congrès.", target, idempotency_key="r1")

    nested = await _nested(http, base_url, top.item_id)
    assert sorted(c["message"]["text"] for c in nested) == ["Au palais des congrès.", "Et le lieu ?"]


async def test_find_reply_ignores_peoples_answers_other_texts_and_older_replies(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    account, _post, target = await _conversation(http, base_url)
    adapter = LinkedInAdapter(http)
    await _write(base_url, account=ORG, parent=target.item_id, texts=["Merci"])
    assert await adapter.find_reply(account, "Merci", target, since=time.time()) is None

    await adapter.reply(account, "Merci", target, idempotency_key="r1")

    assert await adapter.find_reply(account, "Merci !", target, since=time.time()) is None
    assert await adapter.find_reply(account, "Merci", target, since=time.time() + 3600) is None
    assert await adapter.find_reply(account, "Merci", target, since=time.time() - 60) is not None


async def test_an_answer_whose_response_is_lost_is_unknown_then_found_once(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    account, _post, target = await _conversation(http, base_url)
    adapter = LinkedInAdapter(http)
    await arm("linkedin", ORG, "disconnect_after_create")
    before = time.time()

    with pytest.raises(UnknownOutcome):
        await adapter.reply(account, "Bonjour", target, idempotency_key="r1")

    found = await adapter.find_reply(account, "Bonjour", target, since=before)
    assert found is not None
    assert [c["commentUrn"] for c in await _nested(http, base_url, target.item_id)] == [found.remote_id]


async def test_answer_errors_are_mapped_to_their_kinds(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    account, _post, target = await _conversation(http, base_url)
    adapter = LinkedInAdapter(http)

    await arm("linkedin", ORG, "expired_token")
    with pytest.raises(DeliveryError) as expired:
        await adapter.reply(account, "Bonjour", target, idempotency_key="r1")
    assert expired.value.kind == "auth"

    await arm("linkedin", ORG, "rate_limit")
    with pytest.raises(DeliveryError) as limited:
        await adapter.reply(account, "Bonjour", target, idempotency_key="r1")
    assert (limited.value.kind, limited.value.throttled) == ("transient", True)
    assert await _nested(http, base_url, target.item_id) == []


async def test_a_deleted_or_another_organizations_comment_is_a_permanent_refusal(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    account, _post, deleted = await _conversation(http, base_url)
    _other, _other_post, elsewhere = await _conversation(http, base_url, org="456")
    comment_id = deleted.item_id.rstrip(")").rpartition(",")[2]
    async with http.delete(f"{base_url}/_sandbox/linkedin/comments/{comment_id}") as response:
        assert response.status == 200
    adapter = LinkedInAdapter(http)

    for target in (deleted, elsewhere):
        with pytest.raises(DeliveryError) as refused:
            await adapter.reply(account, "Bonjour", target, idempotency_key="r1")
        assert (refused.value.kind, refused.value.network_code) == ("permanent", "NOT_FOUND")
    assert [p for p in await received(network="linkedin") if p["reply_to"]] == []
