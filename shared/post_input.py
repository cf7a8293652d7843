"""Checking the fields of a submitted post, shared by the agency endpoint and the hub's campaigns.

Pure: each check returns the clean value or raises `InputError` saying what is wrong and where.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from shared.fitting_policy import FITTING_POLICIES, FittingPolicy
from shared.networks import KNOWN_NETWORKS, RETIRED_NETWORKS
from shared.networks.media import MediaItem, media_problems
from shared.networks.options import NetworkOptions
from shared.networks.preview import PolicyChoice, render_variant
from shared.targeting import SelectorError, parse_selector, unknown_variables

__all__ = [
    "LANGUAGE_TAG",
    "MAX_CAPTIONS",
    "MAX_MEDIA",
    "MAX_TEXT_CHARS",
    "NOT_PLAIN_CHARS",
    "PREVIEW_FIELDS",
    "SCHEDULE_YEARS",
    "CaptionChoice",
    "InputError",
    "MediaChoice",
    "PreviewInput",
    "check_content_warning",
    "check_fields",
    "check_link",
    "check_media_choices",
    "check_media_fits",
    "check_networks",
    "check_policy",
    "check_preview",
    "check_schedule",
    "check_selectors",
    "check_tags",
    "check_text",
    "check_text_fits",
    "check_title",
]

MAX_TEXT_CHARS = 10_000  # a longer text would be a thread of dozens of parts: refused up front
MAX_MEDIA = 20  # the most any network takes in one post (LinkedIn's multi-image post)
MAX_CONTENT_WARNING_CHARS = 1_000
SCHEDULE_YEARS = (2000, 2999)
MAX_ALT_CHARS = 10_000  # bounds the input; each network's own alt limit is checked with its rules
MAX_CAPTIONS = 20  # caption files of one video (Bluesky's lexicon: `app.bsky.embed.video` captions)
# BCP-47, as far as a caption's language goes: a primary language, then subtags ("fr", "pt-BR").
LANGUAGE_TAG = "[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}"
_LANGUAGE_TAG = re.compile(LANGUAGE_TAG)
PREVIEW_FIELDS = frozenset(
    {"text", "networks", "link", "policy", "content_warning", "media", "title", "tags"}
)
# A title and tags bound the input; each network's own limits are checked with its rules (YouTube: a
# title of 100 characters, tags of 500 in all; SlideShare: `SlideShareOptions`).
MAX_TITLE_CHARS = 1_000
MAX_TAGS = 50
MAX_TAG_CHARS = 100
# Plain text only: markup characters (YouTube refuses `<` `>`; a title is shown in HTML pages) and
# control characters (a line break or NUL in a one-line field) are refused, never rewritten.
# (A character class's body, read alike by Python's `re` and ECMA-262: the OpenAPI document uses it.)
NOT_PLAIN_CHARS = r"<>\x00-\x1f\x7f-\x9f\u2028\u2029"
_NOT_PLAIN = re.compile(f"[{NOT_PLAIN_CHARS}]")


class InputError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def check_fields(body: Any, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InputError(400, "invalid_body", "the body must be a JSON object", None)
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InputError(400, "unknown_field", f"unknown field {unknown[0]!r}", unknown[0])
    return body


def _require(value: Any, field: str, what: str) -> None:
    """A field that is absent (or null) is `missing_field`; one of the wrong JSON type is `invalid_type`.

    Both are 400s, but they ask the client for different fixes, so they are never conflated.
    """
    if value is None:
        raise InputError(400, "missing_field", f"{field} is required: {what}", field)


def _list_of_strings(value: Any, field: str, what: str) -> list[str]:
    """A required, non-empty JSON array of strings; the first element of another type is named."""
    _require(value, field, what)
    if not isinstance(value, list):
        raise InputError(400, "invalid_type", f"{field} must be {what}, not {_json_type(value)}", field)
    if not value:
        raise InputError(400, "missing_field", f"{field} must not be empty: {what}", field)
    for index, item in enumerate(value):
        if not isinstance(item, str):
            at = f"{field}[{index}]"
            raise InputError(400, "invalid_type", f"{at} must be a string, not {_json_type(item)}", at)
    return value


def _json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


def check_text(value: Any) -> str:
    _require(value, "text", "a non-empty string")
    if not isinstance(value, str):
        raise InputError(400, "invalid_type", f"text must be a string, not {_json_type(value)}", "text")
    if not value.strip():
        raise InputError(400, "missing_field", "text is required and must be a non-empty string", "text")
    if len(value) > MAX_TEXT_CHARS:
        message = f"text is {len(value):,} characters, over the limit of {MAX_TEXT_CHARS:,}"
        raise InputError(422, "text_too_long", message, "text")
    unknown = unknown_variables(value)
    if unknown:
        raise InputError(422, "unknown_variable", f"unknown variable {{{unknown[0]}}}", "text")
    return value


def check_link(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(400, "invalid_type", "link must be a string", "link")
    try:
        parts = urlsplit(value)
    except ValueError:  # an unbalanced IPv6 bracket: `http://[`
        raise InputError(422, "invalid_link", "link must be an absolute http(s) URL", "link") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(422, "invalid_link", "link must be an absolute http(s) URL", "link")
    return value


def check_networks(value: Any) -> list[str]:
    _list_of_strings(value, "networks", "a non-empty list of network names")
    for index, network in enumerate(value):
        field = f"networks[{index}]"
        if network in RETIRED_NETWORKS:
            raise InputError(422, "network_retired", RETIRED_NETWORKS[network], field)
        if network not in KNOWN_NETWORKS:
            known = ", ".join(KNOWN_NETWORKS)
            raise InputError(422, "unknown_network", f"unknown network {network!r}; known: {known}", field)
    return list(dict.fromkeys(value))


def check_selectors(value: Any) -> list[str]:
    _list_of_strings(value, "selectors", "a non-empty list of selectors")
    for index, selector in enumerate(value):
        try:
            parse_selector(selector)
        except SelectorError as exc:
            raise InputError(422, "invalid_selector", str(exc), f"selectors[{index}]") from None
    return list(dict.fromkeys(value))


def check_schedule(value: Any) -> str | None:
    """ISO-8601; with an offset it is one instant, without one it is each page's local time."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(400, "invalid_type", "schedule_at must be an ISO-8601 string", "schedule_at")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(422, "invalid_datetime", "schedule_at is not ISO-8601", "schedule_at") from None
    # Bounded so that every page's timezone can convert it: year 9999 at -23:59 is past datetime's range.
    if not SCHEDULE_YEARS[0] <= moment.year <= SCHEDULE_YEARS[1]:
        message = f"schedule_at must be within the years {SCHEDULE_YEARS[0]}-{SCHEDULE_YEARS[1]}"
        raise InputError(422, "invalid_datetime", message, "schedule_at")
    return moment.isoformat()


