"""The request and answer types of writing a post, shared by the agency's API and the hub's campaigns.

Their JSON Schemas (shared/api_contract.py) are what each service's `/v1/openapi.json` says a post
is. The handlers still check bodies field by field (shared/post_input.py, which names the field at
fault in every refusal); `tests/test_openapi.py` holds these types and those checks to the same
fields, and the schema-driven fuzzer (tests/test_schemathesis.py) holds them to the same answers.
The limits here are those constants, so the document follows them.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from shared.fitting_policy import FittingPolicy
from shared.networks import KNOWN_NETWORKS, RETIRED_NETWORKS
from shared.post_input import (
    LANGUAGE_TAG,
    MAX_ALT_CHARS,
    MAX_CAPTIONS,
    MAX_CONTENT_WARNING_CHARS,
    MAX_MEDIA,
    MAX_TAG_CHARS,
    MAX_TAGS,
    MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
    NOT_PLAIN_CHARS,
)
from shared.statuses import DELIVERY_RANK, DELIVERY_TERMINAL, POST_RANK, POST_TERMINAL
from shared.targeting import VARIABLES

__all__ = [
    "DELIVERY_STATUSES",
    "END",
    "NETWORKS",
    "NOT_BLANK",
    "POST_STATUSES",
    "Accepted",
    "CampaignRequest",
    "ContentWarning",
    "DeliveryErrorView",
    "DeliveryStatus",
    "Link",
    "MediaChoiceIn",
    "MediaChoices",
    "Network",
    "Networks",
    "PartView",
    "PolicyChoiceIn",
    "PostStatus",
    "PreviewRequest",
    "ScheduleAt",
    "Selector",
    "Tags",
    "Text",
    "Title",
]

# The end of the string, in ECMA-262 and Python alike (Python's `$` also matches before a final newline).
END = r"(?![\s\S])"
# "Not only spaces": a character Python's `str.strip` keeps, spelled out because `\S` differs between
# ECMA-262 (what clients and fuzzers read) and Python's `re` (what the handlers check with).
NOT_BLANK = "[^\\t-\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]"
NETWORKS = tuple(n for n in KNOWN_NETWORKS if n not in RETIRED_NETWORKS)
POST_STATUSES = (*POST_RANK, *POST_TERMINAL)
DELIVERY_STATUSES = (*DELIVERY_RANK, *DELIVERY_TERMINAL)

Network = Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(NETWORKS)})]
PostStatus = Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(POST_STATUSES)})]
DeliveryStatus = Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(DELIVERY_STATUSES)})]
PolicyChoiceIn = FittingPolicy | dict[Network, FittingPolicy]
_VARIABLE_NAMES = ", ".join(f"{{{name}}}" for name in VARIABLES)
Text = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_TEXT_CHARS,
        pattern=NOT_BLANK,
        description=f"the post; it may use the page variables {_VARIABLE_NAMES} (another {{name}}: 422)",
    ),
]
Link = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^https?://[A-Za-z0-9._~%!$&'()*+,;=:@-]+([/?#][^\x00-\x20\x7f-\xa0\u2028\u2029]*)?" + END,
        max_length=2000,
        description="an absolute http(s) URL, shortened as each network counts links",
    ),
]
ContentWarning = Annotated[
    str,
    msgspec.Meta(
        max_length=MAX_CONTENT_WARNING_CHARS, description="Mastodon's spoiler text, counted with it"
    ),
]
Networks = Annotated[list[Network], msgspec.Meta(min_length=1, max_length=len(NETWORKS) * 4)]
# Plain text on one line (shared/post_input.py `check_title`), with something besides spaces in it.
_PLAIN_LINE = f"^(?=[\\s\\S]*{NOT_BLANK})[^{NOT_PLAIN_CHARS}]*{END}"
Title = Annotated[
    str,
    msgspec.Meta(
        max_length=MAX_TITLE_CHARS,
        pattern=_PLAIN_LINE,
        description="a presentation's or video's title, plain text on one line (no < >) that may use"
        " the page variables: sent where the network takes one (SlideShare, YouTube, which derive it"
        " from the text's first line without it; YouTube's is shortened to 100 characters unless the"
        " policy is reject); the preview's notices say where it is not sent",
    ),
]
Tags = Annotated[
    list[
        Annotated[
            str,
            msgspec.Meta(
                max_length=MAX_TAG_CHARS,
                pattern=f"^(?=[\\s\\S]*{NOT_BLANK})[^,{NOT_PLAIN_CHARS}]*{END}",
            ),
        ]
    ],
    msgspec.Meta(
        max_length=MAX_TAGS,
        description="keywords, each once, no commas: sent where the network takes tags (SlideShare, at"
        " most 20 by default, which uses the text's hashtags without them; YouTube, 500 characters in"
        " all as it counts them)",
    ),
]
LanguageTag = Annotated[
    str,
    msgspec.Meta(pattern=f"^{LANGUAGE_TAG}{END}", description="BCP-47: fr, ar, pt-BR"),
]
Selector = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(nation|(region|department|agency|page):[A-Za-z0-9_.-]+)" + END,
        max_length=200,
        description="nation, region:<id>, department:<code>, agency:<id> or page:<id>",
    ),
]
_DATE = r"2[0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"  # SCHEDULE_YEARS
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
_OFFSET = r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
ScheduleAt = Annotated[
    str,
    msgspec.Meta(
        pattern=f"^{_DATE}(T{_TIME}{_OFFSET}?)?{END}",
        description="ISO 8601: with a UTC offset one instant; without, that time in each page's timezone",
    ),
]


class CaptionIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A video's captions in one language: a WebVTT file uploaded with `POST /v1/media`."""

    lang: LanguageTag
    media_id: Annotated[str, msgspec.Meta(min_length=1, description="a text/vtt upload, at this agency")]


