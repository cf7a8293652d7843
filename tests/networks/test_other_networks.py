"""LinkedIn, Facebook, Instagram, Threads, Telegram and YouTube rules."""

from __future__ import annotations

import pytest

from shared.networks import NetworkOptions, render_for_network
from shared.networks.linkedin import escape_little_text
from shared.networks.options import FacebookOptions, InstagramOptions
from shared.networks.telegram import escape_markdown_v2, telegram_entities


@pytest.mark.parametrize("char", list("\\|{}@[]()<>#*_~"))
def test_linkedin_escapes_every_reserved_character(char: str) -> None:
    assert escape_little_text(f"a {char} b") == f"a \\{char} b"


def test_linkedin_escapes_backslash_before_the_rest() -> None:
    # "\(" must become "\\\(": the backslash escaped, then the parenthesis.
    assert escape_little_text("\\(") == "\\\\\\("


def test_linkedin_keeps_real_hashtags() -> None:
    text = "Salon (gratuit) à Metz : #AvecPôleEmploi #FranceTravail, contact@francetravail.fr #1 C#"
    assert escape_little_text(text) == (
        "Salon \\(gratuit\\) à Metz : #AvecPôleEmploi #FranceTravail, contact\\@francetravail.fr \\#1 C\\#"
    )


def test_linkedin_sends_and_measures_the_escaped_commentary() -> None:
    rendering = render_for_network("linkedin", "Horaires (9 h - 17 h) #Emploi")
    assert [p.text for p in rendering.parts] == ["Horaires \\(9 h - 17 h\\) #Emploi"]
    assert rendering.length == rendering.parts[0].length == 31


def test_facebook_limit_is_configurable() -> None:
    options = NetworkOptions(facebook=FacebookOptions(max_characters=50))
    rendering = render_for_network(
        "facebook", "Offre d’emploi à Pau, CDI. " * 4, options=options, policy="reject"
    )
    assert rendering.limit == 50 and rendering.errors[0].code == "too_long"
    assert render_for_network("facebook", "Offre d’emploi à Pau, CDI. " * 4).fits


def test_instagram_requires_media_and_caps_hashtags() -> None:
    text = "Recrutement à Lille ! #Emploi #Recrutement #Alternance #Jeunes #FranceTravail #AvecPôleEmploi"
    missing = render_for_network("instagram", text)
    assert [e.code for e in missing.errors] == ["media_required", "too_many_hashtags"]
    assert missing.parts == []
    allowed = NetworkOptions(instagram=InstagramOptions(max_hashtags=30))
    ok = render_for_network("instagram", text, media=["image"], options=allowed)
    assert ok.errors == [] and [p.text for p in ok.parts] == [text]


def test_threads_allows_five_distinct_links_per_post() -> None:
    links = [f"https://francetravail.fr/offre/{i}" for i in range(7)]
    text = "Offres du jour : " + " ".join(links)
    rendering = render_for_network("threads", text)
    assert not rendering.fits
    assert [(limit.unit, limit.limit, limit.length) for limit in rendering.other_limits] == [("links", 5, 7)]
    assert len(rendering.parts) == 2
    for part in rendering.parts:
        assert sum(link in part.text for link in links) <= 5
    assert all(any(link in part.text for part in rendering.parts) for link in links)
    same = render_for_network("threads", "Voir " + " ".join([links[0]] * 7))
    assert same.fits


def test_threads_keeps_a_safety_margin() -> None:
    assert render_for_network("threads", "a" * 490).fits
    assert not render_for_network("threads", "a" * 491).fits


def test_telegram_entities_use_utf16_offsets() -> None:
    text = "👩\u200d🍳 Cuisinier·e à Brest 🇫🇷 https://francetravail.fr/offres #Emploi"
    assert telegram_entities(text) == [
        {"type": "url", "offset": 31, "length": 31},
        {"type": "hashtag", "offset": 63, "length": 7},
    ]
    rendering = render_for_network("telegram", text)
    assert rendering.parts[0].facets == telegram_entities(text)
    assert rendering.unit == "utf16" and rendering.length == 70  # 66 code points


def test_telegram_caption_limit_with_media() -> None:
    text = "Atelier CV à Metz. " * 100
    assert render_for_network("telegram", text).limit == 4096
    captioned = render_for_network("telegram", text, media=["image"])
    assert captioned.limit == 1024 and captioned.parts[0].length <= 1024


def test_markdown_v2_escaping() -> None:
    assert (
        escape_markdown_v2("Salon (9h-17h) : 1.500 offres !") == "Salon \\(9h\\-17h\\) : 1\\.500 offres \\!"
    )


def test_youtube_description_in_bytes_without_angle_brackets() -> None:
    rendering = render_for_network("youtube", "Atelier <CV> à Pau : 5 € → ok", media=["video"])
    assert [p.text for p in rendering.parts] == ["Atelier ‹CV› à Pau : 5 € → ok"]
    assert rendering.unit == "bytes" and rendering.length == len("Atelier ‹CV› à Pau : 5 € → ok".encode())


def test_youtube_requires_a_video() -> None:
    assert [e.code for e in render_for_network("youtube", "Replay", media=["image"]).errors] == [
        "media_required"
    ]


def test_youtube_title_is_checked_and_shortened() -> None:
    title = "Replay <webinaire> : " + "les métiers qui recrutent en Occitanie " * 5
    shortened = render_for_network("youtube", "Replay", media=["video"], title=title)
    assert shortened.errors == []
    assert shortened.title is not None and len(shortened.title) <= 100
    assert shortened.title.startswith("Replay ‹webinaire› : les métiers") and shortened.title.endswith("…")
    refused = render_for_network("youtube", "Replay", media=["video"], title=title, policy="reject")
    assert [e.code for e in refused.errors] == ["title_too_long"]


@pytest.mark.parametrize(
    ("network", "media", "code"),
    [
        ("x", ["image"] * 5, "too_many_media"),
        ("x", ["video", "image"], "too_many_media"),
        ("bluesky", ["image"] * 5, "too_many_media"),
        ("mastodon", ["image"] * 5, "too_many_media"),
        ("linkedin", ["image"] * 21, "too_many_media"),
        ("instagram", ["image"] * 11, "too_many_media"),
    ],
)
def test_media_limits(network: str, media: list[str], code: str) -> None:
    assert code in [e.code for e in render_for_network(network, "Photos du forum", media=media).errors]  # type: ignore[arg-type]
