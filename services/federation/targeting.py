"""From a received post to the pages it goes to: explicit pages or selectors, each page once."""

from __future__ import annotations

from dataclasses import dataclass

from shared.schemas import PageRecord, PageTarget, PostReceived
from shared.targeting import CAMPAIGN_AGENCY, SelectorError, page_variables, resolve


@dataclass(frozen=True)
class Targeting:
    targets: list[PageTarget]
    reasons: list[str]  # why the post cannot be targeted (empty when it can)


def target_post(post: PostReceived, registry: dict[str, PageRecord]) -> Targeting:
    if post.selectors:
        try:
            pages = resolve(post.selectors, post.networks, registry.values())
        except SelectorError as exc:
            return Targeting([], [str(exc)])
        if not pages:
            wanted = ", ".join(post.selectors)
            return Targeting([], [f"no active page on {', '.join(post.networks)} matches {wanted}"])
    else:
        missing = [t.page for t in post.targets if t.page not in registry]
        if missing:
            return Targeting([], [f"page {missing[0]} is not in the federation registry"])
        pages = [registry[t.page] for t in post.targets]
        inactive = [p.page for p in pages if p.status != "active"]
        if inactive:
            return Targeting([], [f"page {inactive[0]} needs re-authentication before anything is posted"])
    # An agency node's NATS user can publish its own posts with any selectors or pages: whatever its
    # intake checked, a post written at an agency reaches that agency's pages only.
    foreign = [p.page for p in pages if post.agency != CAMPAIGN_AGENCY and p.agency != post.agency]
    if foreign:
        return Targeting([], [f"page {foreign[0]} is not one of agency {post.agency}'s pages"])
    targets = [PageTarget(p.network, p.page, p.agency, p.timezone, page_variables(p)) for p in pages]
    return Targeting(targets, [])
