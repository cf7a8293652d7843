"""Per-network rules: pure, I/O-free code shared by the formatter and by intake's preview.

`render_for_network` is the one entry point services use; each network's module says how that
network measures, extracts and renders text (`x.py`, `mastodon.py`, `bluesky.py`…), behind
the `NetworkRules` interface of `base.py`. `registry.py` registers each network as one unit (its
rules, rate limits, media and capabilities), keyed by its name. Limits that vary by instance or are
badly documented are configuration (`options.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .base import MediaKind, NetworkRules
from .model import Entity, Limit, Part, Policy, Rendering, RuleError
from .options import NetworkOptions
from .registry import NETWORKS, Network
from .retired import RETIRED, render_retired
from .x import PageVariants, page_variants

__all__ = [
    "KNOWN_NETWORKS",
    "NETWORKS",
    "RETIRED_NETWORKS",
    "Entity",
    "Limit",
    "MediaKind",
    "Network",
    "NetworkOptions",
    "NetworkRules",
    "PageVariants",
    "Part",
    "Policy",
    "Rendering",
    "RuleError",
    "get_rules",
    "page_variants",
    "render_for_network",
]

_RULES: dict[str, type[NetworkRules]] = {name: entry.rules for name, entry in NETWORKS.items()}
KNOWN_NETWORKS: tuple[str, ...] = tuple(_RULES)
"""Networks Relais can post to."""
RETIRED_NETWORKS: dict[str, str] = {name: network.reason for name, network in RETIRED.items()}
"""Networks that closed, with the reason shown when a post targets them."""


def get_rules(network: str, options: NetworkOptions | None = None) -> NetworkRules:
    """The rules of a known network (raises `KeyError` for any other name)."""
    return _RULES[network](options)


def render_for_network(
    network: str,
    text: str,
    *,
    link: str | None = None,
    policy: Policy | None = None,
    content_warning: str | None = None,
    media: Sequence[MediaKind] = (),
    mentions: Mapping[str, str] | None = None,
    title: str | None = None,
    tags: Sequence[str] = (),
    captions: bool = False,
    options: NetworkOptions | None = None,
    reply: bool = False,
) -> Rendering:
    """Render `text` (plus an optional link) into what `network` would be sent.

    `policy` says what to do when the text is too long (`thread`, `truncate` or `reject`;
    by default each network's own: `thread` for x, mastodon, bluesky and threads, `truncate`
    elsewhere, where `thread` also falls back to `truncate`). `content_warning` is Mastodon's
    spoiler text, `media` the kinds of attachments (`image`, `video`, `gif`), `mentions`
    resolved Bluesky handles (handle → DID), `title` and `tags` a presentation's or video's
    (SlideShare, YouTube), `captions` whether a video carries caption files, `reply` an answer to a
    person (no media required, no title). A retired or unknown
    network gets a rendering with an error and no parts.
    """
    if network in RETIRED:
        return render_retired(RETIRED[network], link)
    if network not in _RULES:
        error = RuleError("unknown_network", f"unknown network: {network}")
        return Rendering(network, "characters", 0, 0, False, [], [error])
    return get_rules(network, options).render(
        text,
        link=link,
        policy=policy,
        content_warning=content_warning,
        media=media,
        mentions=mentions,
        title=title,
        tags=tags,
        captions=captions,
        reply=reply,
    )
