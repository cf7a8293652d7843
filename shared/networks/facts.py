"""The types of a network's registered facts: file types it takes, rate limits, capabilities.

Pure values with no network named: `registry.py` gives each network its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, get_args

from .base import MediaKind

__all__ = [
    "CAPABILITIES",
    "CAPTION_MAX_BYTES",
    "CAPTION_TYPE",
    "DOCUMENT_TYPES",
    "IMAGE_TYPES",
    "MEDIA_KINDS",
    "VISUAL_TYPES",
    "Capability",
    "MediaLimits",
    "QuotaCall",
    "RateLimits",
    "UnitQuota",
]

Capability = Literal[
    "publish",
    "images",
    "video",
    "documents",
    "read_back",
    "read_comments",
    "reply",
    "hide_comments",
    "read_engagement",
    "personal_accounts",
]
"""What a network can do in Relais. Every layer (adapter, emulator) declares the ones it implements,
and the completeness test holds each layer to the network's registered set (`read_comments`: the
adapter's `read_comments`; `reply`: its `reply` and `find_reply`; `hide_comments`: its `hide_comment`;
`read_engagement`: its `read_engagement`). `personal_accounts` (#16: posting as an advocate's own
account, X, LinkedIn, Mastodon, Bluesky) has no method of its own: each layer declares it."""
CAPABILITIES: frozenset[Capability] = frozenset(get_args(Capability))

MEDIA_KINDS: Mapping[str, MediaKind] = MappingProxyType(
    {
        "image/jpeg": "image",
        "image/png": "image",
        "image/webp": "image",
        "image/gif": "gif",
        "video/mp4": "video",
        "application/pdf": "document",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation": "document",
        "application/vnd.oasis.opendocument.presentation": "document",
    }
)
"""Every file type Relais accepts, and the kind the networks' counting rules see it as."""

CAPTION_TYPE = "text/vtt"
"""A video's caption files: WebVTT, taken only as captions (`captions` of a video in a post), never as
an attachment of their own; Bluesky's lexicon caps each at `CAPTION_MAX_BYTES`."""
CAPTION_MAX_BYTES = 20_000

VISUAL_TYPES = frozenset(t for t, kind in MEDIA_KINDS.items() if kind != "document")
"""Images and videos: what a network takes unless it says otherwise (documents only where named)."""
IMAGE_TYPES = frozenset(t for t, kind in MEDIA_KINDS.items() if kind in ("image", "gif"))
DOCUMENT_TYPES = frozenset(t for t, kind in MEDIA_KINDS.items() if kind == "document")


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """What one network takes: file types, the largest file per kind, the longest alt text."""

    types: frozenset[str] = VISUAL_TYPES
    max_bytes: Mapping[MediaKind, int] = field(default_factory=dict)
    max_alt: int | None = None


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Calls allowed per window (count, seconds), for one page and for the whole app (None: no such limit)."""

    page: tuple[int, float] | None
    app: tuple[int, float] | None = None


QuotaCall = Literal["post", "reply", "hide", "read"]
"""The kinds of call a quota in units prices: a publication (an upload), a reply to a comment, hiding a
comment (moderation), a read (a listing of comments or of a post's figures)."""


@dataclass(frozen=True, slots=True)
class UnitQuota:
    """One app-wide quota in units a day (YouTube's), each kind of call at its own cost.

    `floors`: the units a call of that kind must leave in the day's quota, so that cheaper, more
    frequent calls cannot starve dearer, rarer ones (a reply cannot take the last uploads' units, a
    read the last replies'). The day ends at midnight in `resets_in` (an IANA zone), as the network's."""

    units: int
    costs: Mapping[QuotaCall, int]
    floors: Mapping[QuotaCall, int]
    resets_in: str
