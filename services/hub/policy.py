"""Moderation policy: does a rendered post go out on its own, or wait for a moderator? Pure.

A policy applies to a page, an agency, or everything (`default`). Modes: `auto` (approved by the
policy), `moderated` (a moderator decides), `trusted` (approved by the policy when the author is one
of the listed advisors, otherwise moderated). A `moderated` page wins over its agency's policy,
which wins over the default.

Replies to the inbox (issue #15 item 4) have their own policies, `replies:agency:<id>` then
`replies:default`, with the same modes; without one a reply goes out on its own, whatever the posts'
policies: answering within the deadline is the point.

Shares of advocacy stories (issue #16) likewise have `shares:agency:<id>` then `shares:default`:
without one a share of an approved story goes out on its own (the story was moderated already); an
agency's `moderated` policy sends its advocates' shares to a moderator.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

MODES = ("auto", "moderated", "trusted")
REPLIES = "replies"  # the prefix of the replies' scopes
SHARES = "shares"  # the prefix of the shares' scopes


@dataclass(frozen=True)
class Policy:
    scope: str  # "default", "agency:<id>" or "page:<id>"
    mode: str
    trusted: tuple[str, ...] = field(default_factory=tuple)


def check_scope(scope: str) -> bool:
    kind, _, value = scope.partition(":")
    if kind in (REPLIES, SHARES):
        return value == "default" or (value.startswith("agency:") and len(value) > len("agency:"))
    return scope == "default" or (kind in ("agency", "page") and bool(value))


def needs_moderator(
    policies: Iterable[Policy],
    author: str,
    agency: str,
    pages: Iterable[str],
    *,
    reply: bool = False,
    share: bool = False,
) -> bool:
    by_scope = {p.scope: p for p in policies}
    if reply or share:
        kind = REPLIES if reply else SHARES
        policy = (
            by_scope.get(f"{kind}:agency:{agency}")
            or by_scope.get(f"{kind}:default")
            or Policy(f"{kind}:default", "auto")
        )
    elif any(by_scope.get(f"page:{page}", Policy("", "auto")).mode == "moderated" for page in pages):
        return True
    else:
        policy = by_scope.get(f"agency:{agency}") or by_scope.get("default") or Policy("default", "auto")
    if policy.mode == "trusted":
        return author not in policy.trusted
    return policy.mode == "moderated"
