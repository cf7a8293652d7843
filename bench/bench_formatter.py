"""Formatter benchmark: variants rendered per second, and X weighted length against twitter-text.

Run with `python bench/bench_formatter.py` (or `python -m bench`). Over the job-service corpus
of `tests/data/corpus_posts.json` it prints one `name key=value …` line per figure:

- `formatter_render`: every post rendered for every network (with the media each network
  needs), with its default policy, for a few seconds;
- `formatter_render_network`: the same, one line per network;
- `x_weighted_length`: X's weighted length by `shared.networks` and by the PyPI reference
  `twitter-text-parser` on the same posts in the same run, with the speed ratio and the
  number of posts where they disagree.

Exits non-zero when the targets are missed: any disagreement, or less than 10× the
reference's speed.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere: `shared` lives at the root

from twitter_text import parse_tweet  # noqa: E402

from shared.networks import KNOWN_NETWORKS, MediaKind, render_for_network  # noqa: E402
from shared.networks.weighted import weighted_length  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "corpus_posts.json"
MEDIA: dict[str, tuple[MediaKind, ...]] = {"instagram": ("image",), "youtube": ("video",)}
RENDER_SECONDS = 6.0
WEIGHT_SECONDS = 3.0
TARGET_RATIO = 10.0


def load_corpus() -> list[dict[str, str]]:
    posts: list[dict[str, str]] = json.loads(CORPUS.read_text(encoding="utf-8"))["posts"]
    return posts


def rate(work: Callable[[], int], seconds: float) -> float:
    """Items per second of `work` (which returns how many items it did), over about `seconds`."""
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        done += work()
    return done / elapsed


def render_all(posts: Sequence[dict[str, str]], networks: Sequence[str]) -> int:
    for post in posts:
        for network in networks:
            render_for_network(network, post["text"], link=post.get("link"), media=MEDIA.get(network, ()))
    return len(posts) * len(networks)


def main() -> int:
    posts = load_corpus()
    texts = [post["text"] for post in posts]
    render_all(posts, KNOWN_NETWORKS)  # warm-up: compiles the patterns, loads the TLDs
    per_s = rate(lambda: render_all(posts, KNOWN_NETWORKS), RENDER_SECONDS)
    print(
        f"formatter_render posts={len(posts)} networks={len(KNOWN_NETWORKS)} "
        f"variants={len(posts) * len(KNOWN_NETWORKS)} per_s={per_s:.0f}",
        flush=True,
    )
    for network in KNOWN_NETWORKS:
        one = functools.partial(render_all, posts, [network])
        per_s = rate(one, RENDER_SECONDS / len(KNOWN_NETWORKS))
        print(f"formatter_render_network network={network} per_s={per_s:.0f}", flush=True)

    ours = [weighted_length(text) for text in texts]
    reference = [parse_tweet(text).weightedLength for text in texts]
    disagreements = sum(1 for a, b in zip(ours, reference, strict=True) if a != b)

    def relais() -> int:
        for text in texts:
            weighted_length(text)
        return len(texts)

    def twitter_text() -> int:
        for text in texts:
            parse_tweet(text)
        return len(texts)

    relais_per_s = rate(relais, WEIGHT_SECONDS)
    reference_per_s = rate(twitter_text, WEIGHT_SECONDS)
    ratio = relais_per_s / reference_per_s
    print(
        f"x_weighted_length posts={len(texts)} relais_per_s={relais_per_s:.0f} "
        f"reference_per_s={reference_per_s:.0f} ratio={ratio:.1f} disagreements={disagreements}",
        flush=True,
    )
    return 0 if disagreements == 0 and ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
