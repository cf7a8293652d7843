"""What a network can take as attachments, checked before anything is sent (a refusal then
publishes nothing), and how a failed upload is reported.

The formatter already refused posts whose media break a network's documented limits; these checks
guard the adapters themselves (a file missing from the media store, a rule the network changed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .base import DeliveryError, Media
from .transport import fallback_kind

__all__ = ["MediaRules", "check_media", "media_name", "refused_upload", "upload_failure"]


@dataclass(frozen=True)
class MediaRules:
    network: str  # as people call it: "X", "Mastodon"…
    max_count: int
    videos: bool = True  # False: images only, for now
    moving_alone: bool = False  # a video (or GIF) must be the post's only attachment
    video_alone: bool = False  # a video must be (GIFs are photos there)
    max_image_bytes: int | None = None
    max_video_bytes: int | None = None
    url_suffices: bool = False  # the network can fetch a file by its public address instead


def _what(item: Media, number: int) -> str:
    return f"{item.kind} {number}" + (f" ({item.id})" if item.id else "")


def _refused(message: str) -> DeliveryError:
    return DeliveryError(message, network_code=None, kind="permanent")


def check_media(rules: MediaRules, media: Sequence[Media]) -> None:
    """Raise a permanent `DeliveryError`, in plain words, for what `rules` cannot take."""
    if len(media) > rules.max_count:
        raise _refused(
            f"{rules.network} takes at most {rules.max_count} attachments per post; "
            f"this one has {len(media)}: remove some"
        )
    moving = [item for item in media if item.kind == "video" or item.mime_type == "image/gif"]
    if rules.moving_alone and moving and len(media) > 1:
        raise _refused(
            f"{rules.network} takes a video or a GIF only as a post's single attachment: post it alone"
        )
    if rules.video_alone and any(item.kind == "video" for item in media) and len(media) > 1:
        raise _refused(f"{rules.network} takes a video as a post's only attachment: post it alone")
    for number, item in enumerate(media, start=1):
        if item.kind == "video" and not rules.videos:
            raise _refused(
                f"{_what(item, number)}: video on {rules.network} is not supported yet; "
                "remove it from this network's variant or post it by hand"
            )
        if not item.data and not (rules.url_suffices and item.url):
            raise _refused(
                f"the bytes of {_what(item, number)} are missing from the hub's media store: "
                "upload the file again with the post"
            )
        limit = rules.max_video_bytes if item.kind == "video" else rules.max_image_bytes
        if item.data and limit is not None and len(item.data) > limit:
            raise _refused(
                f"{_what(item, number)} weighs {len(item.data):,} bytes; {rules.network} takes at most "
                f"{limit:,} bytes per {item.kind}: use a smaller file"
            )


def media_name(item: Media) -> str:
    """An attachment as a message names it: "the image m1", or "an attached video" without an id."""
    return f"the {item.kind} {item.id}".rstrip() if item.id else f"an attached {item.kind}"


def refused_upload(
    label: str, status: int, said: str, item: Media, *, who: str | None = None
) -> DeliveryError:
    """An upload refused for a reason the network did not explain: nothing was posted, so a
    server error is always safe to retry. `who` is who could not take it (the label by default)."""
    kind = fallback_kind(status)
    if kind == "transient":
        message = (
            f"{who or label} could not take {media_name(item)} ({said}); nothing was posted, retry later"
        )
    else:
        message = f"{label} refused {media_name(item)}: {said}"
    return DeliveryError(message, network_code=str(status), kind=kind)


def upload_failure(error: DeliveryError, item: Media, number: int, total: int) -> DeliveryError:
    """`error`, saying which upload failed and that nothing was posted (safe to retry)."""
    return DeliveryError(
        f"{error.message} (uploading {item.kind} {number} of {total}; nothing was posted)",
        network_code=error.network_code,
        kind=error.kind,
        retry_after=error.retry_after,
        throttled=error.throttled,
        scope=error.scope,
    )
