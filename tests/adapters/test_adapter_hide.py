"""The adapters hide a comment that shows a citizen's identifiers (issue #15 item 5) with each network's
moderation API, against its emulator: the comment stays but leaves what the public sees; hiding it
again is no error; a deleted comment, another page's comment or a private message is a permanent
refusal; the networks' faults keep their kinds.

Expected values come from the policy written in the adapters' docstrings (Graph API › Comment ›
Updating `is_hidden`, IG Comment › Updating `hide`, YouTube Comments: setModerationStatus
`heldForReview`), not from a recording."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from adapter_kit import Arm, delete_audience, media_for, page, write_audience

from services.dispatcher.adapters import DeliveryError
from services.dispatcher.adapters.conversations import CommentHider
from services.dispatcher.adapters.facebook import FacebookAdapter
from services.dispatcher.adapters.graph import GraphAdapter
from services.dispatcher.adapters.instagram import InstagramAdapter
from services.dispatcher.adapters.youtube import YouTubeAdapter

META: dict[str, tuple[str, Callable[[aiohttp.ClientSession], CommentHider], str]] = {
    "facebook": ("1001", FacebookAdapter, "is_hidden"),
    "instagram": ("17841", InstagramAdapter, "hidden"),
}


async def _public(http: aiohttp.ClientSession, base_url: str, network: str, account: str) -> list[str]:
    async with http.get(f"{base_url}/_sandbox/audience/{network}/{account}") as response:
        assert response.status == 200
        return [item["id"] for item in (await response.json())["items"]]


async def _node(http: aiohttp.ClientSession, base_url: str, network: str, item_id: str) -> dict[str, Any]:
    account = META[network][0]
    headers = {"Authorization": f"Bearer sbx-{network}-{account}"}
    async with http.get(f"{base_url}/v23.0/{item_id}", headers=headers) as response:
        assert response.status == 200, await response.text()
        node: dict[str, Any] = await response.json()
        return node


@pytest.mark.parametrize("network", list(META))
async def test_a_meta_comment_is_hidden_from_the_public_and_hiding_again_is_no_error(
    http: aiohttp.ClientSession, base_url: str, network: str
) -> None:
    account_id, adapter_type, flag = META[network]
    account, adapter = page(network, account_id, base_url), adapter_type(http)
    shown, hidden = await write_audience(
        base_url, network=network, account=account_id, kind="comment", texts=["Bonjour", "Mon NIR est masqué"]
    )
    assert set(await _public(http, base_url, network, account_id)) == {shown["id"], hidden["id"]}

    await adapter.hide_comment(account, hidden["id"])
    await adapter.hide_comment(account, hidden["id"])  # the same answer again: not an error

    assert await _public(http, base_url, network, account_id) == [shown["id"]]
    assert (await _node(http, base_url, network, hidden["id"]))[flag] is True  # it stays, hidden
    assert (await _node(http, base_url, network, shown["id"]))[flag] is False


@pytest.mark.parametrize("network", list(META))
async def test_a_meta_comment_deleted_or_not_the_pages_is_a_permanent_refusal(
    http: aiohttp.ClientSession, base_url: str, network: str
) -> None:
    account_id, adapter_type, _flag = META[network]
    adapter = adapter_type(http)
    [mine] = await write_audience(base_url, network=network, account=account_id, kind="comment")
    [theirs] = await write_audience(base_url, network=network, account="2002", kind="comment")

    with pytest.raises(DeliveryError) as other:
        await adapter.hide_comment(page(network, account_id, base_url), theirs["id"])
    assert (other.value.kind, other.value.network_code) == ("permanent", "100/33")
    assert await _public(http, base_url, network, "2002") == [theirs["id"]]

    await delete_audience(base_url, network, mine["id"])
    with pytest.raises(DeliveryError) as deleted:
        await adapter.hide_comment(page(network, account_id, base_url), mine["id"])
    assert (deleted.value.kind, deleted.value.network_code) == ("permanent", "100/33")


async def test_a_private_message_is_not_a_comment_facebook_hides(
    http: aiohttp.ClientSession, base_url: str
) -> None:
    [message] = await write_audience(base_url, network="facebook", account="1001", kind="message")
    with pytest.raises(DeliveryError) as refused:
        await FacebookAdapter(http).hide_comment(page("facebook", "1001", base_url), message["id"])
    assert refused.value.kind == "permanent"


@pytest.mark.parametrize("network", list(META))
async def test_meta_faults_keep_their_kinds_and_hide_nothing(
    http: aiohttp.ClientSession, base_url: str, arm: Arm, network: str
) -> None:
    account_id, adapter_type, _flag = META[network]
    account, adapter = page(network, account_id, base_url), adapter_type(http)
    [item] = await write_audience(base_url, network=network, account=account_id, kind="comment")

    await arm(network, account_id, "server_error")
    with pytest.raises(DeliveryError) as unavailable:
        await adapter.hide_comment(account, item["id"])
    assert unavailable.value.kind == "transient"
    await arm(network, account_id, "rate_limit", seconds=120)
    with pytest.raises(DeliveryError) as limited:
        await adapter.hide_comment(account, item["id"])
    assert (limited.value.kind, limited.value.throttled) == ("transient", True)
    await arm(network, account_id, "expired_token")
    with pytest.raises(DeliveryError) as expired:
        await adapter.hide_comment(account, item["id"])
    assert expired.value.kind == "auth"
    assert await _public(http, base_url, network, account_id) == [item["id"]]

    # The hide lands and its answer is lost: a failed call, made again safely (no unknown outcome).
    await arm(network, account_id, "disconnect_after_create")
    with pytest.raises(DeliveryError) as lost:
        await adapter.hide_comment(account, item["id"])
    assert lost.value.kind == "transient"
    await adapter.hide_comment(account, item["id"])
    assert await _public(http, base_url, network, account_id) == []


def test_the_graph_adapters_share_one_hiding_call() -> None:
    assert issubclass(FacebookAdapter, GraphAdapter) and issubclass(InstagramAdapter, GraphAdapter)


# --- YouTube -------------------------------------------------------------------------------------


async def _threads(http: aiohttp.ClientSession, base_url: str) -> list[str]:
    """The channel's threads and replies as the public listings give them (published only)."""
    headers = {"Authorization": "Bearer sbx-youtube-lyon"}
    params = {"part": "snippet,replies", "allThreadsRelatedToChannelId": "", "maxResults": "100"}
    async with http.get(
        f"{base_url}/youtube/v3/channels", params={"part": "id", "mine": "true"}, headers=headers
    ) as r:
        params["allThreadsRelatedToChannelId"] = (await r.json())["items"][0]["id"]
    async with http.get(f"{base_url}/youtube/v3/commentThreads", params=params, headers=headers) as response:
        assert response.status == 200, await response.text()
        threads = (await response.json())["items"]
    found = [t["id"] for t in threads]
    for thread in threads:
        found += [c["id"] for c in (thread.get("replies") or {}).get("comments", [])]
    return found


