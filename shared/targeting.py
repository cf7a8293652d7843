"""Choosing pages by selector and filling each page's variables into a post's text. Pure functions.

A selector names a set of pages: `nation`, `region:<id>`, `department:<code>`, `agency:<id>` or
`page:<id>`. A post's pages are the union of its selectors, restricted to the networks it chose.

An advocate's personal account (a page with an `owner`, issue #16) is reached by her own shares
only: selectors, networks-only posts and campaigns never resolve to one, and an explicit target to
one is valid only in a share of its owner (`personal_page_refusal`); a share goes to its
advocate's personal pages and nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

from shared.schemas import PageRecord

__all__ = [
    "CAMPAIGN_AGENCY",
    "SELECTOR_KINDS",
    "VARIABLES",
    "SelectorError",
    "VariableError",
    "fill_variables",
    "first_selector_outside",
    "matches",
    "page_variables",
    "parse_selector",
    "personal_page_refusal",
    "resolve",
    "selectable",
]

# Campaigns across agencies are written at the hub, under this agency id; every other post is
# written at one agency and may reach that agency's pages only.
CAMPAIGN_AGENCY = "hub"
SELECTOR_KINDS = ("nation", "region", "department", "agency", "page")
# Placeholder → what it becomes on each page (documented in the README).
VARIABLES = {
    "agence": "the agency's name",
    "ville": "the agency's city",
    "lien_local": "the agency's local web page",
    "region": "the region's name",
    "departement": "the department's code",
}
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class SelectorError(ValueError):
    pass


class VariableError(ValueError):
    pass


def parse_selector(selector: str) -> tuple[str, str]:
    """`"region:bretagne"` → `("region", "bretagne")`; `"nation"` → `("nation", "")`."""
    kind, _, value = selector.partition(":")
    if kind not in SELECTOR_KINDS:
        raise SelectorError(f"unknown selector {selector!r}; use one of {', '.join(SELECTOR_KINDS)}")
    if (kind == "nation") != (value == ""):
        raise SelectorError(f"selector {selector!r}: nation takes no value, the others need one (kind:id)")
    return kind, value


def matches(page: PageRecord, kind: str, value: str) -> bool:
    match kind:
        case "nation":
            return True
        case "region":
            return page.region == value
        case "department":
            return page.department == value
        case "agency":
            return page.agency == value
        case _:
            return page.page == value


def selectable(page: PageRecord) -> bool:
    """A page selectors may reach: the federation's own, never an advocate's personal account."""
    return not page.owner


def resolve(
    selectors: Iterable[str], networks: Iterable[str], pages: Iterable[PageRecord]
) -> list[PageRecord]:
    """Every active page on one of `networks` matched by any selector, once, in a stable order
    (never a personal page: `selectable`)."""
    parsed = [parse_selector(s) for s in selectors]
    chosen = set(networks)
    found = {
        p.page: p
        for p in pages
        if selectable(p)
        and p.network in chosen
        and p.status == "active"
        and any(matches(p, k, v) for k, v in parsed)
    }
    return [found[key] for key in sorted(found)]


def personal_page_refusal(
    pages: Iterable[PageRecord], advocate: str | None, *, selectors: bool = False
) -> str | None:
    """Why explicit `pages` may not be a post's targets, or None. `advocate`: the post's
    `share.advocate` (None: not a share). A personal page takes its owner's shares only; a share
    takes its advocate's personal pages only, named one by one (never selectors)."""
    pages = list(pages)
    if advocate is not None and (selectors or not pages):
        return "a share goes to its advocate's personal pages, named one by one, never by selectors"
    for page in pages:
        if page.owner and page.owner != advocate:
            return f"page {page.page} is an advocate's personal account: only her own shares go there"
        if advocate is not None and page.owner != advocate:
            return f"page {page.page} is not one of {advocate}'s personal accounts, where a share goes"
    return None


def first_selector_outside(
    selectors: Iterable[str], pages: Iterable[PageRecord], inside: Callable[[PageRecord], bool]
) -> int | None:
    """Index of the first selector that may reach a page outside a territory (`inside` says which
    pages are in it), or None when every selector stays inside.

    Judged on every page of the registry, whatever its network or status (a network filter or a
    page coming back later must not widen a campaign), and by the same `matches` as `resolve`, so
    that every selector form, present or future, is covered. A selector that matches no page at
    all cannot be shown to stay inside and is refused too, as is one that does not parse.
    """
    pages = list(pages)
    for index, selector in enumerate(selectors):
        try:
            kind, value = parse_selector(selector)
        except SelectorError:
            return index
        reached = [p for p in pages if selectable(p) and matches(p, kind, value)]
        if not reached or not all(inside(p) for p in reached):
            return index
    return None


def page_variables(page: PageRecord) -> dict[str, str]:
    return {
        "agence": page.agency_name or page.agency,
        "ville": page.city,
        "lien_local": page.local_url,
        "region": page.region_name or page.region,
        "departement": page.department,
    }


def unknown_variables(text: str) -> list[str]:
    return sorted({name for name in _PLACEHOLDER.findall(text) if name not in VARIABLES})


def fill_variables(text: str, variables: Mapping[str, str]) -> str:
    """Replace each `{name}` with the page's value; an unknown `{name}` is an error, not a silent gap."""
    unknown = unknown_variables(text)
    if unknown:
        raise VariableError(f"unknown variable {{{unknown[0]}}}; known: {', '.join(VARIABLES)}")
    return _PLACEHOLDER.sub(lambda m: variables.get(m.group(1), ""), text)
