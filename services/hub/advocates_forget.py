"""`relais advocates forget USER` (issue #16 item 5): the pseudonyms of a person stop leading to her.

For each pseudonym the link table ties to `user` (of one agency with `agency`): `AdvocateForgotten`
is announced on the bus (every service erases what it holds: the dispatcher her credentials, the
federation her personal pages, her node the consent); the ADVOCACY stream's messages of the
pseudonym that name the person are purged: `enrolled` (her user name) and `connected` and
`app_password` (her accounts' handles and ids, beside credentials only the dispatcher opens); then,
in one transaction, ONE audit entry `advocate.forgotten` (actor: who ran it; detail: the pseudonym;
no person) is appended and her link row, pending connections and refresh tokens are deleted. The
audit's earlier entries name the pseudonym only (services/hub/audit.py), so the chain stays whole
and verifiable and names no one.

Each step may be run again: the announcement is de-duplicated by its message id, the purge and the
deletions are idempotent, and the audit entry has one source per pseudonym. An interrupted forget is
finished by running it again (and by the hub itself when the announcement went out: services/hub/
advocates.py erases the rows when it reads it).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils
from nats.js import JetStreamContext

from services.hub.advocates import advocates_of_user, erase_advocate, forgotten_source
from services.hub.store import append_uncommitted
from shared import bus
from shared.advocacy.accounts import advocacy_subject
from shared.ids import utc_now
from shared.schemas import AdvocateForgotten
from shared.sqlite_writes import write_transaction

__all__ = ["NAMING_EVENTS", "Forgotten", "forget", "naming_filters"]

# The ADVOCACY events that name the person behind a pseudonym (the others name the pseudonym only).
NAMING_EVENTS = ("enrolled", "connected", "app_password")


@dataclass(frozen=True)
class Forgotten:
    advocate: str
    agency: str
    states: int  # connections under way, dropped
    refresh_tokens: int  # refresh tokens deleted
    purged: int  # messages naming her purged from the ADVOCACY stream


def naming_filters(advocate: str) -> list[str]:
    return [f"advocacy.*.{advocate}.{event}" for event in NAMING_EVENTS]


def _count(db: sqlite_utils.Database, table: str, advocate: str) -> int:
    row = db.execute(f"select count(*) from {table} where advocate = ?", [advocate]).fetchone()
    return int(row[0])


async def _purge(js: JetStreamContext, advocate: str) -> int:
    """Purge what names her; how many messages that was."""
    purged = 0
    for subject in naming_filters(advocate):
        info = await js.stream_info("ADVOCACY", subjects_filter=subject)
        purged += sum((info.state.subjects or {}).values())
        await js.purge_stream("ADVOCACY", subject=subject)
    return purged


async def forget(
    db: sqlite_utils.Database, js: JetStreamContext, user: str, agency: str | None, by: str
) -> list[Forgotten]:
    done = []
    for advocate, home in advocates_of_user(db, user, agency):
        # Counted first: the hub erases them too when it reads the announcement.
        states = _count(db, "advocate_oauth_states", advocate)
        tokens = _count(db, "advocate_refresh_tokens", advocate)
        event = AdvocateForgotten(post_id="", agency=home, occurred_at=utc_now(), advocate=advocate, by=by)
        await bus.publish(js, advocacy_subject(home, advocate, "forgotten"), event, f"{advocate}.forgotten")
        purged = await _purge(js, advocate)
        with write_transaction(db):
            append_uncommitted(
                db,
                source=forgotten_source(advocate),
                occurred_at=event.occurred_at,
                post_id="",
                agency=home,
                event="advocate.forgotten",
                actor=by,
                detail={"advocate": advocate},
            )
            erase_advocate(db, advocate)
        done.append(Forgotten(advocate, home, states, tokens, purged))
    return done
