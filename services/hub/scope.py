"""Territory at the hub: what a person may see and act on. One rule for every route.

- Admins, ops and national moderators (no `region` claim): every agency.
- A regional moderator: the agencies of her region, as the page registry says. A hub campaign
  (agency `hub`) is hers to read only when every page it reached is in her region; campaigns in
  the moderation queue are decided by national moderators and admins.
- Lists are filtered to the viewer's territory; reading one object outside it answers 404, as if it
  did not exist (nothing tells her what another region does); acting on one answers 403
  `outside_scope`. Both are audited (`permission.denied`).
- A campaign she writes may only use selectors whose every page is in her region (`nation`,
  another region, a department, agency or page elsewhere, or an id the registry does not know, are
  refused with 403 `selector_outside_region`, naming the selector).
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from services.hub.keys import MIRROR
from shared.schemas import PageRecord
from shared.targeting import CAMPAIGN_AGENCY, first_selector_outside
from shared.tokens import Claims

__all__ = ["HUB_AGENCY", "READERS", "in_scope", "is_regional", "pages_in_scope", "selector_outside_region"]

READERS = ("admin", "moderator", "ops")  # who may read at the hub (ops: everything, decide nothing)
HUB_AGENCY = CAMPAIGN_AGENCY  # campaigns are "written at" the hub; their pages belong to the agencies


def is_regional(claims: Claims) -> bool:
    return claims.role != "admin" and claims.region is not None


def in_scope(request: web.Request, claims: Claims, agency: str) -> bool:
    if not is_regional(claims):
        return True
    return request.app[MIRROR].region_of(agency) == claims.region


def pages_in_scope(request: web.Request, claims: Claims, agency: str, page_agencies: Iterable[str]) -> bool:
    """A post's scope: its agency's, or, for a hub campaign, that of every agency it reached."""
    if not is_regional(claims):
        return True
    if agency != HUB_AGENCY:
        return in_scope(request, claims, agency)
    reached = set(page_agencies)
    return bool(reached) and all(in_scope(request, claims, a) for a in reached)


def selector_outside_region(request: web.Request, claims: Claims, selectors: list[str]) -> int | None:
    """Index of the first selector a regional moderator may not use; None when all are hers."""
    if not is_regional(claims):
        return None
    region = claims.region

    def inside(page: PageRecord) -> bool:
        return page.region == region

    return first_selector_outside(selectors, request.app[MIRROR].records(), inside)
