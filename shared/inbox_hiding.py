"""An inbox item's hiding from the public (issue #15 item 5) as the hub's and the nodes' APIs show it:
one vocabulary for both (the bus's own is `shared.schemas.HIDE_OUTCOMES`)."""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["HIDEABLE_KINDS", "HiddenState", "HideAccepted", "HideError"]

# What a page can hide: the comments and replies on its own posts. A private message has nothing
# public; a mention is a comment on someone else's post, its owner's to hide.
HIDEABLE_KINDS = frozenset({"comment", "reply"})

# null until someone asks; `requested` once asked (at the node) or ordered (at the hub); then the
# dispatcher's outcome, `hidden` or `failed`.
HiddenState = Literal["requested", "hidden", "failed"]


class HideError(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Why hiding failed, in plain words from the dispatcher (never a token), and the network's code."""

    message: str
    network_code: str | None


class HideAccepted(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`POST /v1/inbox/{conversation}/items/{item_id}/hide` (hub and node): asked, on disk; the
    network's outcome follows on the conversation's item."""

    conversation: str
    item_id: str
    hidden: HiddenState  # `requested`
