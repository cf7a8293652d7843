"""The pure parts of delivery: token buckets fed by the networks' headers, backoff with jitter,
and recognising a delivery among the posts a page shows."""

from __future__ import annotations

import random
from collections.abc import Callable

from services.dispatcher.adapters.base import RateHint
from services.dispatcher.adapters.readback import Seen, html_text, match_thread, normalize, parse_time
from services.dispatcher.attempt import RetryPolicy, backoff
from services.dispatcher.limits import NetworkLimits, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_page_bucket_empties_and_refills_without_blocking_other_pages() -> None:
    clock = Clock()
    limiter = RateLimiter({"x": NetworkLimits((2, 60.0))}, clock=clock)

    assert [limiter.reserve("x", "a") for _ in range(2)] == [0.0, 0.0]
    assert limiter.reserve("x", "a") == 30.0  # one token every 30 s
    assert limiter.reserve("x", "b") == 0.0
    clock.now += 30
    assert limiter.reserve("x", "a") == 0.0


def test_the_app_bucket_is_shared_by_every_page() -> None:
    clock = Clock()
    limiter = RateLimiter({"telegram": NetworkLimits((20, 60.0), (2, 1.0))}, clock=clock)

    assert [limiter.reserve("telegram", page) for page in ("a", "b", "c")] == [0.0, 0.0, 0.5]


def test_headers_saying_nothing_remains_block_until_the_reset() -> None:
    clock = Clock()
    limiter = RateLimiter({"mastodon": NetworkLimits((300, 300.0))}, clock=clock)

    limiter.observe("mastodon", "a", RateHint("page", 300, 0, clock.now + 42))

    assert limiter.reserve("mastodon", "a") == 42.0
    assert limiter.reserve("mastodon", "b") == 0.0


def test_a_429_blocks_the_page_or_the_whole_app() -> None:
    clock = Clock()
    limiter = RateLimiter({"linkedin": NetworkLimits((150, 86_400.0), (100_000, 86_400.0))}, clock=clock)

    limiter.block("linkedin", "a", "page", 10)
    assert (limiter.reserve("linkedin", "a"), limiter.reserve("linkedin", "b")) == (10.0, 0.0)
    limiter.block("linkedin", "a", "app", 20)
    assert limiter.reserve("linkedin", "b") == 20.0


def test_backoff_doubles_with_jitter_and_stays_under_the_cap() -> None:
    policy, rng = RetryPolicy(max_attempts=8, base=2.0, cap=60.0), random.Random(7)
    for failures in range(1, 10):
        delay = min(60.0, 2.0 * 2 ** (failures - 1))
        waits = [backoff(failures, policy, rng) for _ in range(50)]
        assert all(delay / 2 <= wait <= delay for wait in waits)
        assert len(set(waits)) > 1  # jittered: deliveries that failed together come back apart


def test_a_thread_is_recognised_part_by_part() -> None:
    seen = [
        Seen("1", "Forum https://t.co/abc #emploi", parse_time("2026-11-22T10:00:00Z")),
        Seen("2", "Inscriptions  ouvertes", parse_time("2026-11-22T10:00:01+0000"), reply_to="1"),
        Seen("3", "Inscriptions ouvertes", parse_time("2026-11-22T10:00:02Z")),  # not a reply: another post
    ]
    parts = ["Forum https://example.org/forum #emploi", "Inscriptions ouvertes", "À jeudi"]

    found = match_thread(parts, seen, since=parse_time("2026-11-22T10:00:00Z") or 0.0)

    assert [s.id for s in found] == ["1", "2"]
    assert match_thread(parts, seen, since=parse_time("2026-11-22T11:00:00Z") or 0.0) == []


def test_network_renderings_normalise_to_the_text_sent() -> None:
    assert html_text("<p>Forum &amp; salon<br />jeudi</p><p>#emploi</p>") == "Forum & salon\njeudi\n#emploi"
    assert normalize("Forum\u00a0 https://x.y/z  ok ") == normalize("Forum https://t.co/1 ok")


def test_reads_that_spend_the_posts_budget_share_an_app_wide_bucket() -> None:
    clock = Clock()
    limiter = RateLimiter(
        {"youtube": NetworkLimits(None, (6, 86_400.0))},
        read_budgets={"youtube": (2, 60.0)},
        quotas={},
        clock=clock,
    )

    assert [limiter.reserve_read("youtube") for _ in range(2)] == [0.0, 0.0]
    assert limiter.reserve_read("youtube") == 30.0  # whichever page asks: the budget is the app's
    assert limiter.reserve("youtube", "a") == 0.0  # the uploads' own bucket is untouched
    assert limiter.reserve_read("mastodon") == 0.0  # no read budget: reads have their own windows
    clock.now += 30
    assert limiter.reserve_read("youtube") == 0.0


def test_a_blocked_page_waits_for_its_reset_without_spending_a_token() -> None:
    clock = Clock()
    limiter = RateLimiter({"mastodon": NetworkLimits((300, 300.0))}, clock=clock)
    assert limiter.blocked("mastodon", "a") == 0.0
    limiter.observe("mastodon", "a", RateHint("page", 300, 0, clock.now + 42))
    assert limiter.blocked("mastodon", "a") == 42.0 and limiter.blocked("mastodon", "b") == 0.0


def test_shards_together_never_take_more_than_the_apps_calls_and_reads() -> None:
    """The policy: each of N shards holds 1/N of every app-wide count (at least one call), so N
    shards never ask the network for more than the app has; a page is one shard's, its bucket whole."""
    clock = Clock()
    limiters = [
        RateLimiter(
            {"x": NetworkLimits((100, 900.0), (10, 60.0))},
            read_budgets={"x": (7, 60.0)},
            quotas={},
            shards=3,
            clock=clock,
        )
        for _ in range(3)
    ]
    pages = iter(range(1_000))  # a new page each time: only the app's bucket can say wait

    def taken(reserve: Callable[[], float]) -> int:
        return sum(1 for _ in range(20) if reserve() == 0.0)

    calls = [taken(lambda limiter=limiter: limiter.reserve("x", f"p{next(pages)}")) for limiter in limiters]
    reads = [taken(lambda limiter=limiter: limiter.reserve_read("x")) for limiter in limiters]
    assert calls == [3, 3, 3] and sum(calls) <= 10
    assert reads == [2, 2, 2] and sum(reads) <= 7
    assert [limiter.reserve("x", "p-1") for limiter in limiters] == [20.0, 20.0, 20.0]  # 3 per 60 s each

    paged = RateLimiter({"x": NetworkLimits((6, 60.0))}, quotas={}, shards=3, clock=clock)
    assert taken(lambda: paged.reserve("x", "same-page")) == 6  # the page's own 6 are not divided


def test_an_app_wide_count_the_network_answers_is_divided_between_the_shards() -> None:
    clock = Clock()
    limiter = RateLimiter(
        {"x": NetworkLimits((100, 900.0), (10_000, 86_400.0))}, quotas={}, shards=3, clock=clock
    )

    limiter.observe("x", "a", RateHint("app", 10_000, 6, clock.now + 600))  # 6 left for the whole app
    limiter.observe("x", "a", RateHint("page", 100, 50, clock.now + 600))  # the page's own: not divided

    assert [limiter.reserve("x", f"p{n}") for n in range(2)] == [0.0, 0.0]
    assert limiter.reserve("x", "p2") > 0  # two each: the three shards' six
