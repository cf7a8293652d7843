"""Turning a received post into one variant per target page, or the reasons it cannot be sent."""

from __future__ import annotations

from shared.networks import render_for_network
from shared.schemas import PostReceived, Variant


def render_post(post: PostReceived) -> tuple[list[Variant], list[str]]:
    """Variants for every target, and every reason a target cannot be served (empty when all fit).

    Each network is rendered once and reused for all its pages: the rules depend on the network,
    not the page.
    """
    renderings = {t.network: render_for_network(t.network, post.text, link=post.link) for t in post.targets}
    reasons = [f"{e.message} ({network}: {e.code})" for network, r in renderings.items() for e in r.errors]
    if reasons:
        return [], reasons
    variants = [
        Variant(t.network, t.page, [p.text for p in renderings[t.network].parts]) for t in post.targets
    ]
    return variants, []
