"""The dispatcher's limiter keeps a day of YouTube calls inside the emulator's own quota count.

The emulator counts the units of comments.insert (50), comments.setModerationStatus (50) and the
lists (1) in its 10,000-unit day and refuses with `quotaExceeded` past it. A run that tries far more
(an upload, 300 reads of the video's figures, 250 replies, 50 hides, each asked of the limiter first, as
the dispatcher does) is never refused, and the emulator counts exactly what the policy lets through:
after an upload (1,600 of the limiter's day), 200 reads (the hour's pace), replies until 3,300 units
remain (98 of them: 4,900 units), no hide (the same floor), and a second upload still goes.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import aiohttp
from adapter_kit import media_for, page
from aiohttp.test_utils import TestServer

from services.dispatcher.adapters.conversations import ReplyTarget
from services.dispatcher.adapters.youtube import YouTubeAdapter
from services.dispatcher.limits import RateLimiter
from services.sandbox.common import RATES

NOON_PACIFIC = datetime(2026, 12, 3, 12, 0, tzinfo=ZoneInfo("America/Los_Angeles")).timestamp()


async def test_a_day_that_tries_more_stays_inside_the_emulators_quota(
    http: aiohttp.ClientSession, base_url: str, sandbox_server: TestServer
) -> None:
    limiter = RateLimiter(clock=lambda: NOON_PACIFIC)
    account, adapter = page("youtube", "lyon", base_url), YouTubeAdapter(http)
    assert limiter.reserve("youtube", account.page_id, "post") == 0.0
    await adapter.publish(
        account, ["Atelier CV"], idempotency_key="video-1", media=media_for("youtube", base_url)
    )
    async with http.post(
        f"{base_url}/_sandbox/youtube/comments", json={"account": "lyon", "texts": ["Quand ?"]}
    ) as response:
        assert response.status == 201, await response.text()
        thread = (await response.json())["items"][0]["id"]
        video = (await response.json())["items"][0]["video_id"]
    target = ReplyTarget(item_id=thread, root_id=thread, kind="comment")

    read = replied = hidden = 0
    for _ in range(300):
        if limiter.reserve_read("youtube") == 0.0:
            await adapter.read_engagement(account, video)
            read += 1
    for number in range(250):
        if limiter.reserve("youtube", account.page_id, "reply") == 0.0:
            await adapter.reply(account, f"Réponse {number}", target, idempotency_key=f"r{number}")
            replied += 1
    for _ in range(50):
        if limiter.reserve("youtube", account.page_id, "hide") == 0.0:
            await adapter.hide_comment(account, thread)
            hidden += 1

    assert (read, replied, hidden) == (200, 98, 0)
    counted = sandbox_server.app[RATES].peek("youtube:lyon:reads", limit=10_000, window=24 * 3600)
    assert counted.remaining == 10_000 - 200 - 98 * 50
    assert limiter.reserve("youtube", account.page_id, "post") == 0.0  # a second upload still goes
    await adapter.publish(
        account, ["Atelier LM"], idempotency_key="video-2", media=media_for("youtube", base_url)
    )
