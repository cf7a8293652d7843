"""The Bluesky adapter answers people (`reply`) and finds an interrupted answer again (`find_reply`).

Expected behaviour, from docs.bsky.app and the `app.bsky.feed.post` lexicon, written by hand: a reply
is a post record with `reply.parent` = the answered post's strong ref (uri and cid) and `reply.root`
= its thread's first post's (the answered post itself when it starts the thread), read from
`app.bsky.feed.getPostThread`; its record key is derived from the delivery's key, so it is created
once; an answered post the network does not have fails permanently, in words; `find_reply` finds the
page's own answer (its DID) among the post's replies by its text, and nobody else's.
"""

from __future__ import annotations

import aiohttp
import pytest
from adapter_kit import Arm, Received, page
from reply_kit import answering, people_write

from services.dispatcher.adapters import DeliveryError
from services.dispatcher.adapters.bluesky import BlueskyAdapter, record_key
from services.dispatcher.adapters.conversations import ReplyTarget
from services.sandbox.bluesky import did_for

TEXT = "Bonjour, l'atelier CV a lieu jeudi à 14 h, salle 2."
AUTHORIZED = {"Authorization": "Bearer sbx-bluesky-lyon"}


async def cid_of(base_url: str, uri: str) -> str:
    """The cid the network shows for a post (its thread view)."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{base_url}/xrpc/app.bsky.feed.getPostThread", params={"uri": uri}, headers=AUTHORIZED
        ) as response,
    ):
        assert response.status == 200, await response.text()
        cid: str = (await response.json())["thread"]["post"]["cid"]
        return cid


async def test_a_reply_names_its_parent_and_the_threads_root(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    adapter, account = BlueskyAdapter(http), page("bluesky", "lyon", base_url)
    ours = await adapter.publish(account, ["Atelier CV jeudi"], idempotency_key="post1")
    (question,) = await people_write(
        base_url, "bluesky", "lyon", texts=["À quelle heure ?"], reply_to=ours.remote_id
    )

    published = await adapter.reply(
        account, TEXT, answering(question, root_id=ours.remote_id), idempotency_key="p1.bluesky.lyon"
    )

    _post, answer = await received(network="bluesky")
    record = answer["body"]["record"]
    assert answer["reply_to"] == question["item_id"] and record["text"] == TEXT
    assert record["reply"] == {
        "root": {"uri": ours.remote_id, "cid": await cid_of(base_url, ours.remote_id)},
        "parent": {"uri": question["item_id"], "cid": await cid_of(base_url, question["item_id"])},
    }
    assert answer["body"]["rkey"] == record_key("p1.bluesky.lyon", 0)
    assert answer["remote_id"].startswith(f"at://{did_for('lyon')}/")
    assert published.remote_id == answer["remote_id"] and published.part_ids == (answer["remote_id"],)


async def test_a_mention_outside_any_thread_is_its_own_root(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    adapter, account = BlueskyAdapter(http), page("bluesky", "lyon", base_url)
    (question,) = await people_write(base_url, "bluesky", "lyon", count=1)

    await adapter.reply(account, TEXT, answering(question), idempotency_key="k")

    (answer,) = await received(network="bluesky")
    refs = answer["body"]["record"]["reply"]
    assert refs["root"] == refs["parent"] and refs["parent"]["uri"] == question["item_id"]


async def test_the_same_key_is_the_same_record(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    adapter, account = BlueskyAdapter(http), page("bluesky", "lyon", base_url)
    (question,) = await people_write(base_url, "bluesky", "lyon", count=1)

    first = await adapter.reply(account, TEXT, answering(question), idempotency_key="k")
    again = await adapter.reply(account, TEXT, answering(question), idempotency_key="k")

    assert again.remote_id == first.remote_id
    assert len(await received(network="bluesky")) == 1


async def test_a_reply_to_an_unknown_post_fails_permanently_in_words(
    http: aiohttp.ClientSession, base_url: str, received: Received
) -> None:
    adapter, account = BlueskyAdapter(http), page("bluesky", "lyon", base_url)
    gone = f"at://{did_for('someone')}/app.bsky.feed.post/3kgone22222222"

    with pytest.raises(DeliveryError) as refused:
        await adapter.reply(account, TEXT, ReplyTarget(gone, gone, "mention"), idempotency_key="k")

    assert refused.value.kind == "permanent" and "no longer has the post" in refused.value.message
    assert await received(network="bluesky") == []


@pytest.mark.parametrize("part", ["root", "parent"])
async def test_the_emulator_refuses_a_wrong_reference(base_url: str, part: str) -> None:
    """A ref to a post the network does not have, or with another cid, is refused (not stored)."""
    (question,) = await people_write(base_url, "bluesky", "lyon", count=1)
    good = {"uri": question["item_id"], "cid": await cid_of(base_url, question["item_id"])}
    async with aiohttp.ClientSession() as session:
        for wrong in ({**good, "cid": "bafyreiwrong"}, {**good, "uri": good["uri"] + "x"}):
            record = {
                "$type": "app.bsky.feed.post",
                "text": "x",
                "createdAt": "2026-01-05T10:00:00.000Z",
                "reply": {"root": good, "parent": good} | {part: wrong},
            }
            body = {"repo": did_for("lyon"), "collection": "app.bsky.feed.post", "record": record}
            answer = await session.post(
                f"{base_url}/xrpc/com.atproto.repo.createRecord", json=body, headers=AUTHORIZED
            )
            assert answer.status == 400
            assert (await answer.json())["error"] == "InvalidRequest"


async def test_find_reply_finds_the_pages_own_answer_and_nothing_else(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    adapter, account = BlueskyAdapter(http), page("bluesky", "lyon", base_url)
    question, other = await people_write(base_url, "bluesky", "lyon", count=2)
    target = answering(question)

    assert await adapter.find_reply(account, TEXT, target, since=0.0) is None
    await people_write(base_url, "bluesky", "lyon", texts=[TEXT], reply_to=question["item_id"])
    await adapter.reply(account, TEXT, answering(other), idempotency_key="other")
    assert await adapter.find_reply(account, TEXT, target, since=0.0) is None

    published = await adapter.reply(account, TEXT, target, idempotency_key="this")

    found = await adapter.find_reply(account, TEXT, target, since=0.0)
    assert found is not None and found.remote_id == published.remote_id
    assert await adapter.find_reply(account, "Autre texte", target, since=0.0) is None


async def test_an_interrupted_reply_is_read_back_and_found_again(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, received: Received
) -> None:
    adapter, account = BlueskyAdapter(http), page("bluesky", "lyon", base_url)
    (question,) = await people_write(base_url, "bluesky", "lyon", count=1)
    await arm("bluesky", "lyon", "disconnect_after_create")

    # The connection drops after the record is stored: its fixed key reads it back.
    published = await adapter.reply(account, TEXT, answering(question), idempotency_key="k")

    (answer,) = await received(network="bluesky")
    assert published.remote_id == answer["remote_id"]
    found = await adapter.find_reply(account, TEXT, answering(question), since=0.0)
    assert found is not None and found.remote_id == answer["remote_id"]
