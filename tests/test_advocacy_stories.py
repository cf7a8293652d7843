"""Stories and topics (issue #16 item 1), pure rules. The expected answers come from the policy in
shared/advocacy/stories.py's docstring, written by hand: a topic is for everyone unless it names
regions or agencies; a story needs an existing topic, an https link, a suggested text in French or
Arabic that fits every advocacy network once the link carries its UTM tail (for the longest agency id
there can be), alt text on every medium, and an expiry in the future; a refusal names its field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.advocacy.links import tag_link
from shared.advocacy.stories import (
    Audience,
    StoryError,
    parse_story,
    parse_topic,
    visible_stories,
)

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
STORY_ID = "01JEZ0000000000000000000AB"
LINK = "https://www.francetravail.fr/actualites/forum?ville=Lyon"


def story(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "topic": "salons",
        "link": LINK,
        "texts": {"fr": "Le salon de l'emploi ouvre jeudi à Lyon.", "ar": "معرض التوظيف يفتح يوم الخميس"},
        "hashtag": "#AvecPoleEmploi",
        "media": [{"media_id": "m1", "alt": "L'entrée du salon, des stands et des visiteurs"}],
        "expires_at": (NOW + timedelta(days=7)).isoformat(),
    }
    return {**data, **changes}


def refusal(data: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(StoryError) as caught:
        parse_story(data, story_id=STORY_ID, now=NOW, topics=["salons"])
    return caught.value.field, caught.value.code


@pytest.mark.parametrize(
    ("audience", "agency", "region", "included"),
    [
        (Audience(), "lyon", "ara", True),
        (Audience(regions=frozenset({"ara"})), "lyon", "ara", True),
        (Audience(regions=frozenset({"ara"})), "rennes", "bretagne", False),
        (Audience(agencies=frozenset({"rennes"})), "rennes", "bretagne", True),
        (Audience(agencies=frozenset({"rennes"})), "lyon", "ara", False),
        (Audience(regions=frozenset({"ara"})), "lyon", None, False),  # a region unknown is no region
    ],
)
def test_a_topic_is_for_everyone_unless_it_names_regions_or_agencies(
    audience: Audience, agency: str, region: str | None, included: bool
) -> None:
    assert audience.includes(agency, region) is included


def test_a_topic_is_parsed_with_its_audience() -> None:
    topic = parse_topic(
        {
            "id": "salons",
            "titles": {"fr": "Salons", "ar": "معارض"},
            "required": True,
            "audience": {"regions": ["ara"]},
        }
    )
    assert (topic.id, topic.required, dict(topic.titles)) == ("salons", True, {"fr": "Salons", "ar": "معارض"})
    assert topic.audience == Audience(regions=frozenset({"ara"}))


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"id": "Salons!", "titles": {"fr": "Salons"}}, "id"),
        ({"id": "salons"}, "titles"),
        ({"id": "salons", "titles": {"en": "Fairs"}}, "titles.en"),
        ({"id": "salons", "titles": {"fr": "   "}}, "titles.fr"),
        ({"id": "salons", "titles": {"fr": "Salons"}, "required": "yes"}, "required"),
        ({"id": "salons", "titles": {"fr": "Salons"}, "audience": {"teams": ["a"]}}, "audience"),
        ({"id": "salons", "titles": {"fr": "Salons"}, "audience": {"regions": ["Île"]}}, "audience.regions"),
    ],
)
def test_a_bad_topic_is_refused_naming_its_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(StoryError) as caught:
        parse_topic(data)
    assert caught.value.field == field


def test_a_good_story_is_parsed() -> None:
    parsed = parse_story(story(), story_id=STORY_ID, now=NOW, topics=["salons"])
    assert (parsed.topic, parsed.link, parsed.hashtag) == ("salons", LINK, "#AvecPoleEmploi")
    assert set(parsed.texts) == {"fr", "ar"} and parsed.media[0].alt.startswith("L'entrée")
    assert not parsed.expired(NOW) and parsed.expired(NOW + timedelta(days=7))


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"topic": "inconnu"}, "topic", "unknown_topic"),
        ({"link": "http://www.francetravail.fr/"}, "link", "invalid_link"),
        ({"link": "javascript:alert(1)"}, "link", "invalid_link"),
        ({"link": "https://[::1/"}, "link", "invalid_link"),
        ({"texts": {}}, "texts", "invalid_value"),
        ({"texts": {"fr": "Bonjour", "en": "Hello"}}, "texts.en", "invalid_value"),
        ({"hashtag": "AvecPoleEmploi"}, "hashtag", "invalid_hashtag"),
        ({"hashtag": "#Avec #Deux"}, "hashtag", "invalid_hashtag"),
        ({"media": [{"media_id": "m1"}]}, "media.0.alt", "invalid_value"),
        ({"media": [{"alt": "Une photo"}]}, "media.0.media_id", "invalid_value"),
        ({"expires_at": (NOW - timedelta(minutes=1)).isoformat()}, "expires_at", "expiry_past"),
        ({"expires_at": "2026-12-24T10:00:00"}, "expires_at", "invalid_datetime"),  # whose 10:00?
    ],
)
def test_a_bad_story_is_refused_naming_its_field(changes: dict[str, Any], field: str, code: str) -> None:
    assert refusal(story(**changes)) == (field, code)


def test_a_suggested_text_must_fit_bluesky_with_the_longest_tagged_link() -> None:
    # Bluesky counts the whole link in its 300 graphemes; the text and the link are on two lines.
    tagged = tag_link(LINK, network="bluesky", story_id=STORY_ID, agency="a" * 64)
    room = 300 - len(tagged) - 1
    parse_story(story(texts={"fr": "é" * room}), story_id=STORY_ID, now=NOW, topics=["salons"])
    assert refusal(story(texts={"fr": "é" * (room + 1)})) == ("texts.fr", "does_not_fit")
    with pytest.raises(StoryError, match="bluesky"):
        parse_story(story(texts={"fr": "é" * (room + 1)}), story_id=STORY_ID, now=NOW, topics=["salons"])


def test_an_agency_is_offered_the_unexpired_stories_of_its_topics() -> None:
    topics = {
        "salons": parse_topic({"id": "salons", "titles": {"fr": "Salons"}}),
        "bretagne": parse_topic(
            {"id": "bretagne", "titles": {"fr": "Bretagne"}, "audience": {"regions": ["bzh"]}}
        ),
    }
    open_story = parse_story(story(), story_id="s1", now=NOW, topics=topics)
    regional = parse_story(story(topic="bretagne"), story_id="s2", now=NOW, topics=topics)
    short = parse_story(
        story(expires_at=(NOW + timedelta(hours=1)).isoformat()), story_id="s3", now=NOW, topics=topics
    )
    later = NOW + timedelta(hours=2)

    lyon = visible_stories([open_story, regional, short], topics, agency="lyon", region="ara", now=later)
    rennes = visible_stories([open_story, regional, short], topics, agency="rennes", region="bzh", now=later)

    assert [s.id for s in lyon] == ["s1"]
    assert [s.id for s in rennes] == ["s1", "s2"]
