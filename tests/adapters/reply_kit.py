"""Helpers of the reply adapter tests (Mastodon, Bluesky, X): people write to a page, the page answers."""

from __future__ import annotations

from typing import Any

import aiohttp

from services.dispatcher.adapters.conversations import ReplyTarget


async def people_write(base_url: str, network: str, account: str, **body: Any) -> list[dict[str, Any]]:
    """Items people send the page (`POST /_sandbox/incoming`), each with its `item_id`."""
    payload = {"network": network, "account": account, **body}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base_url}/_sandbox/incoming", json=payload) as response,
    ):
        assert response.status == 201, await response.text()
        items: list[dict[str, Any]] = (await response.json())["items"]
        return items


def answering(item: dict[str, Any], root_id: str | None = None, kind: str = "mention") -> ReplyTarget:
    """The target of a reply to an item people sent (its own root unless it is in a thread)."""
    return ReplyTarget(item_id=item["item_id"], root_id=root_id or item["item_id"], kind=kind)
