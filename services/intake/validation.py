"""Checking a submitted post at the agency: every rule says what is wrong and which field, before
anything is stored. Pure: given the request body and the agency's pages, it returns the targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.post_input import (
    InputError,
    check_fields,
    check_link,
    check_networks,
    check_schedule,
    check_selectors,
    check_text,
    check_text_fits,
)
from shared.schemas import Target
from shared.targeting import parse_selector

ALLOWED_FIELDS = frozenset({"text", "link", "networks", "pages", "selectors", "schedule_at"})


@dataclass(frozen=True)
class NewPost:
    text: str
    link: str | None
    targets: list[Target]
    schedule_at: str | None


def validate_post(body: Any, agency: str, pages: dict[str, str]) -> NewPost:
    """`pages` maps each of the agency's page ids to its network."""
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
    check_text_fits(text, link, networks)
    return NewPost(text=text, link=link, targets=targets, schedule_at=schedule_at)


def _own_pages(selectors: list[str], agency: str, pages: dict[str, str]) -> list[str] | None:
    """An agency node posts to its own pages only: `agency:<self>` (all of them) or `page:<one of them>`."""
    chosen: list[str] = []
    for index, selector in enumerate(selectors):
        kind, value = parse_selector(selector)
        if kind == "agency" and value == agency:
            return None
        if kind == "page" and value in pages:
            chosen.append(value)
            continue
        raise InputError(
            403,
            "selector_outside_agency",
            f"{selector!r} reaches beyond agency {agency}; campaigns across agencies are sent from the hub",
            f"selectors[{index}]",
        )
    return chosen


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
