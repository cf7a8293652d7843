"""One post rendered for every chosen network, as the preview shows it and the formatter sends it.

`render_variant` is the single place where a post's text, link, fitting policy, content warning
and media meet a network's rules: intake refuses with it, the preview shows it, the formatter
sends what it returns. `preview` turns renderings into the JSON that `relais preview --json` and
`POST /v1/preview` both answer, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from . import KNOWN_NETWORKS, render_for_network
from .media import MediaItem, media_problems
from .model import Policy, Rendering
from .options import NetworkOptions

__all__ = ["PolicyChoice", "policy_for", "preview", "render_variant", "variant_json"]

PolicyChoice = Policy | Mapping[str, Policy] | None
"""One policy for every network, one per network (the others keep their default), or none."""


def policy_for(choice: PolicyChoice, network: str) -> Policy | None:
    """The policy `network` renders with; None means the network's own default."""
    if choice is None or isinstance(choice, str):
        return choice
    return choice.get(network)


def render_variant(
    network: str,
    text: str,
    *,
    link: str | None = None,
    policy: PolicyChoice = None,
    content_warning: str | None = None,
    media: Sequence[MediaItem] = (),
    require_alt: bool = True,
    options: NetworkOptions | None = None,
    title: str | None = None,
    tags: Sequence[str] = (),
    reply: bool = False,
) -> Rendering:
    """`render_for_network`, plus the media rules a kind alone cannot tell (type, size, alt text).

    Like every rule error, a media problem leaves the rendering without parts: a post is never
    sent with one of its attachments silently dropped.
    """
    rendering = render_for_network(
        network,
        text,
        link=link,
        policy=policy_for(policy, network),
        content_warning=content_warning,
        media=[item.kind for item in media],
        title=title,
        tags=tags,
        captions=any(item.captions for item in media),
        options=options,
        reply=reply,
    )
    if network not in KNOWN_NETWORKS:  # retired or unknown: its own refusal says it all
        return rendering
    problems = media_problems(network, media, require_alt=require_alt)
    if not problems:
        return rendering
    errors = [*rendering.errors, *(problem.error for problem in problems)]
    return msgspec.structs.replace(rendering, errors=errors, parts=[])


def variant_json(rendering: Rendering) -> dict[str, Any]:
    """The preview's JSON for one network: main measure, other limits, parts as sent, errors.

    `length` measures the text as written (after normalisation); `fits` says it goes out as
    written: within every limit and refused by no rule, so a post Instagram or YouTube cannot take
    without media never "fits" (its `errors` say `media_required`, and it has no parts). `parts`
    are exactly what would be sent, with their facets (Bluesky: `index.byteStart`/`index.byteEnd`
    in UTF-8 bytes; Telegram: UTF-16 entities) when the network has any. `policy` is the one
    applied when the text did not fit. `title` and `tags` are those sent (none where the network
    takes none); `notices` say what of the post is not sent there (a title, tags, captions).
    """
    parts = []
    for part in rendering.parts:
        shown: dict[str, Any] = {"text": part.text, "length": part.length}
        if part.facets is not None:
            shown["facets"] = part.facets
        parts.append(shown)
    return {
        "network": rendering.network,
        "unit": rendering.unit,
        "limit": rendering.limit,
        "length": rendering.length,
        "fits": rendering.fits and not rendering.errors,
        "policy": rendering.policy,
        "other_limits": [
            {"unit": other.unit, "limit": other.limit, "length": other.length}
            for other in rendering.other_limits
        ],
        "parts": parts,
        "errors": [{"code": error.code, "message": error.message} for error in rendering.errors],
        "title": rendering.title,
        "tags": rendering.tags,
        "notices": [{"code": notice.code, "message": notice.message} for notice in rendering.notices],
    }


def preview(
    text: str,
    networks: Sequence[str],
    *,
    link: str | None = None,
    policy: PolicyChoice = None,
    content_warning: str | None = None,
    media: Sequence[MediaItem] = (),
    require_alt: bool = True,
    options: NetworkOptions | None = None,
    title: str | None = None,
    tags: Sequence[str] = (),
) -> dict[str, Any]:
    """`{"variants": [...]}`: the post rendered for each network, in the order given."""
    variants = [
        variant_json(
            render_variant(
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
            )
        )
        for network in networks
    ]
    return {"variants": variants}
