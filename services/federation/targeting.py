"""From a received post to the pages it goes to: explicit pages or selectors, each page once."""

from __future__ import annotations

from dataclasses import dataclass

from shared.schemas import PageRecord, PageTarget, PostReceived
from shared.targeting import CAMPAIGN_AGENCY, SelectorError, page_variables, personal_page_refusal, resolve


@dataclass(frozen=True)
class Targeting:
    targets: list[PageTarget]
    reasons: list[str]  # why the post cannot be targeted (empty when it can)


def target_post(post: PostReceived, registry: dict[str, PageRecord]) -> Targeting:
    if post.reply_to is not None and (reason := _not_a_reply_target(post)):
        return Targeting([], [reason])
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
    # Personal pages (#16): only their owner's shares reach them, and a share reaches nothing else.
    if reason := personal_page_refusal(
        pages, post.share.advocate if post.share else None, selectors=bool(post.selectors)
    ):
        return Targeting([], [reason])
    # An agency node's NATS user can publish its own posts with any selectors or pages: whatever its
    # intake checked, a post written at an agency reaches that agency's pages only. A reply, wherever
    # it was written (the hub too), goes to its author agency's own page only.
    foreign = [
        p.page
        for p in pages
        if (post.agency != CAMPAIGN_AGENCY or post.reply_to is not None) and p.agency != post.agency
    ]
    if foreign:
        return Targeting([], [f"page {foreign[0]} is not one of agency {post.agency}'s pages"])
    targets = [PageTarget(p.network, p.page, p.agency, p.timezone, page_variables(p)) for p in pages]
    return Targeting(targets, [])


def _not_a_reply_target(post: PostReceived) -> str | None:
    """Why a reply's pages are not exactly its conversation's page, or None: a reply goes to that one
    page (the one it answers on), never by selector, never to several."""
    assert post.reply_to is not None
    reply_to = post.reply_to
    if post.selectors:
        return "a reply goes to its conversation's page only, never by selectors"
    if [(t.network, t.page) for t in post.targets] != [(reply_to.network, reply_to.page)]:
        return f"a reply goes to exactly its conversation's page, {reply_to.network}:{reply_to.page}"
    return None
