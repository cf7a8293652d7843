"""YouTube's daily quota in units, as the dispatcher's limiter spends it.

The policy, written by hand from YouTube's "Quota calculator" (10,000 units a day per project, reset
at midnight Pacific time; videos.insert 1,600, comments.insert 50, comments.setModerationStatus 50, a
list 1) and the split documented with the registry entry: an upload may leave 100 units, a reply or a
hide must leave 3,300 (two uploads and that headroom), a read must leave 4,800 (30 replies more). So:
134 replies in a day when nothing else is spent, never fewer than 30 whatever the reads did, and an
upload still goes however many replies went. Other networks keep their buckets of calls.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import datetime, timedelta
from datetime import time as day_time
from zoneinfo import ZoneInfo

import aiohttp
import nats

from services.dispatcher.adapters.base import Media, PageAccount
from services.dispatcher.adapters.youtube import YouTubeAdapter
from services.dispatcher.limits import NetworkLimits, RateLimiter
from services.sandbox.youtube import channel_id
from shared import bus
from shared.networks import NETWORKS
from shared.schemas import PostApproved, ReplyTo, conversation_key, decisions_subject
from tests.dispatcher.conftest import FleetFactory
from tests.dispatcher.fleet import DeliveryFleet, Page, make_pages
from tests.dispatcher.test_hides import hides, order
from tests.harness import eventually, http

PACIFIC = ZoneInfo("America/Los_Angeles")


class Clock:
    """Unix time, at 09:00 Pacific time on an ordinary day unless told otherwise."""

    def __init__(self, at: datetime = datetime(2026, 12, 3, 9, 0, tzinfo=PACIFIC)) -> None:
        self.now = at.timestamp()

    def __call__(self) -> float:
        return self.now


def until_refused(limiter: RateLimiter, kind: str, page: str = "lyon-youtube", most: int = 20_000) -> int:
    """How many calls of `kind` the limiter lets through before it first says to wait."""
    for sent in range(most):
        wait = limiter.reserve_read("youtube") if kind == "read" else limiter.reserve("youtube", page, kind)  # type: ignore[arg-type]
        if wait > 0:
            return sent
    return most


def test_thirty_replies_in_a_day_all_go() -> None:
    limiter = RateLimiter(clock=Clock())

    assert [limiter.reserve("youtube", f"page-{n % 7}", "reply") for n in range(30)] == [0.0] * 30


def test_replies_stop_where_two_uploads_remain_and_an_upload_still_goes() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)

    assert until_refused(limiter, "reply") == (10_000 - 3_300) // 50  # 134: what leaves 3,300
    assert until_refused(limiter, "hide") == 0  # hides keep the same floor as replies
    assert limiter.reserve("youtube", "lyon-youtube", "post") == 0.0  # two uploads still go
    assert limiter.reserve("youtube", "lyon-youtube", "post") == 0.0
    assert limiter.reserve("youtube", "lyon-youtube", "post") > 0  # a third would leave under 100


def test_reads_stop_before_the_replies_reserve() -> None:
    clock = Clock(datetime(2026, 12, 3, 0, 30, tzinfo=PACIFIC))
    limiter = RateLimiter(clock=clock)
    assert until_refused(limiter, "reply", most=60) == 60  # a busy morning: 3,000 units

    read = 0
    for _hour in range(23):  # then reads as fast as the hourly pace lets them, until late evening
        read += until_refused(limiter, "read")
        clock.now += 3_600
    assert read == 10_000 - 3_000 - 4_800  # 2,200 and no more: what leaves the floor of reads
    assert until_refused(limiter, "reply", most=30) == 30  # the replies' reserve is whole
    assert limiter.reserve("youtube", "lyon-youtube", "post") == 0.0  # and the uploads' too
    assert limiter.reserve("youtube", "lyon-youtube", "post") == 0.0


def test_the_read_pace_holds_reads_to_two_hundred_an_hour() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)

    assert until_refused(limiter, "read") == 200
    assert 0 < limiter.reserve_read("youtube") <= 18.0  # the next one in 3,600 / 200 s


def test_the_quota_comes_back_at_midnight_pacific_time() -> None:
    # The day daylight saving time ends there: midnight is still 08:00 UTC the next day.
    clock = Clock(datetime(2026, 11, 1, 22, 0, tzinfo=PACIFIC))
    limiter = RateLimiter(clock=clock)
    until_refused(limiter, "reply")

    midnight = datetime(2026, 11, 2, 0, 0, tzinfo=PACIFIC).timestamp()
    assert limiter.reserve("youtube", "lyon-youtube", "reply") == midnight - clock.now
    clock.now = midnight
    assert until_refused(limiter, "reply") == 134


def test_quota_exceeded_holds_every_kind_of_call_until_the_reset() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    midnight = datetime(2026, 12, 4, 0, 0, tzinfo=PACIFIC).timestamp()

    limiter.block("youtube", "lyon-youtube", "app", midnight - clock.now)  # what the adapter names

    assert limiter.blocked("youtube", "another-page") == midnight - clock.now
    for kind in ("post", "reply", "hide"):
        assert limiter.reserve("youtube", "lyon-youtube", kind) == midnight - clock.now  # type: ignore[arg-type]
    assert limiter.reserve_read("youtube") == midnight - clock.now
    clock.now = midnight
    assert limiter.reserve("youtube", "lyon-youtube", "reply") == 0.0


def test_other_networks_keep_their_buckets_of_calls() -> None:
    clock = Clock()
    limiter = RateLimiter({"x": NetworkLimits((2, 60.0))}, clock=clock)

    assert [limiter.reserve("x", "a", "reply") for _ in range(3)] == [0.0, 0.0, 30.0]  # a reply is a post
    assert limiter.reserve("x", "a", "hide") == 0.0  # hides go around the publications' buckets
    assert limiter.reserve_read("x") == 0.0
    assert limiter.quota("x") is None and NETWORKS["youtube"].quota is not None


def test_an_app_wide_refusal_is_remembered_where_no_app_limit_was_known() -> None:
    clock = Clock()
    limiter = RateLimiter({"mastodon": NetworkLimits((300, 300.0))}, clock=clock)

    limiter.block("mastodon", "a", "app", 20)

    assert limiter.reserve("mastodon", "b") == 20.0


def test_the_split_fits_the_day() -> None:
    """The registry's numbers: six uploads fit when nothing is answered; the reads' pace is under
    what their floor leaves; every floor is below the one of the kind it protects."""
    quota = NETWORKS["youtube"].quota
    assert quota is not None and quota.units == 10_000 and quota.resets_in == "America/Los_Angeles"
    assert dict(quota.costs) == {"post": 1_600, "reply": 50, "hide": 50, "read": 1}
    assert 6 * quota.costs["post"] <= quota.units - quota.floors["post"]
    assert quota.floors["reply"] - quota.floors["post"] >= 2 * quota.costs["post"]
    assert quota.floors["read"] - quota.floors["reply"] >= 30 * quota.costs["reply"]
    budget = NETWORKS["youtube"].read_budget
    assert budget is not None and budget[0] * 86_400 / budget[1] <= quota.units - quota.floors["read"]


def test_thirty_youtube_comments_answered_in_a_day_are_all_sent(fleet_factory: FleetFactory) -> None:
    """Through the real dispatcher and the emulator: each reply spends 50 units, not an upload's
    share (before, the sixth reply emptied the day's bucket of six uploads and the rest waited)."""
    [page] = make_pages(1, ("youtube",))
    fleet = fleet_factory([page])
    asyncio.run(upload(fleet.sandbox_url, page))
    status, written = http(
        "POST", f"{fleet.sandbox_url}/_sandbox/youtube/comments", {"account": page.handle, "count": 30}
    )
    assert status == 201, written
    threads = [item["id"] for item in written["items"]]
    approvals = [
        fleet.approval(
            f"reply-{number}",
            page.agency,
            [page],
            {page.page: [f"Bonjour, l'atelier {number} a lieu jeudi."]},
            replies={page.page: reply_to(page, thread)},
        )
        for number, thread in enumerate(threads)
    ]
    asyncio.run(approve_all(fleet.nats_url, approvals))

    rows = fleet.wait_settled(30, timeout=60)

    assert Counter(row["status"] for row in rows.values()) == Counter({"published": 30})
    answered = [p for p in fleet.received() if p["network"] == "youtube" and p.get("reply_to")]
    assert sorted(p["reply_to"] for p in answered) == sorted(threads)


def reply_to(page: Page, thread: str) -> ReplyTo:
    return ReplyTo(
        conversation=conversation_key(page.network, thread),
        network=page.network,
        page=page.page,
        item_id=thread,
        root_id=thread,
        kind="comment",
    )


async def upload(sandbox_url: str, page: Page) -> None:
    """The channel's video that people comment on (straight to the emulator: not what is tested)."""
    account = PageAccount(
        page.page, "youtube", page.handle, {"token": f"sbx-youtube-{page.handle}"}, sandbox_url
    )
    async with aiohttp.ClientSession() as session:
        video = Media("video", data=b"\x00\x00\x00\x18ftypmp42" * 100, mime_type="video/mp4")
        await YouTubeAdapter(session).publish(
            account, ["Atelier CV"], idempotency_key="video", media=(video,)
        )


async def approve_all(nats_url: str, approvals: list[PostApproved]) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await bus.ensure_streams(js)
        for approved in approvals:
            subject = decisions_subject(approved.agency, approved.post_id, "approved")
            await bus.publish(js, subject, approved, f"{approved.post_id}.approved")
    finally:
        await nc.close()


def test_a_hide_waits_for_the_reset_when_the_days_replies_are_spent(fleet_factory: FleetFactory) -> None:
    """A hide spends 50 units from the same day, with the replies' floor: once the day's replies
    have left only the uploads' reserve, a hide order is kept (pending, no attempt, nothing called)
    until midnight Pacific time, rather than take the uploads' units (before, hides went around)."""
    [page] = make_pages(1, ("youtube",))
    fleet = fleet_factory([page])
    asyncio.run(upload(fleet.sandbox_url, page))
    status, written = http(
        "POST", f"{fleet.sandbox_url}/_sandbox/youtube/comments", {"account": page.handle, "count": 141}
    )
    assert status == 201, written
    *threads, shown = [item["id"] for item in written["items"]]
    approvals = [
        fleet.approval(
            f"reply-{number}",
            page.agency,
            [page],
            {page.page: [f"Bonjour, réponse {number}."]},
            replies={page.page: reply_to(page, thread)},
        )
        for number, thread in enumerate(threads)
    ]
    asyncio.run(approve_all(fleet.nats_url, approvals))

    def spent() -> Counter[str] | None:
        statuses = Counter(row["status"] for row in fleet.deliveries().values())
        return statuses if statuses.total() == 140 and set(statuses) == {"published", "throttled"} else None

    statuses = eventually(spent, timeout=60)
    assert 120 <= statuses["published"] <= 134  # 6,700 units down to the uploads' 3,300 (less what was read)
    order(fleet, page, {"id": shown, "root_id": shown})

    # Put off to the quota's reset (the next midnight in Pacific time), not a retry's back-off; never
    # called, never an attempt.
    reset = next_pacific_midnight(time.time())
    row = eventually(lambda: (found := hides(fleet).get(shown)) and found["due_at"] >= reset - 5 and found)
    assert (row["status"], row["attempts"]) == ("pending", 0)
    assert shown in visible(fleet, page)


def next_pacific_midnight(now: float) -> float:
    """When YouTube's quota comes back after `now`: the next midnight in Pacific time."""
    pacific = ZoneInfo("America/Los_Angeles")
    tomorrow = (datetime.fromtimestamp(now, pacific) + timedelta(days=1)).date()
    return datetime.combine(tomorrow, day_time(0), pacific).timestamp()


def visible(fleet: DeliveryFleet, page: Page) -> list[str]:
    """The channel's public comment threads, as the emulator lists them."""
    status, answer = http(
        "GET",
        f"{fleet.sandbox_url}/youtube/v3/commentThreads?part=snippet&maxResults=100"
        f"&allThreadsRelatedToChannelId={channel_id(page.handle)}",
        headers={"Authorization": f"Bearer sbx-youtube-{page.handle}"},
    )
    assert status == 200, answer
    return [item["id"] for item in answer["items"]]


def test_shards_share_the_projects_day_between_them() -> None:
    """Three dispatcher shards each spend a third (3,333 units): together never more than the day's
    10,000; each shard's replies still leave it one upload (1,600 and the upload's own 33 units)."""
    limiters = [RateLimiter(shards=3, clock=Clock()) for _ in range(3)]

    replies = [until_refused(limiter, "reply") for limiter in limiters]

    assert replies == [(3_333 - 1_633) // 50] * 3  # 34 each
    assert [limiter.reserve("youtube", "lyon-youtube", "post") for limiter in limiters] == [0.0] * 3
    assert all(limiter.reserve("youtube", "lyon-youtube", "post") > 0 for limiter in limiters)
    quotas = [limiter.quota("youtube") for limiter in limiters]
    assert sum(quota.used for quota in quotas if quota is not None) == 3 * (34 * 50 + 1_600) <= 10_000
