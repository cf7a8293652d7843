"""`GET /v1/composer`: everything the advisor's composer needs to draw itself, computed at the node
from what it holds (its pages, the network rules, its link to the hub), so the page works offline.

The networks' facts come from the registry and rules the preview and validation use
(shared/networks), never from a copy: each network's media rules are read off the registered
`MediaLimits` and off the network's own `check`, asked about typical attachments, so what the page
announces is what a post is refused for.
"""

from __future__ import annotations

import functools
from typing import Any

from aiohttp import web

from services.intake.api_types import ComposerView
from services.intake.handlers import claims_for_agency
from services.intake.keys import DATABASE, LINK, SETTINGS
from services.intake.store import page_records
from shared.api_contract import typed_json
from shared.fitting_policy import FITTING_POLICIES
from shared.networks import NETWORKS, MediaKind, NetworkRules, get_rules
from shared.networks.base import Request
from shared.networks.facts import DOCUMENT_TYPES, MEDIA_KINDS
from shared.networks.options import NetworkOptions
from shared.schemas import PageRecord

__all__ = ["composer", "media_rules", "network_choice", "page_choice"]

# Asking a network's `check` about more images than any network takes finds its cap (None: no cap).
_MOST_IMAGES_ASKED = 50
_IMAGE: tuple[MediaKind, ...] = ("image",)


def _refuses(rules: NetworkRules, media: tuple[MediaKind, ...], code: str) -> bool:
    """Whether the network's own check refuses a post with these attachments for `code`."""
    return any(error.code == code for error in rules.check(Request(body="", media=media)))


@functools.cache
def media_rules(network: str, options: NetworkOptions) -> dict[str, Any]:
    """One network's media rules as data (the page words them): the file types and kinds it takes,
    the largest file per kind, the longest alt text, how many images one post may carry (None: no
    cap of the network's own), whether a post there needs an attachment, whether a video must be
    alone, and the text's limit once an attachment comes along (Telegram's caption)."""
    limits = NETWORKS[network].media
    rules = get_rules(network, options)
    kinds = sorted({MEDIA_KINDS[t] for t in limits.types if t in MEDIA_KINDS})
    max_images: int | None = 0
    if "image" in kinds:
        max_images = next(
            (
                n - 1
                for n in range(1, _MOST_IMAGES_ASKED + 1)
                if _refuses(rules, _IMAGE * n, "too_many_media")
            ),
            None,
        )
    return {
        "types": sorted(limits.types),
        "kinds": kinds,
        "max_bytes": dict(sorted(limits.max_bytes.items())),
        "max_alt": limits.max_alt,
        "max_images": max_images,
        "video": "video" in kinds,
        "documents": sorted(DOCUMENT_TYPES & limits.types),
        "required": _refuses(rules, (), "media_required"),
        "video_alone": "video" in kinds and _refuses(rules, ("video", "image"), "too_many_media"),
        "text_limit": rules.limit_for(Request(body="", media=_IMAGE)),
    }


def network_choice(network: str, options: NetworkOptions) -> dict[str, Any]:
    """A network as the composer offers it: its measure, its media rules, its fitting policies
    (`thread` only where the network threads: elsewhere it would mean `truncate`)."""
    rules = get_rules(network, options)
    policies = [p for p in FITTING_POLICIES if p != "thread" or rules.can_thread]
    return {
        "network": network,
        "name": NETWORKS[network].title,
        "unit": rules.unit,
        "limit": rules.limit,
        "media": media_rules(network, options),
        "takes_title": rules.takes_title,
        "takes_tags": rules.takes_tags,
        "policies": policies,
        "default_policy": rules.default_policy,
    }


def page_choice(record: PageRecord) -> dict[str, Any]:
    """A page as the composer labels it: by its agency's name and network (never the network's
    bare name, which names the network's checkbox) and by its handle (`@name`; a numeric page id,
    as LinkedIn's and Facebook's are, is shown as it is)."""
    handle = record.handle
    if handle and not handle.startswith("@") and not handle.isdigit():
        handle = f"@{handle}"
    title = NETWORKS[record.network].title if record.network in NETWORKS else record.network
    return {
        "id": record.page,
        "network": record.network,
        "handle": handle,
        "name": f"{record.agency_name or record.agency} · {title}",
        "timezone": record.timezone,
        "status": record.status,
    }


async def composer(request: web.Request) -> web.Response:
    claims = claims_for_agency(request)
    settings = request.app[SETTINGS]
    records = page_records(request.app[DATABASE])
    on = {record.network for record in records}
    answer = {
        "agency": settings.agency,
        "advisor": claims.subject,
        "networks": [network_choice(n, settings.network_options) for n in NETWORKS if n in on],
        "pages": [page_choice(record) for record in records],
        # page:<id> is the same as choosing the page; the agency's selector reaches all its pages.
        "selectors": [{"selector": f"agency:{settings.agency}", "pages": len(records)}] if records else [],
        "link_up": request.app[LINK].connected,
    }
    return typed_json(answer, ComposerView)