def check_policy(value: Any, networks: list[str]) -> dict[str, FittingPolicy]:
    """`"thread"`, `"truncate"`, `"reject"`, or `{network: policy}`; returned per chosen network.

    A network left out of the object keeps its own default (thread where it can, else truncate).
    """
    if value is None:
        return {}
    if isinstance(value, str):
        return {network: _policy(value, "policy") for network in networks}
    if not isinstance(value, dict):
        raise InputError(400, "invalid_type", "policy must be a string or an object by network", "policy")
    chosen = {}
    for network, policy in value.items():
        field = f"policy.{network}"
        if network not in networks:
            raise InputError(422, "policy_network_not_chosen", f"{network!r} is not in networks", field)
        chosen[network] = _policy(policy, field)
    return chosen


def _policy(value: Any, field: str) -> FittingPolicy:
    for policy in FITTING_POLICIES:
        if value == policy:
            return policy
    raise InputError(422, "invalid_policy", f"{field} must be one of {', '.join(FITTING_POLICIES)}", field)


def check_content_warning(value: Any) -> str | None:
    """Mastodon's spoiler text; other networks do not show it."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(400, "invalid_type", "content_warning must be a string", "content_warning")
    if len(value) > MAX_CONTENT_WARNING_CHARS:
        message = f"content_warning is over {MAX_CONTENT_WARNING_CHARS} characters"
        raise InputError(422, "content_warning_too_long", message, "content_warning")
    return value if value.strip() else None


def _plain_line(value: str, field: str, code: str) -> None:
    """Refuse markup and control characters in a one-line field, naming the first one."""
    found = _NOT_PLAIN.search(value)
    if found:
        message = f"{field} must be plain text on one line: {found.group()!r} is not allowed"
        raise InputError(422, code, message, field)


def check_title(value: Any) -> str | None:
    """A presentation's or video's title (networks without titles ignore it); absent is None. Like
    the text, it may use the page variables (`{ville}`), filled in for each page."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(400, "invalid_type", f"title must be a string, not {_json_type(value)}", "title")
    if not value.strip():
        raise InputError(422, "empty_title", "title must not be blank; leave it out instead", "title")
    if len(value) > MAX_TITLE_CHARS:
        message = f"title is {len(value):,} characters, over the limit of {MAX_TITLE_CHARS:,}"
        raise InputError(422, "title_too_long", message, "title")
    _plain_line(value, "title", "invalid_title")
    unknown = unknown_variables(value)
    if unknown:
        raise InputError(422, "unknown_variable", f"unknown variable {{{unknown[0]}}}", "title")
    return value.strip()


