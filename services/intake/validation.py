"""Checking a submitted post at the agency: every rule says what is wrong and which field, before
anything is stored. Pure: given the request body, the agency's pages and a way to find its uploaded
media, it returns the post to store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

import msgspec

from shared.fitting_policy import FittingPolicy
from shared.networks.facts import CAPTION_TYPE, MEDIA_KINDS
from shared.networks.media import MediaItem
from shared.networks.options import NetworkOptions
from shared.post_input import (
    InputError,
    MediaChoice,
    check_content_warning,
    check_fields,
    check_link,
    check_media_choices,
    check_media_fits,
    check_networks,
    check_policy,
    check_schedule,
    check_selectors,
    check_tags,
    check_text,
    check_text_fits,
    check_title,
)
from shared.schemas import CaptionRef, MediaRef, Target
from shared.targeting import parse_selector

ALLOWED_FIELDS = frozenset(
    {
        "text",
        "link",
        "networks",
        "pages",
        "selectors",
        "schedule_at",
        "policy",
        "content_warning",
        "media",
        "title",
        "tags",
    }
)
VIDEO_TYPES = frozenset(t for t, kind in MEDIA_KINDS.items() if kind == "video")

# Given media ids, the uploaded media this agency holds among them (alt text empty).
FindMedia = Callable[[Sequence[str]], Mapping[str, MediaRef]]


@dataclass(frozen=True)
class NewPost:
    text: str
    link: str | None
    targets: list[Target]
    schedule_at: str | None
    policy: dict[str, FittingPolicy]
    content_warning: str | None
    media: list[MediaRef]
    title: str | None = None
    tags: list[str] = dataclass_field(default_factory=list)


def attach_media(choices: list[MediaChoice], find_media: FindMedia) -> list[MediaRef]:
    """The uploaded media a request names, with its alt text and captions; an id not uploaded at
    this agency is a 422, and so is a caption file on anything but a video, a caption that is not
    WebVTT, and a WebVTT file attached as anything but a caption."""
    ids = [choice.id for choice in choices] + [c.media_id for choice in choices for c in choice.captions]
    known = find_media(ids) if ids else {}
    refs = []
    for index, choice in enumerate(choices):
        ref = _known(known, choice.id, f"media[{index}].id")
        if ref.content_type == CAPTION_TYPE:
            message = f"{choice.id} is a caption file: name it in a video's captions"
            raise InputError(422, "caption_not_media", message, f"media[{index}].id")
        if choice.captions and ref.content_type not in VIDEO_TYPES:
            message = f"media[{index}] is {ref.content_type}: only a video has captions"
            raise InputError(422, "captions_not_on_video", message, f"media[{index}].captions")
        captions = []
        for number, caption in enumerate(choice.captions):
            where = f"media[{index}].captions[{number}].media_id"
            file = _known(known, caption.media_id, where)
            if file.content_type != CAPTION_TYPE:
                message = f"{caption.media_id} is {file.content_type}, not a WebVTT caption file (text/vtt)"
                raise InputError(422, "caption_not_vtt", message, where)
            captions.append(CaptionRef(lang=caption.lang, id=file.id, size=file.size, sha256=file.sha256))
        refs.append(msgspec.structs.replace(ref, alt=choice.alt, captions=captions))
    return refs


def _known(known: Mapping[str, MediaRef], media_id: str, field: str) -> MediaRef:
    if media_id not in known:
        message = f"no uploaded medium {media_id!r} at this agency; upload it with POST /v1/media"
        raise InputError(422, "unknown_media", message, field)
    return known[media_id]


def media_items(refs: Sequence[MediaRef]) -> list[MediaItem]:
    """What the network rules need to know of each attachment."""
    return [MediaItem(ref.content_type, ref.size, ref.alt, len(ref.captions)) for ref in refs]


def validate_post(
    body: Any,
    agency: str,
    pages: dict[str, str],
    find_media: FindMedia,
    *,
    require_alt: bool = True,
    options: NetworkOptions | None = None,
) -> NewPost:
    """`pages` maps each of the agency's page ids to its network; `options` are the network rules'
    settings (the most parts a thread may have)."""
    if isinstance(body, dict) and "reply_to" in body:
        # What a reply answers comes from the node's own inbox, never from the client: a reply is
        # written with POST /v1/inbox/{conversation}/replies.
        message = (
            "reply_to is set by the node: answer a conversation with POST /v1/inbox/{conversation}/replies"
        )
        raise InputError(422, "reply_to_not_allowed", message, "reply_to")
    fields = check_fields(body, ALLOWED_FIELDS)
    text = check_text(fields.get("text"))
    link = check_link(fields.get("link"))
    networks = check_networks(fields.get("networks"))
    if "pages" in fields and "selectors" in fields:
        raise InputError(400, "conflicting_fields", "give pages or selectors, not both", "selectors")
    if "selectors" in fields:
        chosen = _own_pages(check_selectors(fields["selectors"]), agency, pages)
        targets = _targets(chosen, networks, agency, pages)
    else:
        targets = _targets(fields.get("pages"), networks, agency, pages)
    schedule_at = check_schedule(fields.get("schedule_at"))
    policy = check_policy(fields.get("policy"), networks)
    content_warning = check_content_warning(fields.get("content_warning"))
    title, tags = check_title(fields.get("title")), check_tags(fields.get("tags"))
    media = attach_media(check_media_choices(fields.get("media"), require_alt=require_alt), find_media)
    items = media_items(media)
    check_media_fits(items, networks, require_alt=require_alt)
    check_text_fits(
        text,
        link,
        networks,
        policy=policy,
        content_warning=content_warning,
        media=items,
        require_alt=require_alt,
        options=options,
        title=title,
        tags=tags,
    )
    return NewPost(
        text=text,
        link=link,
        targets=targets,
        schedule_at=schedule_at,
        policy=policy,
        content_warning=content_warning,
        media=media,
        title=title,
        tags=tags,
    )


def _own_pages(selectors: list[str], agency: str, pages: dict[str, str]) -> list[str] | None:
    """An agency node posts to its own pages only: `agency:<self>` (all of them) or `page:<one of
    them>`. Every selector is checked (an allowed one never vouches for the next); any other form,
    `nation`, `region:`, `department:` or another agency or page, is refused, naming its field."""
    chosen: list[str] = []
    everything = False
    for index, selector in enumerate(selectors):
        kind, value = parse_selector(selector)
        if kind == "agency" and value == agency:
            everything = True
        elif kind == "page" and value in pages:
            chosen.append(value)
        else:
            message = (
                f"{selector!r} reaches beyond agency {agency}; campaigns across agencies come from the hub"
            )
            raise InputError(403, "selector_outside_agency", message, f"selectors[{index}]")
    return None if everything else chosen


def _targets(value: Any, networks: list[str], agency: str, pages: dict[str, str]) -> list[Target]:
    if value is None:
        targets = [Target(network, page) for page, network in sorted(pages.items()) if network in networks]
        missing = [n for n in networks if not any(t.network == n for t in targets)]
        if missing:
            raise InputError(
                422, "no_page_for_network", f"agency {agency} has no page on {missing[0]}", "networks"
            )
        return targets
    if not isinstance(value, list) or not value or not all(isinstance(p, str) for p in value):
        raise InputError(400, "invalid_type", "pages must be a non-empty list of page ids", "pages")
    targets = []
    for index, page in enumerate(dict.fromkeys(value)):
        field = f"pages[{index}]"
        if page not in pages:
            raise InputError(
                403, "page_not_in_agency", f"page {page!r} is not one of {agency}'s pages", field
            )
        if pages[page] not in networks:
            raise InputError(
                422, "page_network_not_chosen", f"page {page!r} is on {pages[page]}, not in networks", field
            )
        targets.append(Target(pages[page], page))
    return targets
