"""The job-service corpus: what it holds, and every network's rendering of every post."""

from __future__ import annotations

import pytest
from twitter_text import parse_tweet

from shared.networks import KNOWN_NETWORKS, MediaKind, NetworkOptions, Rendering, render_for_network
from shared.networks.base import compose
from shared.networks.extract import extract_hashtags, extract_urls
from shared.networks.mastodon import MastodonRules
from shared.networks.options import FacebookOptions, InstagramOptions
from shared.networks.text import grapheme_count, utf8_len, utf16_len
from shared.networks.weighted import weighted_length

from .vectors import corpus

MEDIA: dict[str, list[MediaKind]] = {"instagram": ["image"], "youtube": ["video"], "slideshare": ["document"]}
POSTS = corpus()
TEXTS = [post["text"] for post in POSTS]


def test_corpus_covers_what_french_job_posts_contain() -> None:
    joined = "\n".join(TEXTS)
    assert len(POSTS) >= 60
    assert {post["lang"] for post in POSTS} == {"fr", "ar", "zgh"}
    for needle in ("\u202f!", "\u202f?", "\u202f;", "\u202f:", "«\u202f", "\u202f»", "€", "…", "’"):
        assert needle in joined, needle
    assert "#AvecPôleEmploi" in joined and "#FranceTravail" in joined
    assert sum(bool(extract_urls(text)) for text in TEXTS) >= 50
    assert any("\u2d30" <= ch <= "\u2d7f" for ch in joined)  # Tifinagh
    assert any("\u0600" <= ch <= "\u06ff" for ch in joined)  # Arabic
    lengths = [weighted_length(text) for text in TEXTS]
    assert min(lengths) < 280 < max(lengths) and max(lengths) > 1000


def test_x_weighted_length_agrees_with_the_reference_library() -> None:
    disagreements = [
        (post["id"], weighted_length(post["text"]), parse_tweet(post["text"]).weightedLength)
        for post in POSTS
    ]
    assert [d for d in disagreements if d[1] != d[2]] == []


def _check_sent(network: str, rendering: Rendering) -> None:
    """Each part, measured independently, is within the network's limits."""
    for part in rendering.parts:
        text = part.text
        assert part.length <= rendering.limit
        if network == "x":
            assert weighted_length(text) <= 280
        elif network == "mastodon":
            assert MastodonRules().measure(text) <= 500
        elif network == "bluesky":
            assert grapheme_count(text) <= 300 and utf8_len(text) <= 3000
        elif network == "threads":
            assert grapheme_count(text) <= 490
        elif network == "youtube":
            assert utf8_len(text) <= 5000 and "<" not in text
        else:
            assert utf16_len(text) <= rendering.limit


@pytest.mark.parametrize("network", KNOWN_NETWORKS)
@pytest.mark.parametrize("policy", ["thread", "truncate"])
def test_every_post_renders_within_limits(network: str, policy: str) -> None:
    for post in POSTS:
        rendering = render_for_network(network, post["text"], policy=policy, media=MEDIA.get(network, []))  # type: ignore[arg-type]
        codes = [error.code for error in rendering.errors]
        tags = {e.value.casefold() for e in extract_hashtags(post["text"])}
        if network == "instagram" and len(tags) > 5:
            assert codes == ["too_many_hashtags"], post["id"]  # the author picks which to keep
            continue
        assert codes == [], post["id"]
        _check_sent(network, rendering)


@pytest.mark.parametrize("network", ["x", "mastodon", "bluesky", "threads"])
def test_threads_keep_every_link_and_hashtag_whole(network: str) -> None:
    for post in POSTS:
        body = compose(post["text"], None)
        rendering = render_for_network(network, post["text"], policy="thread")
        sent = "\n".join(part.text for part in rendering.parts)
        for entity in [*extract_urls(body), *extract_hashtags(body)]:
            assert body[entity.start : entity.end] in sent, (post["id"], entity)


@pytest.mark.parametrize("network", ["x", "bluesky"])
def test_truncation_keeps_the_trailing_hashtags_and_links(network: str) -> None:
    for post in POSTS:
        body = compose(post["text"], None)
        rendering = render_for_network(network, post["text"], policy="truncate")
        (part,) = rendering.parts
        if rendering.fits:
            assert part.text == body
            continue
        last_line = body.rsplit("\n", 1)[-1]
        if last_line.startswith("#") and all(w.startswith("#") for w in last_line.split()):
            assert part.text.endswith(last_line), post["id"]


@pytest.mark.parametrize("network", ["linkedin", "facebook", "instagram", "telegram", "youtube"])
def test_long_digest_is_truncated_for_single_post_networks(network: str) -> None:
    digest = "\n\n".join(TEXTS[3::4]) + "\n\n#FranceTravail #AvecPôleEmploi"
    options = NetworkOptions(
        facebook=FacebookOptions(max_characters=8000), instagram=InstagramOptions(max_hashtags=30)
    )
    rendering = render_for_network(network, digest, media=MEDIA.get(network, ["image"]), options=options)
    assert not rendering.fits and rendering.errors == []
    (part,) = rendering.parts
    assert "…" in part.text
    assert part.text.endswith("#FranceTravail #AvecPôleEmploi")
    _check_sent(network, rendering)
