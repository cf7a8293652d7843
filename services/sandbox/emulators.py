"""The sandbox's layer of the network registry: which emulator imitates each network.

Keyed like `shared.networks.NETWORKS` and checked against it at import. The order is the order
routes are added, which matters: Threads' literal `/v1.0` paths come before Instagram's versioned
ones, both before Facebook's page-id patterns, which would shadow the others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from aiohttp import web

from shared.networks.facts import Capability
from shared.networks.registry import check_layer

from . import bluesky, facebook, instagram, linkedin, mastodon, slideshare, telegram, threads, x, youtube

__all__ = ["EMULATORS", "Emulator"]


@dataclass(frozen=True)
class Emulator:
    """One network's emulator: how it adds its routes, and what it imitates."""

    add_routes: Callable[[web.Application], None]
    capabilities: frozenset[Capability]
    # Where the emulator reads comments (`read_comments`): a new notification id and the id of a new
    # item by an author, in the network's shapes, for the incoming traffic `incoming.py` generates.
    incoming_ids: Callable[[web.Application, str], tuple[str, str]] | None = None
    # Whether a notified item can be private: Mastodon's private messages are `direct` statuses,
    # notified as mentions; the other networks' have their own API.
    private_notified: bool = False


_POSTS_WITH_VIDEOS = frozenset[Capability]({"publish", "images", "video", "read_back"})
_READING_COMMENTS = _POSTS_WITH_VIDEOS | frozenset[Capability]({"read_comments"})
_REPLIES = frozenset[Capability]({"reply"})
_HIDES = frozenset[Capability]({"hide_comments"})
_ENGAGEMENT = frozenset[Capability]({"read_engagement"})
# Personal accounts (#16): the sandbox's OAuth tokens `sbx-<network>-<handle>` post as that account.
_PERSONAL = frozenset[Capability]({"personal_accounts"})

EMULATORS: Mapping[str, Emulator] = MappingProxyType(
    {
        "x": Emulator(
            x.add_routes, _READING_COMMENTS | _REPLIES | _ENGAGEMENT | _PERSONAL, incoming_ids=x.incoming_ids
        ),
        "mastodon": Emulator(
            mastodon.add_routes,
            _READING_COMMENTS | _REPLIES | _ENGAGEMENT | _PERSONAL,
            incoming_ids=mastodon.incoming_ids,
            private_notified=True,
        ),
        "bluesky": Emulator(
            bluesky.add_routes,
            _READING_COMMENTS | _REPLIES | _ENGAGEMENT | _PERSONAL,
            incoming_ids=bluesky.incoming_ids,
        ),
        "linkedin": Emulator(linkedin.add_routes, _READING_COMMENTS | _REPLIES | _ENGAGEMENT | _PERSONAL),
        "telegram": Emulator(telegram.add_routes, frozenset({"publish", "images", "video", "reply"})),
        "youtube": Emulator(
            youtube.add_routes,
            frozenset[Capability]({"publish", "video", "read_back", "read_comments", "reply"})
            | _HIDES
            | _ENGAGEMENT,
        ),
        "threads": Emulator(threads.add_routes, _POSTS_WITH_VIDEOS | _ENGAGEMENT),
        "instagram": Emulator(instagram.add_routes, _POSTS_WITH_VIDEOS | _REPLIES | _HIDES | _ENGAGEMENT),
        "facebook": Emulator(facebook.add_routes, _POSTS_WITH_VIDEOS | _REPLIES | _HIDES | _ENGAGEMENT),
        "slideshare": Emulator(
            slideshare.add_routes, frozenset({"publish", "documents", "read_back", "read_engagement"})
        ),
    }
)
check_layer("sandbox emulators", EMULATORS)
