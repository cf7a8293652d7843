"""What to do with a text longer than a network takes: split it into a thread, cut it, or refuse it.

Its one definition, for the post's contracts (HTTP, `shared.post_api`; bus, `shared.schemas`) and
the networks' rules (`shared.networks`, whose `Policy` it is).
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["FITTING_POLICIES", "FittingPolicy"]

FittingPolicy = Literal["thread", "truncate", "reject"]
FITTING_POLICIES: tuple[FittingPolicy, ...] = get_args(FittingPolicy)
