"""The advocacy benchmark's short version (`bench/bench_advocacy_share.py`, same code): 30 advocates
over 10 agencies, each with four connected accounts, share one story at once through the real
services (NATS, sandbox with its rate limits on, federation, formatter, hub, dispatcher).

The policy, from issue #16: every share reaches each of its advocate's four accounts exactly once,
no share is invalid (each text is the advocate's own), and the sandbox never answers 429 (the
dispatcher stays within every network's per-account and app-wide limits). Counts only, never a time.
"""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import pytest

from bench.bench_advocacy_share import NETWORKS, Advocate, run
from shared.advocacy import similarity
from shared.advocacy.similarity import closest, jaccard, near_duplicate, normalised_words


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


def test_the_hubs_near_duplicate_check_normalises_each_text_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Found by this bench: the hub compares each share on X with every other share of its story, and
    # normalised all of them again for each new share (quadratic: 28 s of the hub's time for 1,500
    # shares at once, 13 s once remembered). A text already normalised is not normalised again.
    folds: list[str] = []
    fold = similarity._fold

    def counted(text: str) -> str:
        folds.append(text)
        return fold(text)

    monkeypatch.setattr(similarity, "_fold", counted)
    salt = uuid4().hex  # texts no earlier test normalised
    others = [(str(n), f"{Advocate('adv-bench', 'agence-000', n).text()} {salt}") for n in range(200)]

    assert closest(f"un premier texte {salt}", others, story_hashtag="#AvecPoleEmploi") is None
    before = len(folds)
    assert closest(f"un second texte {salt}", others, story_hashtag="#AvecPoleEmploi") is None

    assert len(folds) - before <= 2  # the new text (and the hashtag): the 200 others are remembered
