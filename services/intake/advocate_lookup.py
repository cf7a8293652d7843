"""Who, at this node, is an advocate (issue #16): the caller's standing pseudonym and the networks she
can share to. Read by sharing (services/intake/shares.py) and written by enrolment
(services/intake/advocates.py) through the tables of `m016_advocates`."""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

__all__ = ["Advocate", "advocate_of"]


@dataclass(frozen=True)
class Advocate:
    advocate: str  # the pseudonym
    connected: frozenset[str]  # the networks whose account works now (status `connected`)


def advocate_of(db: sqlite_utils.Database, user: str) -> Advocate | None:
    """The user's advocate whose consent stands, or None (never opted in, or opted out)."""
    row = db.execute(
        "select advocate from advocates where user = ? and opted_out_at is null"
        " order by consented_at desc limit 1",
        [user],
    ).fetchone()
    if row is None:
        return None
    networks = db.execute(
        "select network from advocate_accounts where advocate = ? and status = 'connected'", [row[0]]
    ).fetchall()
    return Advocate(row[0], frozenset(n for (n,) in networks))