class MediaChoiceIn(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An attachment: a media id from `POST /v1/media`, its alt text and, for a video, its captions
    (sent where the network takes them: Bluesky; the preview's notices say where they are not)."""

    id: Annotated[str, msgspec.Meta(min_length=1, description="from POST /v1/media, at this agency")]
    alt: Annotated[
        str,
        msgspec.Meta(
            max_length=MAX_ALT_CHARS,
            description="what it shows, for people who cannot see it: required where the node requires"
            " alt text (its document then says so); each network's own limit is checked with its rules",
        ),
    ] = ""
    captions: Annotated[list[CaptionIn], msgspec.Meta(max_length=MAX_CAPTIONS)] | msgspec.UnsetType = (
        msgspec.UNSET
    )


MediaChoices = Annotated[list[MediaChoiceIn], msgspec.Meta(max_length=MAX_MEDIA)]


class PreviewRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`POST /v1/preview`: a post's rendering fields (nothing is stored)."""

    text: Text
    networks: Networks
    link: Link | msgspec.UnsetType = msgspec.UNSET
    policy: PolicyChoiceIn | msgspec.UnsetType = msgspec.UNSET
    content_warning: ContentWarning | msgspec.UnsetType = msgspec.UNSET
    media: MediaChoices | msgspec.UnsetType = msgspec.UNSET
    title: Title | msgspec.UnsetType = msgspec.UNSET
    tags: Tags | msgspec.UnsetType = msgspec.UNSET


class CampaignRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`POST /v1/posts` at the hub: a campaign to the pages its selectors reach."""

    text: Text
    networks: Networks
    selectors: Annotated[list[Selector], msgspec.Meta(min_length=1, max_length=200)]
    link: Link | msgspec.UnsetType = msgspec.UNSET
    schedule_at: ScheduleAt | msgspec.UnsetType = msgspec.UNSET
    policy: PolicyChoiceIn | msgspec.UnsetType = msgspec.UNSET
    content_warning: ContentWarning | msgspec.UnsetType = msgspec.UNSET


class DeliveryErrorView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    message: str  # in plain words
    network_code: str | None  # the network's own code


class PartView(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One published part of a thread, first one first."""

    remote_id: str
    url: str | None


class Accepted(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A post stored durably: its id, to follow it with `GET /v1/posts/{post_id}`."""

    id: str
    status: PostStatus
