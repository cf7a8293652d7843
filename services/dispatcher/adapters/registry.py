"""The dispatcher's layer of the network registry: which adapter publishes to each network.

Keyed like `shared.networks.NETWORKS` and checked against it at import, so a dispatcher never
starts with a network half-added. The adapters import only `base` and the shared helpers, never
this module: there is no import cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import aiohttp

from shared.networks.registry import check_layer

from .base import NetworkAdapter, RateObserver
from .bluesky import BlueskyAdapter
from .facebook import FacebookAdapter
from .instagram import InstagramAdapter
from .linkedin import LinkedInAdapter
from .mastodon import MastodonAdapter
from .slideshare import SlideShareAdapter
from .telegram import TelegramAdapter
from .threads import ThreadsAdapter
from .x import XAdapter
from .youtube import YouTubeAdapter

__all__ = ["ADAPTERS", "adapter_for"]

ADAPTERS: Mapping[str, Callable[..., NetworkAdapter]] = MappingProxyType(
    {
        adapter.network: adapter
        for adapter in (
            XAdapter,
            MastodonAdapter,
            BlueskyAdapter,
            LinkedInAdapter,
            FacebookAdapter,
            InstagramAdapter,
            ThreadsAdapter,
            TelegramAdapter,
            YouTubeAdapter,
            SlideShareAdapter,
        )
    }
)
check_layer("dispatcher adapters", ADAPTERS)


def adapter_for(
    network: str,
    session: aiohttp.ClientSession,
    *,
    observer: RateObserver | None = None,
    timeout: aiohttp.ClientTimeout | None = None,
) -> NetworkAdapter:
    """The adapter for `network`, sending through `session`, reporting rate hints to `observer`.

    Build one adapter per network and session and keep it: the Bluesky adapter caches each
    account's session (a PDS allows only a few logins per account and day).
    """
    if network not in ADAPTERS:
        raise ValueError(f"no adapter for network {network!r}; known: {', '.join(sorted(ADAPTERS))}")
    options: dict[str, object] = {"observer": observer}
    if timeout is not None:
        options["timeout"] = timeout
    return ADAPTERS[network](session, **options)
