"""Checking a submitted post: every rule says what is wrong and which field, before anything is stored.

Pure: given the request body, the agency's pages and the network rules, it returns the targets or
a `ValidationError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from shared.networks import KNOWN_NETWORKS, RETIRED_NETWORKS, render_for_network
from shared.schemas import Target

ALLOWED_FIELDS = frozenset({"text", "link", "networks", "pages", "schedule_at"})
MAX_TEXT_CHARS = 100_000


class ValidationError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


@dataclass(frozen=True)
class NewPost:
    text: str
    link: str | None
    targets: list[Target]
    schedule_at: str | None


def validate_post(body: Any, agency: str, pages: dict[str, str]) -> NewPost:
    """`pages` maps each of the agency's page ids to its network."""
    if not isinstance(body, dict):
        raise ValidationError(400, "invalid_body", "the body must be a JSON object", None)
    unknown = sorted(set(body) - ALLOWED_FIELDS)
    if unknown:
        raise ValidationError(400, "unknown_field", f"unknown field {unknown[0]!r}", unknown[0])
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(400, "missing_field", "text is required and must be a non-empty string", "text")
    if len(text) > MAX_TEXT_CHARS:
        raise ValidationError(422, "text_too_long", f"text is over {MAX_TEXT_CHARS} characters", "text")
    link = _link(body.get("link"))
    networks = _networks(body.get("networks"))
    targets = _targets(body.get("pages"), networks, agency, pages)
    schedule_at = _schedule(body.get("schedule_at"))
    for network in networks:
        rendering = render_for_network(network, text, link=link)
        if rendering.errors:
            messages = "; ".join(e.message for e in rendering.errors)
            raise ValidationError(422, rendering.errors[0].code, messages, "text")
    return NewPost(text=text, link=link, targets=targets, schedule_at=schedule_at)


def _link(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(400, "invalid_type", "link must be a string", "link")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValidationError(422, "invalid_link", "link must be an absolute http(s) URL", "link")
    return value


def _networks(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(n, str) for n in value):
        raise ValidationError(
            400, "missing_field", "networks must be a non-empty list of network names", "networks"
        )
    for index, network in enumerate(value):
        field = f"networks[{index}]"
        if network in RETIRED_NETWORKS:
            raise ValidationError(422, "network_retired", RETIRED_NETWORKS[network], field)
        if network not in KNOWN_NETWORKS:
            known = ", ".join(KNOWN_NETWORKS)
            raise ValidationError(
                422, "unknown_network", f"unknown network {network!r}; known: {known}", field
            )
    return list(dict.fromkeys(value))


def _targets(value: Any, networks: list[str], agency: str, pages: dict[str, str]) -> list[Target]:
    if value is None:
        targets = [Target(network, page) for page, network in sorted(pages.items()) if network in networks]
        missing = [n for n in networks if not any(t.network == n for t in targets)]
        if missing:
            raise ValidationError(
                422, "no_page_for_network", f"agency {agency} has no page on {missing[0]}", "networks"
            )
        return targets
    if not isinstance(value, list) or not value or not all(isinstance(p, str) for p in value):
        raise ValidationError(400, "invalid_type", "pages must be a non-empty list of page ids", "pages")
    targets = []
    for index, page in enumerate(dict.fromkeys(value)):
        field = f"pages[{index}]"
        if page not in pages:
            raise ValidationError(
                403, "page_not_in_agency", f"page {page!r} is not one of {agency}'s pages", field
            )
        if pages[page] not in networks:
            raise ValidationError(
                422, "page_network_not_chosen", f"page {page!r} is on {pages[page]}, not in networks", field
            )
        targets.append(Target(pages[page], page))
    return targets


def _schedule(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValidationError(400, "invalid_type", "schedule_at must be an ISO-8601 string", "schedule_at")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(422, "invalid_datetime", "schedule_at is not ISO-8601", "schedule_at") from None
    if moment.tzinfo is None:
        raise ValidationError(
            422,
            "missing_timezone",
            "schedule_at needs a UTC offset, e.g. 2026-12-01T09:00:00+01:00",
            "schedule_at",
        )
    return moment.isoformat()
