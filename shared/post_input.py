"""Checking the fields of a submitted post, shared by the agency endpoint and the hub's campaigns.

Pure: each check returns the clean value or raises `InputError` saying what is wrong and where.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from shared.networks import KNOWN_NETWORKS, RETIRED_NETWORKS, render_for_network
from shared.targeting import SelectorError, parse_selector, unknown_variables

__all__ = [
    "MAX_TEXT_CHARS",
    "InputError",
    "check_fields",
    "check_link",
    "check_networks",
    "check_schedule",
    "check_selectors",
    "check_text",
    "check_text_fits",
]

MAX_TEXT_CHARS = 100_000


class InputError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def check_fields(body: Any, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InputError(400, "invalid_body", "the body must be a JSON object", None)
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InputError(400, "unknown_field", f"unknown field {unknown[0]!r}", unknown[0])
    return body


def check_text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(400, "missing_field", "text is required and must be a non-empty string", "text")
    if len(value) > MAX_TEXT_CHARS:
        raise InputError(422, "text_too_long", f"text is over {MAX_TEXT_CHARS} characters", "text")
    unknown = unknown_variables(value)
    if unknown:
        raise InputError(422, "unknown_variable", f"unknown variable {{{unknown[0]}}}", "text")
    return value


def check_link(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(400, "invalid_type", "link must be a string", "link")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(422, "invalid_link", "link must be an absolute http(s) URL", "link")
    return value


def check_networks(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(n, str) for n in value):
        raise InputError(
            400, "missing_field", "networks must be a non-empty list of network names", "networks"
        )
    for index, network in enumerate(value):
        field = f"networks[{index}]"
        if network in RETIRED_NETWORKS:
            raise InputError(422, "network_retired", RETIRED_NETWORKS[network], field)
        if network not in KNOWN_NETWORKS:
            known = ", ".join(KNOWN_NETWORKS)
            raise InputError(422, "unknown_network", f"unknown network {network!r}; known: {known}", field)
    return list(dict.fromkeys(value))


def check_selectors(value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(s, str) for s in value):
        raise InputError(400, "invalid_type", "selectors must be a non-empty list of strings", "selectors")
    for index, selector in enumerate(value):
        try:
            parse_selector(selector)
        except SelectorError as exc:
            raise InputError(422, "invalid_selector", str(exc), f"selectors[{index}]") from None
    return list(dict.fromkeys(value))


def check_schedule(value: Any) -> str | None:
    """ISO-8601; with an offset it is one instant, without one it is each page's local time."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(400, "invalid_type", "schedule_at must be an ISO-8601 string", "schedule_at")
    try:
        return datetime.fromisoformat(value).isoformat()
    except ValueError:
        raise InputError(422, "invalid_datetime", "schedule_at is not ISO-8601", "schedule_at") from None


def check_text_fits(text: str, link: str | None, networks: list[str]) -> None:
    for network in networks:
        rendering = render_for_network(network, text, link=link)
        if rendering.errors:
            messages = "; ".join(e.message for e in rendering.errors)
            raise InputError(422, rendering.errors[0].code, messages, "text")
