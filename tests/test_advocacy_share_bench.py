"""The advocacy benchmark's short version (`bench/bench_advocacy_share.py`, same code): 30 advocates
over 10 agencies, each with four connected accounts, share one story at once through the real
services (NATS, sandbox with its rate limits on, federation, formatter, hub, dispatcher).

The policy, from issue #16: every share reaches each of its advocate's four accounts exactly once,
no share is invalid (each text is the advocate's own), and the sandbox never answers 429 (the
dispatcher stays within every network's per-account and app-wide limits). Counts only, never a time.
"""

from __future__ import annotations

from pathlib import Path

from bench.bench_advocacy_share import NETWORKS, Advocate, run
from shared.advocacy.similarity import jaccard, near_duplicate, normalised_words


def test_thirty_advocates_share_a_story_once_to_each_account_within_the_limits(tmp_path: Path) -> None:
    result = run(tmp_path, advocates=30, agencies=10)

    assert (result.shares, result.deliveries) == (30, 30 * len(NETWORKS)), result.line()
    assert (result.duplicates, result.missing, result.invalid) == (0, 0, 0), result.line()
    assert result.limit_violations == 0 and result.refused == {}, result.line()
    assert result.failures() == []


def test_the_benchs_texts_are_each_advocates_own_by_the_hubs_rule() -> None:
    # The bench must not pass by sending one text 1,500 times: on X the hub refuses a share with
    # Jaccard >= 0.8 to another. Every text is distinct, and no two are near-identical.
    texts = [Advocate("adv-bench", "agence-000", n).text() for n in range(1500)]
    assert len(set(texts)) == 1500
    words = [set(normalised_words(t, story_hashtag="#AvecPoleEmploi")) for t in texts[:150]]
    scores = [jaccard(a, b) for i, a in enumerate(words) for b in words[i + 1 :]]
    assert max(scores) < 0.5
    assert not any(near_duplicate(texts[0], other, story_hashtag="#AvecPoleEmploi") for other in texts[1:])


def test_the_bench_counts_near_identical_shares_and_their_missing_deliveries(tmp_path: Path) -> None:
    # The measure is not blind: three advocates sending one text, the hub passes the first on X and
    # refuses the two others (near-identical), so their eight deliveries are missing and the run fails.
    result = run(tmp_path, advocates=3, agencies=2, text_of=lambda _: Advocate("adv-x", "a", 0).text())

    assert (result.invalid, result.deliveries, result.missing, result.duplicates) == (2, 4, 8, 0)
    assert result.failures() == ["8 deliveries missing", "2 shares invalid"]