async def _youtube_comments(base_url: str, **body: Any) -> list[str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base_url}/_sandbox/youtube/comments", json={"account": "lyon", **body}) as response,
    ):
        assert response.status == 201, await response.text()
        return [item["id"] for item in (await response.json())["items"]]


async def test_a_youtube_comment_is_held_for_review_out_of_the_public_listings(
    http: aiohttp.ClientSession, base_url: str, arm: Arm
) -> None:
    account, adapter = page("youtube", "lyon", base_url), YouTubeAdapter(http)
    await adapter.publish(account, ["Atelier CV"], idempotency_key="k", media=media_for("youtube", base_url))
    shown, hidden = await _youtube_comments(base_url, texts=["Merci", "Mon numéro est masqué"])
    [reply] = await _youtube_comments(base_url, reply_to=shown, texts=["Mon mail est masqué"])
    assert set(await _threads(http, base_url)) == {shown, hidden, reply}

    await adapter.hide_comment(account, hidden)
    await adapter.hide_comment(account, hidden)  # held again: 204 again
    await adapter.hide_comment(account, reply)

    assert await _threads(http, base_url) == [shown]

    await arm("youtube", "lyon", "server_error")
    with pytest.raises(DeliveryError) as unavailable:
        await adapter.hide_comment(account, shown)
    assert unavailable.value.kind == "transient"
    async with http.delete(f"{base_url}/_sandbox/youtube/comments/{shown}") as response:
        assert response.status == 200
    with pytest.raises(DeliveryError) as deleted:
        await adapter.hide_comment(account, shown)
    assert (deleted.value.kind, deleted.value.network_code) == ("permanent", "commentNotFound")
    with pytest.raises(DeliveryError) as other:
        await adapter.hide_comment(page("youtube", "paris", base_url), hidden)
    assert (other.value.kind, other.value.network_code) == ("permanent", "commentNotFound")


@pytest.mark.parametrize("network", list(META))
@pytest.mark.parametrize("suffix", ["/comments", "?fields=id,access_token", "#x", "/../../2002"])
async def test_an_item_id_is_one_graph_node_never_another_path_or_query(
    http: aiohttp.ClientSession, base_url: str, network: str, suffix: str
) -> None:
    """An item's id comes from a network (or a webhook's body): whatever it holds, the Graph call
    names that one node (quoted as one path segment), never an edge, another node or other fields."""
    account_id, adapter_type, flag = META[network]
    account, adapter = page(network, account_id, base_url), adapter_type(http)
    [item] = await write_audience(base_url, network=network, account=account_id, kind="comment")

    with pytest.raises(DeliveryError) as refused:
        await adapter.hide_comment(account, item["id"] + suffix)
    assert refused.value.kind == "permanent"
    assert (await _node(http, base_url, network, item["id"]))[flag] is False  # nothing else was hidden
