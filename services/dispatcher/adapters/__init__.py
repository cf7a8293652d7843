"""The dispatcher's per-network adapters: one small aiohttp client per network.

Everything the dispatcher core needs is re-exported here from `base`.
"""

from .base import (
    DeliveryError,
    ErrorKind,
    NetworkAdapter,
    PageAccount,
    Publication,
    UnknownOutcome,
    adapter_for,
)

__all__ = [
    "DeliveryError",
    "ErrorKind",
    "NetworkAdapter",
    "PageAccount",
    "Publication",
    "UnknownOutcome",
    "adapter_for",
]
