"""Properties of fitting, on generated posts: every part fits, nothing is ever cut in half.

Limits are lowered through the options so that most generated posts need several parts.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.networks import KNOWN_NETWORKS, MediaKind, NetworkOptions, fitting, get_rules
from shared.networks.base import Request, compose
from shared.networks.mastodon import MastodonRules
from shared.networks.options import (
    BlueskyOptions,
    FacebookOptions,
    InstagramOptions,
    LinkedInOptions,
    MastodonOptions,
    SlideShareOptions,
    TelegramOptions,
    ThreadsOptions,
    XOptions,
    YouTubeOptions,
)
from shared.networks.text import grapheme_boundaries, grapheme_count, utf8_len, utf16_len
from shared.networks.weighted import TWITTER_V3, weighted_length

OPTIONS = NetworkOptions(
    x=XOptions(config=replace(TWITTER_V3, max_weighted_tweet_length=120)),
    mastodon=MastodonOptions(max_characters=140),
    bluesky=BlueskyOptions(max_graphemes=110, max_bytes=200),
    threads=ThreadsOptions(max_characters=130, safety_margin=10, max_links=2),
    linkedin=LinkedInOptions(max_characters=150),
    facebook=FacebookOptions(max_characters=150),
    instagram=InstagramOptions(max_characters=150, max_hashtags=1000),
    telegram=TelegramOptions(max_message=150),
    youtube=YouTubeOptions(max_description_bytes=300),
    slideshare=SlideShareOptions(max_description_characters=150),
    # Limits this small make long threads of any text: the properties are about each part, so the
    # cap on the number of parts (tested in test_thread_limit.py) is lifted here.
    max_thread_parts=1000,
)
THREADED = ("x", "mastodon", "bluesky", "threads")

WORDS = st.sampled_from(
    [
        "emploi",
        "l’agence",
        "Besançon",
        "CDI",
        "1 900 €",
        "recrutement",
        "alternance",
        "فرص",
        "العمل",
        "الجديدة",
        "ⵜⴰⵡⵓⵔⵉ",
        "ⴰⵣⵓⵍ",
        "求人",
        "仕事を探す",
        "q\u0301",
        "क्षेत्र",
        "\u1100\u1161\u11a8",
        "e.g.",
        "dossier.pdf",
        "mail@francetravail.fr",
        "«\u202fOui\u202f»",
        "\u0301x",  # a mark after a space joins the space's grapheme cluster
    ]
)
LINKS = st.sampled_from(
    [
        "https://francetravail.fr/offres",
        "francetravail.fr/evenements",
        "https://www.service-public.fr/particuliers/vosdroits/F1452",
        "https://candidat.francetravail.fr/offres/recherche?motsCles=cuisinier&lieux=35238",
        "https://fr.wikipedia.org/wiki/Emploi_(économie)",
    ]
)
TAGS = st.sampled_from(["#AvecPôleEmploi", "#FranceTravail", "#Emploi", "#JobDating", "#التشغيل", "#ⵜⴰⵡⵓⵔⵉ"])
EMOJI = st.sampled_from(
    ["📍", "👉", "🇫🇷", "🇲🇦", "👩🏽\u200d💻", "👨\u200d👩\u200d👧\u200d👦", "1\ufe0f\u20e3", "©", "⭐\ufe0f"]
)
LETTERS = st.text(alphabet="abcdeéèçàùôABCZ0123456789ⵜⴰعل漢字", min_size=1, max_size=40)
SEPARATORS = st.sampled_from([" ", " ", " ", "\n", "\n\n", "\u202f! ", ". ", ", ", "\u202f: ", " — "])
TOKENS = st.one_of(WORDS, WORDS, WORDS, LINKS, TAGS, EMOJI, LETTERS)
POSTS = st.lists(st.tuples(TOKENS, SEPARATORS), min_size=12, max_size=150).map(
    lambda pairs: "".join(token + sep for token, sep in pairs)
)
# Ending with a plain word: a post whose trailing links alone overflow cannot be truncated.
TRUNCATABLE = st.tuples(POSTS, WORDS).map(lambda pair: pair[0] + " " + pair[1])


def assert_fits(network: str, text: str) -> None:
    """Measure a sent part independently of the fitting code."""
    if network == "x":
        assert weighted_length(text) <= 120
    elif network == "mastodon":
        assert MastodonRules().measure(text) <= 140
    elif network == "bluesky":
        assert grapheme_count(text) <= 110 and utf8_len(text) <= 200
    elif network == "threads":
        assert grapheme_count(text) <= 120
        assert len({e.value for e in get_rules("x").extract(text) if e.kind == "url"}) <= 2
    elif network == "youtube":
        assert utf8_len(text) <= 300 and "<" not in text and ">" not in text
    elif network == "slideshare":  # code points, the stricter reading of an undocumented cap
        assert len(text) <= 150
    else:  # sent as is (LinkedIn: escaped), counted in UTF-16 code units
        assert utf16_len(text) <= 150


@settings(max_examples=60, deadline=None, database=None)
@given(POSTS, st.sampled_from(THREADED))
def test_every_thread_part_fits_and_keeps_entities_whole(text: str, network: str) -> None:
    rules = get_rules(network, OPTIONS)
    rendering = rules.render(text, policy="thread")
    assert rendering.errors == []
    for part in rendering.parts:
        assert_fits(network, part.text)
        assert part.length <= rendering.limit
    body = compose(text, None)
    for entity in rules.extract(body):
        if entity.kind in ("url", "hashtag"):
            whole = body[entity.start : entity.end]
            assert any(whole in part.text for part in rendering.parts), whole


@settings(max_examples=100, deadline=None, database=None)
@given(TRUNCATABLE, st.sampled_from(KNOWN_NETWORKS))
def test_every_truncated_post_fits(text: str, network: str) -> None:
    required: dict[str, list[MediaKind]] = {
        "youtube": ["video"],
        "instagram": ["image"],
        "slideshare": ["document"],
    }
    media = required.get(network, [])
    rendering = get_rules(network, OPTIONS).render(text, policy="truncate", media=media)
    assert rendering.errors == []
    (part,) = rendering.parts
    assert_fits(network, part.text)
    if not rendering.fits:
        assert "…" in part.text


@settings(max_examples=80, deadline=None, database=None)
@given(POSTS, st.sampled_from(THREADED), st.sampled_from(["thread", "truncate"]))
def test_no_cut_inside_a_grapheme_link_or_hashtag(text: str, network: str, policy: str) -> None:
    rules = get_rules(network, OPTIONS)
    body = compose(text, None)
    entities = rules.extract(body)

    request = Request(body)

    def fits(chunk: str) -> bool:
        return rules.fits(chunk, request)

    if policy == "thread":
        fitted = fitting.thread(body, fits, entities, "\n{i}/{n}")
    else:
        fitted = fitting.truncate(body, fits, entities)
    boundaries = set(grapheme_boundaries(body))
    for cut in fitted.cuts:
        assert cut in boundaries
        assert not any(e.start < cut < e.end for e in entities)
