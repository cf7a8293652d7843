"""Advocates at the hub (issue #16 items 2 and 5): the link table from the nodes' ADVOCACY events.

The durable consumer `hub-advocacy` reads `advocacy.*.*.*`. An `enrolled` event writes the link row
(the pseudonym, its agency from the SUBJECT, which NATS pins to the publishing node, the person's user
name and the consent as given); it is refused (logged and audited, no row) for a pseudonym that is not
one (`is_advocate_id`) or that another agency enrolled already. A body naming another agency or
advocate than its subject is forged: dropped and logged, as the audit drops it (services/hub/service.py).
`opted_out` marks the row and drops what the hub holds for her accounts (pending OAuth states, refresh
tokens); `disconnected` drops one network's; `forgotten` (the hub's own, from `relais advocates
forget`) erases her rows, so a forget interrupted after its announcement still completes here.

The link table is the only place at the hub where `user` is kept: never in the audit, never in a log.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import sqlite_utils
import structlog
from nats.js import JetStreamContext

from services.hub.store import append_uncommitted
from shared import bus
from shared.advocacy.accounts import is_advocate_id
from shared.ids import utc_now
from shared.schemas import (
    AdvocateDisconnected,
    AdvocateEnrolled,
    AdvocateForgotten,
    AdvocateOptedOut,
    Message,
    decode_any,
)
from shared.sqlite_writes import write_transaction

__all__ = [
    "CONSUMER",
    "Advocate",
    "advocate_row",
    "advocates_of_user",
    "drop_accounts",
    "erase_advocate",
    "follow",
    "forged_advocacy",
    "forgotten_source",
    "handle_event",
]

log = structlog.get_logger("relais.hub.advocates")

CONSUMER = bus.ConsumerSpec(stream="ADVOCACY", durable="hub-advocacy", filter_subject="advocacy.*.*.*")
REFUSER = "hub:advocates"


@dataclass(frozen=True)
class Advocate:
    advocate: str
    agency: str
    consent_language: str
    opted_out: bool


def advocate_row(db: sqlite_utils.Database, advocate: str) -> Advocate | None:
    row = db.execute(
        "select advocate, agency, consent_language, opted_out_at from advocates where advocate = ?",
        [advocate],
    ).fetchone()
    return Advocate(row[0], row[1], row[2], row[3] is not None) if row else None


def advocates_of_user(
    db: sqlite_utils.Database, user: str, agency: str | None = None
) -> list[tuple[str, str]]:
    """(advocate, agency) of every pseudonym the person `user` enrolled under (of one agency)."""
    sql = "select advocate, agency from advocates where user = ?"
    params = [user]
    if agency is not None:
        sql += " and agency = ?"
        params.append(agency)
    return [(row[0], row[1]) for row in db.execute(sql + " order by advocate", params).fetchall()]


def drop_accounts(db: sqlite_utils.Database, advocate: str, network: str | None = None) -> None:
    """Forget the pending connections and refresh tokens of her accounts (of one network), inside the
    caller's transaction."""
    where, params = "advocate = ?", [advocate]
    if network is not None:
        where, params = where + " and network = ?", [*params, network]
    db.execute(f"delete from advocate_oauth_states where {where}", params)
    db.execute(f"delete from advocate_refresh_tokens where {where}", params)


def erase_advocate(db: sqlite_utils.Database, advocate: str) -> None:
    """Her link row, states and refresh tokens, inside the caller's transaction."""
    drop_accounts(db, advocate)
    db.execute("delete from advocates where advocate = ?", [advocate])


def forgotten_source(advocate: str) -> str:
    """The audit's source of the one `advocate.forgotten` entry of a pseudonym: written by `relais
    advocates forget` with the erasure, and the same when the audit reads its bus announcement."""
    return f"advocate-forgotten:{advocate}"


def forged_advocacy(subject: str, event: Message) -> bool:
    """`advocacy.<agency>.<advocate>.<event>`: a body naming another agency or advocate than its
    subject (NATS checks the subject only) is not that agency's word about that advocate."""
    tokens = subject.split(".")
    advocate = getattr(event, "advocate", None)
    return len(tokens) != 4 or event.agency != tokens[1] or advocate != tokens[2]


def _refuse(db: sqlite_utils.Database, message: bus.Incoming, event: AdvocateEnrolled, reason: str) -> None:
    """Audited as the hub's refusal (the pseudonym and why; never the person)."""
    log.error("advocate.enrolment_refused", agency=event.agency, advocate=event.advocate, reason=reason)
    with write_transaction(db):
        append_uncommitted(
            db,
            source=f"{message.stream}:{message.sequence}:refused",
            occurred_at=utc_now(),
            post_id="",
            agency=event.agency,
            event="advocate.enrolment_refused",
            actor=REFUSER,
            detail={"advocate": event.advocate, "reason": reason},
        )


def _enrol(db: sqlite_utils.Database, message: bus.Incoming, event: AdvocateEnrolled) -> None:
    if not is_advocate_id(event.advocate):
        _refuse(db, message, event, "not an advocate id")
        return
    known = advocate_row(db, event.advocate)
    if known is not None and known.agency != event.agency:
        _refuse(db, message, event, "enrolled by another agency")
        return
    row: dict[str, Any] = {
        "advocate": event.advocate,
        "agency": event.agency,
        "user": event.user,
        "consented_at": event.consented_at,
        "consent_version": event.consent_version,
        "consent_language": event.consent_language,
        "consent_text": event.consent_text,
        "enrolled_at": utc_now(),
        "opted_out_at": None,  # a new consent after an opt-out: she takes part again
    }
    with write_transaction(db):
        db.table("advocates").upsert(row, pk="advocate")
    log.info("advocate.enrolled", agency=event.agency, advocate=event.advocate)


def handle_event(db: sqlite_utils.Database, message: bus.Incoming) -> None:
    """One ADVOCACY event (raises `msgspec.DecodeError` for one outside the contract: poison)."""
    event = decode_any(message.subject, message.data)
    if forged_advocacy(message.subject, event):
        log.error("advocate.forged", subject=message.subject, claimed=event.agency)
        return
    if isinstance(event, AdvocateEnrolled):
        _enrol(db, message, event)
        return
    if isinstance(event, AdvocateForgotten):  # the hub's own (agencies cannot publish it)
        with write_transaction(db):
            erase_advocate(db, event.advocate)
        return
    known = advocate_row(db, getattr(event, "advocate", ""))
    if known is None or known.agency != event.agency:  # another agency's advocate is not its to change
        log.warning("advocate.not_of_agency", agency=event.agency, subject=message.subject)
        return
    match event:
        case AdvocateOptedOut():
            with write_transaction(db):
                db.execute(
                    "update advocates set opted_out_at = ? where advocate = ?", [utc_now(), event.advocate]
                )
                drop_accounts(db, event.advocate)
            log.info("advocate.opted_out", agency=event.agency, advocate=event.advocate)
        case AdvocateDisconnected():
            with write_transaction(db):
                drop_accounts(db, event.advocate, event.network)
            log.info(
                "advocate.disconnected", agency=event.agency, advocate=event.advocate, network=event.network
            )


async def follow(js: JetStreamContext, db: sqlite_utils.Database, stop: asyncio.Event) -> None:
    async def on_event(message: bus.Incoming) -> None:
        handle_event(db, message)

    await bus.consume(js, CONSUMER, on_event, stop)
