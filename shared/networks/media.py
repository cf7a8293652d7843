"""Media a network takes: file types, sizes per kind, and alt text.

The rules' own `check` counts attachments by kind (`image`, `gif`, `video`); what a kind alone
cannot tell is here: whether the network takes the file's type, whether the file is small
enough, and whether its alt text is there and short enough. Sizes are in bytes, as each
network documents them (see `shared/design/network-rules.md`); a network without a documented
cap gets none here, only the agency's own upload cap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from .base import MediaKind
from .model import RuleError
from .text import normalize

__all__ = [
    "MEDIA_KINDS",
    "MediaItem",
    "MediaLimits",
    "MediaProblem",
    "media_limits",
    "media_problems",
]

MEDIA_KINDS: Mapping[str, MediaKind] = MappingProxyType(
    {
        "image/jpeg": "image",
        "image/png": "image",
        "image/webp": "image",
        "image/gif": "gif",
        "video/mp4": "video",
    }
)
"""Every file type Relais accepts, and the kind the networks' counting rules see it as."""

_ALL_TYPES = frozenset(MEDIA_KINDS)
_IMAGE_TYPES = frozenset(t for t, kind in MEDIA_KINDS.items() if kind != "video")


@dataclass(frozen=True, slots=True)
class MediaItem:
    """One attachment as the rules see it: its type, size in bytes and alt text."""

    content_type: str
    size: int
    alt: str = ""

    @property
    def kind(self) -> MediaKind:
        """`image`, `gif` or `video` (an unknown type counts as an image; `media_problems` refuses it)."""
        return MEDIA_KINDS.get(self.content_type, "image")


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """What one network takes: file types, the largest file per kind, the longest alt text."""

    types: frozenset[str] = _ALL_TYPES
    max_bytes: Mapping[MediaKind, int] = field(default_factory=dict)
    max_alt: int | None = None


_MB = 1_000_000  # networks say "5 MB"; the decimal reading is the stricter one
_MIB = 1024 * 1024

_LIMITS: Mapping[str, MediaLimits] = MappingProxyType(
    {
        # X: image 5 MB (P); alt text up to 1,000 characters.
        "x": MediaLimits(max_bytes={"image": 5 * _MB}, max_alt=1000),
        # Mastodon: IMAGE_LIMIT 16 MiB and VIDEO_LIMIT 99 MiB (MediaAttachment), description ≤ 1,500.
        "mastodon": MediaLimits(
            max_bytes={"image": 16 * _MIB, "gif": 16 * _MIB, "video": 99 * _MIB}, max_alt=1500
        ),
        # Bluesky: app.bsky.embed.images blobs ≤ 2,000,000 bytes (P). Its videos (≤ 300 MB) go
        # through a separate video service Relais does not publish to yet: images only.
        "bluesky": MediaLimits(types=_IMAGE_TYPES, max_bytes={"image": 2_000_000, "gif": 2_000_000}),
        # Instagram: JPEG images and MP4 videos only (IG User Media reference, P).
        "instagram": MediaLimits(types=frozenset({"image/jpeg", "video/mp4"})),
        # Threads: JPEG and PNG images, MP4 videos (Posts › media specifications, P).
        "threads": MediaLimits(types=frozenset({"image/jpeg", "image/png", "video/mp4"})),
        # Facebook page photos: JPEG, PNG, GIF (Page › Photos); Relais posts no page videos yet.
        "facebook": MediaLimits(types=frozenset({"image/jpeg", "image/png", "image/gif"})),
        # LinkedIn Images API: JPG, GIF, PNG (P); Relais posts no LinkedIn videos yet.
        "linkedin": MediaLimits(types=frozenset({"image/jpeg", "image/png", "image/gif"})),
        # Telegram Bot API: photos ≤ 10 MB, other uploads ≤ 50 MB (P).
        "telegram": MediaLimits(max_bytes={"image": 10 * _MB, "gif": 50 * _MB, "video": 50 * _MB}),
        # YouTube takes one video and nothing else.
        "youtube": MediaLimits(types=frozenset({"video/mp4"})),
    }
)
_DEFAULT = MediaLimits()


def media_limits(network: str) -> MediaLimits:
    """The media limits of `network` (no type or size restriction beyond Relais's own if none known)."""
    return _LIMITS.get(network, _DEFAULT)


@dataclass(frozen=True, slots=True)
class MediaProblem:
    """Why one attachment cannot go to a network, and which request field to point at."""

    field: str  # "media[0]" or "media[0].alt"
    error: RuleError


def media_problems(network: str, media: Sequence[MediaItem], *, require_alt: bool) -> list[MediaProblem]:
    """Every attachment `network` would refuse (type, size, alt text), in attachment order."""
    limits = media_limits(network)
    problems = []
    for index, item in enumerate(media):
        where = f"media[{index}]"
        if item.content_type not in limits.types:
            accepted = ", ".join(sorted(limits.types))
            message = f"{network}: {where} is {item.content_type}; {network} takes {accepted}"
            problems.append(MediaProblem(where, RuleError("unsupported_media_type", message)))
            continue
        cap = limits.max_bytes.get(item.kind)
        if cap is not None and item.size > cap:
            message = f"{network}: {where} is a {item.kind} of {item.size} bytes, at most {cap}"
            problems.append(MediaProblem(where, RuleError("media_too_large", message)))
        alt = normalize(item.alt)
        if require_alt and not alt:
            message = f"{network}: {where} needs alt text (a description for people who cannot see it)"
            problems.append(MediaProblem(f"{where}.alt", RuleError("alt_text_required", message)))
        elif limits.max_alt is not None and len(alt) > limits.max_alt:
            message = f"{network}: {where} alt text of {len(alt)} characters, at most {limits.max_alt}"
            problems.append(MediaProblem(f"{where}.alt", RuleError("alt_text_too_long", message)))
    return problems