def check_tags(value: Any) -> list[str]:
    """Keywords for the networks that take tags (SlideShare, YouTube): each once, in order."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(
            400, "invalid_type", f"tags must be a list of strings, not {_json_type(value)}", "tags"
        )
    if len(value) > MAX_TAGS:
        message = f"{len(value):,} tags, at most {MAX_TAGS}"
        raise InputError(422, "too_many_tags", message, "tags")
    tags: list[str] = []
    for index, tag in enumerate(value):
        field = f"tags[{index}]"
        if not isinstance(tag, str):
            raise InputError(400, "invalid_type", f"{field} must be a string, not {_json_type(tag)}", field)
        if not tag.strip():
            raise InputError(422, "invalid_tag", f"{field} is blank", field)
        if len(tag) > MAX_TAG_CHARS:
            message = f"{field} is {len(tag):,} characters, over the limit of {MAX_TAG_CHARS}"
            raise InputError(422, "invalid_tag", message, field)
        if "," in tag:  # SlideShare's and YouTube's separator: one tag would become two
            raise InputError(422, "invalid_tag", f"{field} must not contain a comma", field)
        _plain_line(tag, field, "invalid_tag")
        tag = tag.strip()
        if tag not in tags:
            tags.append(tag)
    return tags


@dataclass(frozen=True)
class CaptionChoice:
    """A video's caption file named in a request: its language and an uploaded WebVTT media id."""

    lang: str
    media_id: str


@dataclass(frozen=True)
class MediaChoice:
    """An attachment named in a request: an uploaded media id, its alt text and (a video's) captions."""

    id: str
    alt: str
    captions: tuple[CaptionChoice, ...] = ()


def check_media_choices(value: Any, *, require_alt: bool) -> list[MediaChoice]:
    """`[{"id", "alt"}]`: well formed, each id once, alt text present unless not required."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(400, "invalid_type", "media must be a list of {id, alt}", "media")
    if len(value) > MAX_MEDIA:
        raise InputError(422, "too_many_media", f"at most {MAX_MEDIA} media in a post", "media")
    chosen: list[MediaChoice] = []
    for index, item in enumerate(value):
        field = f"media[{index}]"
        if not isinstance(item, dict):
            raise InputError(400, "invalid_type", f"{field} must be an object {{id, alt}}", field)
        unknown = sorted(set(item) - {"id", "alt", "captions"})
        if unknown:
            raise InputError(400, "unknown_field", f"unknown field {unknown[0]!r}", f"{field}.{unknown[0]}")
        media_id, alt = item.get("id"), item.get("alt", "")
        if media_id is not None and not isinstance(media_id, str):
            message = f"{field}.id must be a string, not {_json_type(media_id)}"
            raise InputError(400, "invalid_type", message, f"{field}.id")
        if not media_id:
            raise InputError(400, "missing_field", f"{field}.id must name an uploaded medium", f"{field}.id")
        if not isinstance(alt, str):
            raise InputError(400, "invalid_type", f"{field}.alt must be a string", f"{field}.alt")
        if require_alt and not alt.strip():
            message = f"{field} needs alt text: a description for people who cannot see it"
            raise InputError(422, "alt_text_required", message, f"{field}.alt")
        if len(alt) > MAX_ALT_CHARS:
            message = f"{field}.alt is over {MAX_ALT_CHARS} characters"
            raise InputError(422, "alt_text_too_long", message, f"{field}.alt")
        captions = _caption_choices(item.get("captions"), f"{field}.captions")
        named = [c.id for c in chosen] + [c.media_id for m in chosen for c in m.captions]
        for number, caption in enumerate(captions):
            if caption.media_id in named or caption.media_id == media_id:
                message = f"{caption.media_id} is attached twice"
                raise InputError(422, "duplicate_media", message, f"{field}.captions[{number}].media_id")
            named.append(caption.media_id)
        if media_id in named:
            raise InputError(422, "duplicate_media", f"{media_id} is attached twice", f"{field}.id")
        chosen.append(MediaChoice(media_id, alt, captions))
    return chosen


def _caption_choices(value: Any, field: str) -> tuple[CaptionChoice, ...]:
    """`[{"lang", "media_id"}]`: at most `MAX_CAPTIONS`, one per language, each a language tag."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InputError(400, "invalid_type", f"{field} must be a list of {{lang, media_id}}", field)
    if len(value) > MAX_CAPTIONS:
        raise InputError(422, "too_many_captions", f"at most {MAX_CAPTIONS} caption files a video", field)
    captions: list[CaptionChoice] = []
    for index, item in enumerate(value):
        at = f"{field}[{index}]"
        if not isinstance(item, dict):
            raise InputError(400, "invalid_type", f"{at} must be an object {{lang, media_id}}", at)
        unknown = sorted(set(item) - {"lang", "media_id"})
        if unknown:
            raise InputError(400, "unknown_field", f"unknown field {unknown[0]!r}", f"{at}.{unknown[0]}")
        lang, media_id = item.get("lang"), item.get("media_id")
        for name, given in (("lang", lang), ("media_id", media_id)):
            if not isinstance(given, str) or not given:
                message = f"{at}.{name} must be a non-empty string"
                raise InputError(
                    400, "missing_field" if given is None else "invalid_type", message, f"{at}.{name}"
                )
        assert isinstance(lang, str) and isinstance(media_id, str)
        if not _LANGUAGE_TAG.fullmatch(lang):
            message = f"{at}.lang must be a language tag such as fr, ar or pt-BR"
            raise InputError(422, "invalid_language", message, f"{at}.lang")
        if any(c.lang.lower() == lang.lower() for c in captions):
            raise InputError(422, "duplicate_caption", f"a second caption file in {lang}", f"{at}.lang")
        captions.append(CaptionChoice(lang, media_id))
    return tuple(captions)


