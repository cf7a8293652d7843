"""Stories and topics (issue #16 item 1): what the web-social team curates for advocates to share.

A **topic** has a title in French and in Arabic, is `required` or optional, and is open to everyone
or restricted to an audience (regions and agencies: an agency is in it when it is named or its region
is). A **story** belongs to one topic: a link, suggested texts in French and Arabic (at least one),
media each with its alt text, the story's hashtag, and an expiry date.

A story is checked when it is written, so that no advocate is handed a text her network refuses:
each suggested text, with the story's link tagged for the longest agency id there can be
(`shared.advocacy.links`: the UTM tail makes a link longer on networks that count it in full, such
as Bluesky and LinkedIn), must fit every advocacy network without being cut (`reject` policy). An
advocate who personalises the text is checked again when she shares.

Pure: the hub and the nodes parse the same way (a story travels as the dict `as_record` gives).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from shared.advocacy.links import tag_link
from shared.ids import is_slug
from shared.networks import render_for_network
from shared.networks.extract import extract_hashtags

__all__ = [
    "ADVOCACY_NETWORKS",
    "LANGUAGES",
    "STORIES_BUCKET",
    "Audience",
    "OfferedStory",
    "Story",
    "StoryError",
    "StoryMedia",
    "Topic",
    "parse_story",
    "parse_topic",
    "story_key",
    "visible_stories",
]

ADVOCACY_NETWORKS = ("x", "linkedin", "mastodon", "bluesky")  # where advocates have personal accounts
LANGUAGES = ("fr", "ar")
MAX_TITLE, MAX_ALT = 120, 1000
# The UTM tail is longest for the longest agency id an agency can have (shared.ids.SLUG).
_LONGEST_AGENCY = "a" * 64
_ID_PLACEHOLDER = "0" * 26  # a story id is a ULID


class StoryError(ValueError):
    """A topic or story refused, with the field at fault (a JSON pointer-like path: `texts.fr`)."""

    def __init__(self, message: str, field: str, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.field = field
        self.code = code


@dataclass(frozen=True)
class Audience:
    """Who a topic is for: everyone when both are empty."""

    regions: frozenset[str] = frozenset()
    agencies: frozenset[str] = frozenset()

    def includes(self, agency: str, region: str | None) -> bool:
        if not self.regions and not self.agencies:
            return True
        return agency in self.agencies or (region is not None and region in self.regions)


@dataclass(frozen=True)
class Topic:
    id: str
    titles: Mapping[str, str]  # language -> title
    required: bool
    audience: Audience


@dataclass(frozen=True)
class StoryMedia:
    media_id: str
    alt: str  # required: every image an advocate shares is described


@dataclass(frozen=True)
class Story:
    id: str
    topic: str
    link: str
    texts: Mapping[str, str]  # language -> suggested text
    hashtag: str | None  # with its `#`, left out when shares are compared (shared.advocacy.similarity)
    media: tuple[StoryMedia, ...]
    expires_at: datetime  # aware

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def _text(data: Mapping[str, Any], name: str, field: str, limit: int, *, required: bool = True) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise StoryError(f"{field} must be a text with something else than spaces", field)
    if len(value) > limit:
        raise StoryError(f"{field} is {len(value)} characters, over the limit of {limit}", field)
    return value.strip()


def _ids(data: Mapping[str, Any], name: str, field: str) -> frozenset[str]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and is_slug(v) for v in value):
        raise StoryError(f"{field} must be a list of ids (lower-case letters, digits, - and _)", field)
    return frozenset(value)


def _by_language(data: Mapping[str, Any], name: str, limit: int) -> dict[str, str]:
    value = data.get(name)
    if not isinstance(value, dict) or not value:
        raise StoryError(f"{name} needs a text in French (fr) or Arabic (ar)", name)
    unknown = sorted(set(value) - set(LANGUAGES))
    if unknown:
        raise StoryError(f"{name}.{unknown[0]}: only fr and ar are written", f"{name}.{unknown[0]}")
    return {lang: _text(value, lang, f"{name}.{lang}", limit) for lang in LANGUAGES if lang in value}


def parse_topic(data: Mapping[str, Any]) -> Topic:
    topic_id = data.get("id")
    if not isinstance(topic_id, str) or not is_slug(topic_id):
        raise StoryError("id must be lower-case letters, digits, - and _ (at most 64)", "id")
    required = data.get("required", False)
    if not isinstance(required, bool):
        raise StoryError("required must be true or false", "required")
    audience = data.get("audience", {})
    if not isinstance(audience, dict) or set(audience) - {"regions", "agencies"}:
        raise StoryError("audience takes regions and agencies, lists of ids", "audience")
    return Topic(
        id=topic_id,
        titles=_by_language(data, "titles", MAX_TITLE),
        required=required,
        audience=Audience(
            regions=_ids(audience, "regions", "audience.regions"),
            agencies=_ids(audience, "agencies", "audience.agencies"),
        ),
    )


def _link(data: Mapping[str, Any]) -> str:
    link = _text(data, "link", "link", 2000)
    try:
        tag_link(link, network="x", story_id=_ID_PLACEHOLDER, agency=_LONGEST_AGENCY)
    except ValueError:
        raise StoryError(
            "link must be a web address starting with https://", "link", "invalid_link"
        ) from None
    if not link.lower().startswith("https://"):
        raise StoryError(
            "link must use https:// (advocates share it under their own name)", "link", "invalid_link"
        )
    return link


def _hashtag(data: Mapping[str, Any]) -> str | None:
    value = data.get("hashtag")
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not value.startswith("#")
        or ([tag.value for tag in extract_hashtags(value)] != [value[1:]])
    ):
        raise StoryError("hashtag must be one hashtag, such as #AvecPoleEmploi", "hashtag", "invalid_hashtag")
    return value


def _media(data: Mapping[str, Any]) -> tuple[StoryMedia, ...]:
    value = data.get("media", [])
    if not isinstance(value, list):
        raise StoryError("media must be a list of {media_id, alt}", "media")
    found = []
    for index, item in enumerate(value):
        field = f"media.{index}"
        if not isinstance(item, dict) or not isinstance(item.get("media_id"), str) or not item["media_id"]:
            raise StoryError(f"{field} needs its media_id", f"{field}.media_id")
        found.append(StoryMedia(item["media_id"], _text(item, "alt", f"{field}.alt", MAX_ALT)))
    return tuple(found)


def _expiry(data: Mapping[str, Any], now: datetime) -> datetime:
    value = data.get("expires_at")
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise StoryError(
            "expires_at must be a date and time with its offset (ISO 8601)", "expires_at", "invalid_datetime"
        )
    if moment <= now:
        raise StoryError("expires_at is already past", "expires_at", "expiry_past")
    return moment


def _check_fits(story_id: str, link: str, texts: Mapping[str, str]) -> None:
    """Each suggested text, with the link as the longest agency would share it, fits each network."""
    for lang, text in texts.items():
        for network in ADVOCACY_NETWORKS:
            tagged = tag_link(link, network=network, story_id=story_id, agency=_LONGEST_AGENCY)
            rendering = render_for_network(network, text, link=tagged, policy="reject")
            if rendering.errors:
                said = rendering.errors[0].message
                message = f"texts.{lang} does not fit {network} with the story's link: {said}"
                raise StoryError(message, f"texts.{lang}", "does_not_fit")


def parse_story(data: Mapping[str, Any], *, story_id: str, now: datetime, topics: Iterable[str]) -> Story:
    """The story `data` describes, given its id (the hub's ULID) and the topics that exist; raises
    `StoryError` naming the first field at fault."""
    topic = data.get("topic")
    if not isinstance(topic, str) or topic not in set(topics):
        raise StoryError("topic must name an existing topic", "topic", "unknown_topic")
    link = _link(data)
    texts = _by_language(data, "texts", 5000)
    story = Story(
        id=story_id,
        topic=topic,
        link=link,
        texts=texts,
        hashtag=_hashtag(data),
        media=_media(data),
        expires_at=_expiry(data, now),
    )
    _check_fits(story_id, link, texts)
    return story


def visible_stories(
    stories: Iterable[Story], topics: Mapping[str, Topic], *, agency: str, region: str | None, now: datetime
) -> list[Story]:
    """The stories an agency's advocates are offered: unexpired, in a topic whose audience has it."""
    return [
        story
        for story in stories
        if not story.expired(now)
        and story.topic in topics
        and topics[story.topic].audience.includes(agency, region)
    ]


# Approved stories reach each agency's node through this key-value bucket, one key per (agency, story):
# `story_key`. A node reads its own agency's keys only (shared/agency_consumers.py).
STORIES_BUCKET = "advocacy_stories"


def story_key(agency: str, story_id: str) -> str:
    return f"{agency}.{story_id}"


class OfferedStory(msgspec.Struct, frozen=True, kw_only=True):
    """A story as an agency's advocates are offered it (the bucket's value). `offered` False withdraws
    it from that agency (its topic's audience changed, or it expired): the node stops offering it."""

    id: str
    topic: str
    topic_titles: dict[str, str]
    required: bool
    link: str
    texts: dict[str, str]
    hashtag: str | None = None
    media: list[dict[str, str]] = []  # {"media_id", "alt"}
    expires_at: str
    offered: bool = True
