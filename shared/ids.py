"""Identifiers made at the agency and unique everywhere, so they can serve as message ids."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from ulid import ULID

__all__ = ["SLUG", "is_slug", "new_post_id", "utc_now"]

# Agency and page ids travel inside NATS subjects: no dots, spaces or wildcards.
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def is_slug(value: str) -> bool:
    return bool(SLUG.match(value))


def new_post_id(agency: str) -> str:
    """`<agency>-<ULID>`: sortable by time at one agency, unique across agencies."""
    return f"{agency}-{ULID()}"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