def check_media_fits(media: Sequence[MediaItem], networks: list[str], *, require_alt: bool) -> None:
    """Each attachment's type, size and alt text against each chosen network's limits."""
    for network in networks:
        problems = media_problems(network, media, require_alt=require_alt)
        if problems:
            first = problems[0]
            raise InputError(422, first.error.code, first.error.message, first.field)


# Rule errors about the attachments as a whole point at `media`; YouTube's title at `title`.
_ERROR_FIELDS = {
    "too_many_media": "media",
    "media_required": "media",
    "unsupported_media_type": "media",
    "media_too_large": "media",
    "alt_text_required": "media",
    "alt_text_too_long": "media",
    "empty_title": "title",
    "title_too_long": "title",
    "too_many_tags": "tags",
    "tags_too_long": "tags",
}


def check_text_fits(
    text: str,
    link: str | None,
    networks: list[str],
    *,
    policy: PolicyChoice = None,
    content_warning: str | None = None,
    media: Sequence[MediaItem] = (),
    require_alt: bool = True,
    options: NetworkOptions | None = None,
    title: str | None = None,
    tags: Sequence[str] = (),
    reply: bool = False,
) -> None:
    """Refuse, before anything is stored, a post that some network would refuse (`reply`: an
    answer to a person, rendered as the formatter renders replies).

    With the `reject` policy an over-long text is `too_long`, naming the network, the length and
    the limit; with `thread` or `truncate` only what no fitting can fix is refused, and a thread
    of more parts than `options.max_thread_parts` (`too_many_parts`).
    """
    for network in networks:
        rendering = render_variant(
            network,
            text,
            link=link,
            policy=policy,
            content_warning=content_warning,
            media=media,
            require_alt=require_alt,
            options=options,
            title=title,
            tags=tags,
            reply=reply,
        )
        if rendering.errors:
            messages = "; ".join(e.message for e in rendering.errors)
            code = rendering.errors[0].code
            raise InputError(422, code, messages, _ERROR_FIELDS.get(code, "text"))


@dataclass(frozen=True)
class PreviewInput:
    """A checked preview request: what the post would be, without pages (a preview stores nothing)."""

    text: str
    networks: list[str]
    link: str | None
    policy: dict[str, FittingPolicy]
    content_warning: str | None
    media: list[MediaChoice]
    title: str | None = None
    tags: list[str] = dataclass_field(default_factory=list)


def check_preview(body: Any) -> PreviewInput:
    """The fields of a preview, checked as a post's are (alt text is shown as missing, not refused)."""
    fields = check_fields(body, PREVIEW_FIELDS)
    text = check_text(fields.get("text"))
    networks = check_networks(fields.get("networks"))
    return PreviewInput(
        text=text,
        networks=networks,
        link=check_link(fields.get("link")),
        policy=check_policy(fields.get("policy"), networks),
        content_warning=check_content_warning(fields.get("content_warning")),
        media=check_media_choices(fields.get("media"), require_alt=False),
        title=check_title(fields.get("title")),
        tags=check_tags(fields.get("tags")),
    )
