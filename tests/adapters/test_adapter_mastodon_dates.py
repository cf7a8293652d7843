"""The Mastodon adapter says when the network dated what it published (`Publication.published_at`),
from the status's `created_at` (docs.joinmastodon.org, Entities › Status), on every path that learns a
status: a publication (its first part), a reply, and a reply found again after an interrupted call.

The dates are scripted on the sandbox (`/_sandbox/clock/replies`, services/sandbox/clock.py), so the
expected values are the ones the test set, never the clock's reading at the time of the test."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
from adapter_kit import page
from reply_kit import answering, people_write

from services.dispatcher.adapters.mastodon import MastodonAdapter

MARCH = 1_741_860_123.456  # 2025-03-13T10:02:03.456Z
TEXT = "Bonjour, l'atelier CV a lieu jeudi à 14 h."


async def _date_replies(base_url: str, dates: dict[str, Any]) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base_url}/_sandbox/clock/replies", json={"network": "mastodon", "dates": dates}) as r,
    ):
        assert r.status == 200, await r.text()


async def test_a_reply_is_dated_as_the_network_dated_it(http: aiohttp.ClientSession, base_url: str) -> None:
    adapter, account = MastodonAdapter(http), page("mastodon", "lyon", base_url)
    (question,) = await people_write(base_url, "mastodon", "lyon", count=1, at=[MARCH - 3600])
    await _date_replies(base_url, {question["item_id"]: MARCH})

    published = await adapter.reply(account, TEXT, answering(question), idempotency_key="k1")
    assert published.published_at == MARCH

    found = await adapter.find_reply(account, TEXT, answering(question), since=MARCH - 60)
    assert found is not None and found.remote_id == published.remote_id
    assert found.published_at == MARCH


async def test_a_publication_is_dated_by_its_first_part(http: aiohttp.ClientSession, base_url: str) -> None:
    adapter, account = MastodonAdapter(http), page("mastodon", "lyon", base_url)
    before = time.time()
    published = await adapter.publish(account, ["Forum de l'emploi", "Suite"], idempotency_key="p1")
    assert published.published_at is not None
    # Undated by the sandbox: its real clock, to the millisecond Mastodon gives.
    assert before - 0.001 <= published.published_at <= time.time()
