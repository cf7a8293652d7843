"""The dispatcher's per-network adapters: one small aiohttp client per network.

Everything the dispatcher core needs is re-exported here: the contract from `base`, the
adapter of each network from `registry`.
"""

from .base import (
    DeliveryError,
    ErrorKind,
    NetworkAdapter,
    PageAccount,
    Publication,
    UnknownOutcome,
)
from .registry import ADAPTERS, adapter_for

__all__ = [
    "ADAPTERS",
    "DeliveryError",
    "ErrorKind",
    "NetworkAdapter",
    "PageAccount",
    "Publication",
    "UnknownOutcome",
    "adapter_for",
]
