"""Turning a targeted post into one variant per page, or the reasons it cannot be sent.

The rules are those intake checked the post with and the preview showed (`render_variant`): the
post's fitting policy per network, its content warning and its media, with each part's facets, and
the title and tags as each network takes them (none where it takes none). A share of an advocacy
story (`share`) has every link tagged per network first (`shared.advocacy.links`, issue #16 item 4).
"""

from __future__ import annotations

from collections import defaultdict

from shared.advocacy.links import tag_link, tag_links
from shared.fitting_policy import FittingPolicy
from shared.networks import NETWORKS, Rendering
from shared.networks.media import MediaItem
from shared.networks.options import NetworkOptions
from shared.networks.preview import render_variant
from shared.schemas import PostTargeted, Variant
from shared.targeting import VariableError, fill_variables

__all__ = ["DISTINCT_TEXT_NETWORKS", "render_post", "reply_networks"]

# X's rules forbid posting the same text from several accounts.
DISTINCT_TEXT_NETWORKS = ("x",)
REPLY_FITTING: FittingPolicy = "reject"


def reply_networks() -> frozenset[str]:
    """The networks registered with the `reply` capability: the dispatcher sends replies there with
    the network's reply API (shared/networks/registry.py)."""
    return frozenset(name for name, entry in NETWORKS.items() if "reply" in entry.capabilities)


def _reply_refusal(post: PostTargeted) -> str | None:
    """Why a reply cannot be rendered at all, or None: it goes to one page, on a network Relais
    can reply on."""
    if len(post.targets) != 1:
        return f"a reply goes to exactly one page, not {len(post.targets)}"
    target = post.targets[0]
    if target.network not in reply_networks():
        return (
            f"{target.page}: Relais cannot reply on {target.network} yet (its registry entry lacks the"
            " `reply` capability)"
        )
    return None


def render_post(
    post: PostTargeted, *, require_alt: bool = True, options: NetworkOptions | None = None
) -> tuple[list[Variant], list[str]]:
    """Variants for every page, and every reason a page cannot be served (empty when all fit).

    A page's text (and title) is the post's with that page's variables filled in; identical ones on
    one network are rendered once.
    """
    if post.reply_to is not None and (refusal := _reply_refusal(post)):
        return [], [refusal]
    # A reply is one part: a text too long for its network is refused, whatever the post's policy.
    policy = {t.network: REPLY_FITTING for t in post.targets} if post.reply_to else post.policy
    media = [MediaItem(ref.content_type, ref.size, ref.alt, len(ref.captions)) for ref in post.media]
    cache: dict[tuple[str, str, str | None], Rendering] = {}
    variants: list[Variant] = []
    reasons: list[str] = []
    for target in post.targets:
        try:
            text = fill_variables(post.text, target.variables)
            title = fill_variables(post.title, target.variables) if post.title is not None else None
            text, link = _measured(post, target.network, text)
        except (VariableError, ValueError) as exc:
            return [], [str(exc)]
        key = (target.network, text, title)
        if key not in cache:
            cache[key] = render_variant(
                target.network,
                text,
                link=link,
                policy=policy,
                content_warning=post.content_warning,
                media=media,
                require_alt=require_alt,
                options=options,
                title=title,
                tags=post.tags,
                reply=post.reply_to is not None,
            )
        rendering = cache[key]
        if rendering.errors:
            reasons += [f"{target.page}: {e.message} ({e.code})" for e in rendering.errors]
            continue
        variants.append(
            Variant(
                target.network,
                target.page,
                [p.text for p in rendering.parts],
                target.agency,
                target.timezone,
                facets=[p.facets for p in rendering.parts],
                title=rendering.title,
                tags=rendering.tags,
                reply_to=post.reply_to,
            )
        )
    reasons += _identical_texts(variants)
    return ([], reasons) if reasons else (variants, [])


def _measured(post: PostTargeted, network: str, text: str) -> tuple[str, str | None]:
    """A share's text and link with every link tagged for `network` (UTM parameters: the story, the
    agency), before rendering, so that the network's counting rules see the links as sent. Other
    posts' unchanged."""
    if post.share is None:
        return text, post.link
    tags = {"network": network, "story_id": post.share.story, "agency": post.agency}
    link = tag_link(post.link, **tags) if post.link is not None else None
    return tag_links(text, **tags), link


def _identical_texts(variants: list[Variant]) -> list[str]:
    pages_by_text: dict[tuple[str, tuple[str, ...]], list[str]] = defaultdict(list)
    for v in variants:
        if v.network in DISTINCT_TEXT_NETWORKS:
            pages_by_text[(v.network, tuple(v.parts))].append(v.page)
    return [
        f"{network}: the same text would go to {len(pages)} accounts ({', '.join(pages[:3])}…), which"
        f" {network} forbids; add a per-page variable such as {{agence}} or {{ville}}"
        for (network, _), pages in pages_by_text.items()
        if len(pages) > 1
    ]
