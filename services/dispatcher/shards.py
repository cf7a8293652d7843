"""Which dispatcher instance owns which delivery target: N shards on the same bus.

A shard is configured as `RELAIS_DISPATCHER_SHARD=i/N` (1 ≤ i ≤ N; `1/1`, one dispatcher, is
the default). Every delivery goes to a *target*: an account on a network, named by the network and
the account's id in the registry (a page today; an advisor's own account, issue 16, is a target
of the same shape). A target belongs to exactly one shard, chosen by rendezvous hashing: each
shard scores the target with a hash of (shard number, target) and the highest score wins. Every
shard computes the same answer alone, and going from N to N+1 shards moves only the targets the
new shard wins (about 1/(N+1) of them); nothing moves between the shards that stay.
`RELAIS_DISPATCHER_SHARD_MOVES=network/account=k,…` pins targets to a shard by hand (an explicit
reassignment); every shard must be given the same value.

Why each shard receives every approval and keeps only its own variants, rather than a subject
filter per shard: one approval (`decisions.<agency>.<post_id>.approved`) carries a variant for
every page of the post, across all shards, so no subject can select one shard's share (the
subject names the post, not the page). Skipping costs N times the *approvals* (one message per
post, not per delivery: a national post of 1,250 deliveries is one message per shard), while
splitting approvals per target would change the hub's contract and its exactly-once publication.
Commands (`commands.<agency>.<post_id>.<action>`, rare: a person at the hub) are skipped the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["Shard", "target_key"]


def target_key(network: str, account: str) -> str:
    """The identity a delivery's owner is chosen by: the network and the account posted to."""
    return f"{network}/{account}"


def _score(shard: int, target: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{shard}|{target}".encode(), digest_size=8).digest(), "big")


@dataclass(frozen=True)
class Shard:
    number: int = 1  # 1-based: `2/3` is the second of three
    count: int = 1
    moves: Mapping[str, int] = field(default_factory=dict)  # target key → shard number, by hand

    def __post_init__(self) -> None:
        if not 1 <= self.number <= self.count:
            raise ValueError(f"a shard is i/N with 1 ≤ i ≤ N, not {self.number}/{self.count}")
        for target, owner in self.moves.items():
            if not 1 <= owner <= self.count:
                raise ValueError(f"{target} is moved to shard {owner}, not one of 1..{self.count}")

    @classmethod
    def parse(cls, spec: str | None, moves: str | None = None) -> Shard:
        """`i/N` (empty: `1/1`) and `network/account=k,…` (empty: no target moved by hand)."""
        number, count = 1, 1
        if spec and spec.strip():
            head, _, tail = spec.strip().partition("/")
            try:
                number, count = int(head), int(tail)
            except ValueError:
                raise ValueError(f"RELAIS_DISPATCHER_SHARD must be i/N, like 2/3, not {spec!r}") from None
        pinned: dict[str, int] = {}
        for item in (moves or "").split(","):
            if not item.strip():
                continue
            target, _, owner = item.strip().rpartition("=")
            if "/" not in target or not owner.isdigit():
                raise ValueError(
                    f"RELAIS_DISPATCHER_SHARD_MOVES takes network/account=k items, not {item.strip()!r}"
                )
            pinned[target] = int(owner)
        return cls(number, count, pinned)

    @property
    def sharded(self) -> bool:
        return self.count > 1

    def owner(self, network: str, account: str) -> int:
        target = target_key(network, account)
        if target in self.moves:
            return self.moves[target]
        if self.count == 1:
            return 1
        return max(range(1, self.count + 1), key=lambda shard: _score(shard, target))

    def owns(self, network: str, account: str) -> bool:
        return self.owner(network, account) == self.number

    @property
    def layout(self) -> str:
        """What decides ownership, as stored in the ledger: a change means targets may have moved."""
        return f"{self.number}/{self.fleet_layout}"

    @property
    def fleet_layout(self) -> str:
        """What every shard of one layout shares, N and the moves: two instances with different ones
        may both believe they own a target (`fence.py` lets only one layout run at a time)."""
        moved = ",".join(f"{target}={owner}" for target, owner in sorted(self.moves.items()))
        return f"{self.count};{moved}"

    def name(self, base: str) -> str:
        """A per-shard name: the first shard keeps today's names (its ledger and consumers carry
        over from one dispatcher to N), the others are suffixed with their number."""
        return base if self.number == 1 else f"{base}-shard-{self.number}"
